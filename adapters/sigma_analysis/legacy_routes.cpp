#include "sigma_analysis/legacy_routes.hpp"

#include <array>

namespace sigma_analysis {

namespace {

constexpr std::array<LegacyRoute, 6> routes = {{
    {"GET", "/api/v3/sigma_analyses/{id}", Form::object, false, "the sigma_analysis object"},
    {"GET", "/api/v3/files/{id}/sigma_analysis", Form::relationship, false,
     "the file's sigma_analysis relationship: the object with links and meta"},
    {"GET", "/api/v3/files/{id}/relationships/sigma_analysis", Form::descriptor, false,
     "the relationship's descriptor"},
    {"GET", "/api/v3/files/{id}?relationships=sigma_analysis", Form::embedded, false,
     "the File object with relationships.sigma_analysis added (other relationships in the list kept)"},
    {"GET", "/api/v3/sigma_analyses/{id}/rules", Form::rules, true,
     "the matched sigma_rule objects with context_attributes.match; limit and cursor"},
    {"GET", "/api/v3/sigma_analyses/{id}/relationships/rules", Form::rules_descriptors, true,
     "the matched rules as descriptors; limit and cursor"},
}};

} // namespace

std::span<const LegacyRoute> legacy_routes() {
    return routes;
}

} // namespace sigma_analysis
