#include "cli/args.hpp"

#include <algorithm>

namespace shim::cli {

std::string ParsedArgs::get(std::string_view name, std::string_view fallback) const {
    const auto it = values.find(name);
    return it == values.end() ? std::string(fallback) : it->second.back();
}

ParsedArgs parse_args(std::span<const std::string> args, std::span<const OptionSpec> spec,
                      std::vector<std::string>* rest) {
    ParsedArgs parsed;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        if (arg == "-h" || arg == "--help") {
            parsed.help = true;
            continue;
        }
        if (rest && !arg.starts_with("--")) {
            rest->emplace_back(arg);
            continue;
        }
        if (!arg.starts_with("--")) {
            parsed.error = "unexpected argument '" + std::string(arg) + "'";
            return parsed;
        }
        const auto eq = arg.find('=');
        const std::string_view name = arg.substr(2, eq == std::string_view::npos ? arg.npos : eq - 2);
        const auto known =
            std::find_if(spec.begin(), spec.end(), [&](const auto& o) { return o.name == name; });
        if (known == spec.end() && rest) {
            rest->emplace_back(arg);
            continue;
        }
        if (known == spec.end()) {
            parsed.error = "unknown option '--" + std::string(name) + "'";
            return parsed;
        }
        std::string value;
        if (eq != std::string_view::npos) {
            if (!known->takes_value) {
                parsed.error = "option '--" + std::string(name) + "' takes no value";
                return parsed;
            }
            value = arg.substr(eq + 1);
        } else if (known->takes_value) {
            if (i + 1 >= args.size()) {
                parsed.error = "option '--" + std::string(name) + "' needs a value";
                return parsed;
            }
            value = args[++i];
        }
        parsed.values[std::string(name)].push_back(std::move(value));
    }
    return parsed;
}

} // namespace shim::cli
