#pragma once
// `sigma-shim routes`: the legacy routes the shim answers, from the one table the router matches against, for
// people and for scripts (the e2e tests read `--json` instead of keeping a list of their own).
#include "cli/convert_command.hpp"

#include <span>
#include <string>

namespace shim::cli {

// `args` are the words after "routes". Exit 0, or 2 on a usage error (the usage text on standard error).
int run_routes(std::span<const std::string> args, const CommandIo& io);

// One line per route: method, path template, form and description, in columns.
std::string routes_text();
// A JSON array of {"method", "path", "form", "paged", "description"}, one element per route.
std::string routes_json();

extern const char* const routes_usage;

} // namespace shim::cli
