#pragma once
// The deprecated routes, one row each. The router matches requests against this table, `sigma-shim routes`
// and `serve --help` print it, and the golden, e2e and README tests read it, so that none of them can drift
// apart.
#include "sigma_analysis/render.hpp"

#include <span>
#include <string_view>

namespace sigma_analysis {

struct LegacyRoute {
    std::string_view method;
    // "/api/v3/files/{id}/sigma_analysis": literal segments and one {id} segment (any file id). A trailing
    // "?name=item" is a condition on the query: the comma-separated list in parameter `name` names `item`.
    std::string_view path;
    Form form;
    bool paged; // a list route: takes `limit` and `cursor`
    std::string_view description;
};

// In the order of contract section 1.
std::span<const LegacyRoute> legacy_routes();

} // namespace sigma_analysis
