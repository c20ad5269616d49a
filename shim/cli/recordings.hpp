#pragma once
// Recorded legacy answers read from a file or a folder (`compare` and `calibrate`): each with its status and
// what it was an answer to.
#include "cli/convert_command.hpp"
#include "compare/comparison.hpp"
#include "compare/legacy_shape.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shim::cli {

struct Recording {
    std::string path;
    std::string name; // the file name
    compare::Answer answer;
    std::optional<compare::LegacyShape> shape;
};

// Reads one answer file, or a folder's *.json files (not recursive) in name order, into `out`; `is_folder`
// says which PATH was. Writes "sigma-shim COMMAND: PATH: why" to io.err and returns false when any cannot be
// read or a folder has none.
bool load_recordings(const std::string& path, std::string_view command, const CommandIo& io,
                     std::vector<Recording>& out, bool& is_folder);

} // namespace shim::cli
