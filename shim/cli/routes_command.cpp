#include "cli/routes_command.hpp"

#include "cli/args.hpp"
#include "sigma_analysis/json_writer.hpp"
#include "sigma_analysis/legacy_routes.hpp"

#include <algorithm>
#include <array>

namespace shim::cli {

namespace sa = sigma_analysis;

const char* const routes_usage = R"(usage: sigma-shim routes [--json]

Lists the deprecated VirusTotal routes that `sigma-shim serve` rebuilds, one per line: method, path ({id} is an
MD5, SHA-1 or SHA-256), the answer's form (as `convert --form` names it) and what it answers. A path ending in
"?relationships=sigma_analysis" matches any relationships list that names sigma_analysis.

options:
  --json      a JSON array of {"method", "path", "form", "paged", "description"} instead; "paged" routes take
              limit and cursor
  -h, --help  this text
)";

std::string routes_text() {
    std::size_t path_width = 0, form_width = 0;
    for (const auto& r : sa::legacy_routes()) {
        path_width = std::max(path_width, r.path.size());
        form_width = std::max(form_width, sa::form_name(r.form).size());
    }
    std::string out;
    for (const auto& r : sa::legacy_routes()) {
        const auto form = sa::form_name(r.form);
        out.append(r.method).append(" ").append(r.path).append(path_width - r.path.size() + 2, ' ');
        out.append(form).append(form_width - form.size() + 2, ' ').append(r.description).append("\n");
    }
    return out;
}

std::string routes_json() {
    namespace out_json = sa::json_out;
    std::string out = "[";
    for (const auto& r : sa::legacy_routes()) {
        if (out.size() > 1) out += ',';
        out += '{';
        out_json::append_key(out, "method");
        out_json::append_string(out, r.method);
        out += ',';
        out_json::append_key(out, "path");
        out_json::append_string(out, r.path);
        out += ',';
        out_json::append_key(out, "form");
        out_json::append_string(out, sa::form_name(r.form));
        out += ',';
        out_json::append_key(out, "paged");
        out += r.paged ? "true" : "false";
        out += ',';
        out_json::append_key(out, "description");
        out_json::append_string(out, r.description);
        out += '}';
    }
    return out + "]\n";
}

int run_routes(std::span<const std::string> args, const CommandIo& io) {
    static constexpr std::array<OptionSpec, 1> spec = {{{"json", false}}};
    const auto parsed = parse_args(args, spec);
    if (!parsed.error.empty()) {
        io.err << "sigma-shim routes: " << parsed.error << "\n\n" << routes_usage;
        return ConvertExit::usage;
    }
    if (parsed.help) {
        io.out << routes_usage;
        return ConvertExit::done;
    }
    io.out << (parsed.has("json") ? routes_json() : routes_text());
    return ConvertExit::done;
}

} // namespace shim::cli
