#pragma once
// Reading one JSON document from bytes, with a precise place when it is not JSON; reading and writing the
// commands' files.
#include "sigma_analysis/pruned_parse.hpp"

#include <boost/json/value.hpp>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace shim::cli {

struct JsonDocument {
    boost::json::value value;
    std::string error; // "not JSON at byte 120 (line 3, column 9): incomplete JSON"; empty when parsed
};

JsonDocument parse_json_document(std::string_view bytes);
// The same with only what `keep` names built (sigma_analysis/pruned_parse.hpp); the errors read the same.
JsonDocument parse_json_document(std::string_view bytes, const sigma_analysis::KeepTree& keep);

// Reads a whole file, or standard input for "-". Returns false and sets `error` when it cannot be read.
bool read_input(const std::string& path, std::string& bytes, std::string& error);

// Writes `bytes` to the file at `path`, replacing it. Returns false when it cannot be written whole.
bool write_file(const std::string& path, std::string_view bytes);

// Reads the bytes of a named input ("-" is standard input). Returns false and sets `error` on failure.
using InputReader = std::function<bool(const std::string& path, std::string& bytes, std::string& error)>;

// Reads `path` with `read` (read_input when null) and parses it, whole or, given `keep`, pruned. On failure
// writes one line, "sigma-shim COMMAND: PATH: why", to `err` and returns nothing. A pruned parse of a regular
// file read by read_input takes it in chunks, so the input is never held whole, only the pruned value.
std::optional<boost::json::value> load_json_input(const std::string& path, const InputReader& read,
                                                  std::string_view command, std::ostream& err,
                                                  const sigma_analysis::KeepTree* keep = nullptr);

} // namespace shim::cli
