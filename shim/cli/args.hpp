#pragma once
// Command-line options: `--name value`, `--name=value` and flags, checked against a list of known options.
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shim::cli {

struct OptionSpec {
    std::string_view name; // without the leading "--"
    bool takes_value;
};

struct ParsedArgs {
    std::map<std::string, std::vector<std::string>, std::less<>> values; // flags map to one empty string
    bool help = false;
    std::string error; // the first problem, as one sentence; empty when the arguments are well formed

    bool has(std::string_view name) const { return values.find(name) != values.end(); }
    // The last value given for `name`, or `fallback`.
    std::string get(std::string_view name, std::string_view fallback = {}) const;
};

// With `rest`, the words that are not known options (and any word after one, which may be its value) are
// appended to it in order instead of being an error: for commands that hand them on (to the serve options).
ParsedArgs parse_args(std::span<const std::string> args, std::span<const OptionSpec> spec,
                      std::vector<std::string>* rest = nullptr);

} // namespace shim::cli
