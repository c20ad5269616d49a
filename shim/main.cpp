// sigma-shim: answers VirusTotal's deprecated Sigma routes from File and File behaviour objects.
#include "app/calibrate_source.hpp"
#include "app/compare_reconstructor.hpp"
#include "app/serve_command.hpp"
#include "cli/calibrate_command.hpp"
#include "cli/compare_command.hpp"
#include "cli/convert_command.hpp"
#include "cli/routes_command.hpp"
#include "cli/token_command.hpp"

#include <iostream>
#include <string>
#include <vector>

namespace {

const char* const usage = R"(usage: sigma-shim COMMAND [options]

sigma-shim rebuilds VirusTotal's deprecated sigma_analysis answers from File and File behaviour objects.

commands:
  serve       run the proxy: legacy Sigma routes rebuilt, everything else passed through (serve --help)
  convert     rebuild a legacy answer from File and behaviour JSON files (sigma-shim convert --help)
  compare     compare recorded legacy answers with reconstructions: exact, compatible or different,
              as text, JSON or HTML (sigma-shim compare --help)
  calibrate   learn each rule's match-context fields from recorded legacy answers, for
              --match-context calibrated:FIELDS.json (sigma-shim calibrate --help)
  routes      list the legacy routes serve answers, one per line, or as JSON with --json
  token       token new NAME: a client token for serve --client-tokens (sigma-shim token --help)

options:
  -h, --help  this text
  --version   the version
)";

} // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        std::cerr << usage;
        return 2;
    }
    const std::string& command = args.front();
    if (command == "-h" || command == "--help" || command == "help") {
        std::cout << usage;
        return 0;
    }
    if (command == "--version") {
        std::cout << "sigma-shim " SIGMA_SHIM_VERSION "\n";
        return 0;
    }
    const std::span<const std::string> rest(args.begin() + 1, args.end());
    if (command == "convert") return shim::cli::run_convert(rest, {std::cout, std::cerr, nullptr});
    if (command == "serve") return shim::app::run_serve(rest);
    if (command == "routes") return shim::cli::run_routes(rest, {std::cout, std::cerr, nullptr});
    if (command == "token") return shim::cli::run_token(rest, std::cout, std::cerr);
    if (command == "compare")
        return shim::cli::run_compare(rest, {std::cout, std::cerr, nullptr},
                                      shim::app::make_compare_reconstructor);
    if (command == "calibrate")
        return shim::cli::run_calibrate(rest, {std::cout, std::cerr, nullptr},
                                        shim::app::make_calibrate_source);
    std::cerr << "sigma-shim: unknown command '" << command << "'\n\n" << usage;
    return 2;
}
