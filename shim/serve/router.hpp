#pragma once
// Which handler a request goes to. Pure: a method and a request target in, a Route out.
#include "sigma_analysis/render.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace shim::serve {

enum class RouteClass {
    legacy,      // a deprecated Sigma route, rebuilt from upstream objects
    passthrough, // any other /api/v3/ request, relayed to the upstream unchanged
    shim,        // the shim's own endpoints under /_shim/
    invalid,     // answered 400 locally, never forwarded
};

std::string_view route_class_name(RouteClass c);

struct Route {
    RouteClass route_class = RouteClass::invalid;
    sigma_analysis::Form form = sigma_analysis::Form::object; // legacy
    std::string id;          // legacy: the file id as sent (validated by the handler, so it can say why)
    std::string file_target; // legacy: the upstream File request (embedded: other relationships kept)
    std::optional<sigma_analysis::Page> page; // legacy list routes
    // legacy embedded: what is added under relationships.sigma_analysis (a count with relationship_counters)
    sigma_analysis::Embedded embedded = sigma_analysis::Embedded::descriptor;
    std::string shim_endpoint; // shim: "livez", "readyz", "metrics", ...
    std::string shim_query;    // shim: the raw query
    std::string error;         // invalid: why (also legacy: a bad limit or cursor)
};

// VirusTotal's collections answer 10 items unless asked, and at most 40.
inline constexpr std::size_t default_page_limit = 10;
inline constexpr std::size_t max_page_limit = 40;

Route route_request(std::string_view method, std::string_view target);

} // namespace shim::serve
