// The request-target parser and router: a method and a request target in, a Route out.
//
// Input: "METHOD TARGET", split at the first space; without a space the whole input is a GET's target.
//
// Invariants: nothing crashes; the class is one of the four; an invalid route says why; only /api/v3/ and
// /_shim/ paths are served; a legacy route's id holds no '/' (it may be empty or malformed: the handler
// answers those 400), its upstream File request is the file id's, and that request is itself a valid target
// that routes as plain pass-through or, for ?relationship_counters=true, as that same File request again (it
// never leads into another legacy route).
#include "fuzz_support.hpp"
#include "serve/router.hpp"
#include "sigma_analysis/file_id.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

using shim::serve::RouteClass;

namespace {

// The path of `target` is `prefix` or below it.
bool under(std::string_view target, std::string_view prefix) {
    if (!target.starts_with(prefix)) return false;
    const auto rest = target.substr(prefix.size());
    return rest.empty() || rest.front() == '/' || rest.front() == '?';
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto space = input.find(' ');
    const std::string_view method = space == std::string_view::npos ? "GET" : input.substr(0, space);
    const std::string_view target = space == std::string_view::npos ? input : input.substr(space + 1);

    const auto r = shim::serve::route_request(method, target);
    const std::string what = std::string(method) + " " + std::string(target);

    switch (r.route_class) {
    case RouteClass::legacy:
    case RouteClass::passthrough:
    case RouteClass::shim:
    case RouteClass::invalid:
        break;
    default:
        fuzz::fail("route class out of range", what);
    }
    FUZZ_CHECK(shim::serve::route_class_name(r.route_class) != "", what);

    if (r.route_class == RouteClass::invalid) {
        FUZZ_CHECK(!r.error.empty(), what);
        return 0;
    }
    FUZZ_CHECK(method != "CONNECT", what);
    if (r.route_class == RouteClass::shim) {
        FUZZ_CHECK(under(target, "/_shim"), what);
        return 0;
    }
    FUZZ_CHECK(under(target, "/api/v3"), what);
    if (r.route_class == RouteClass::passthrough) return 0;

    // Legacy.
    FUZZ_CHECK(method == "GET", what);
    // An empty or malformed id still routes as legacy: the handler answers it 400 and never sends it upstream
    // (router_test "an empty id"). Only a file id goes upstream, in file_target.
    FUZZ_CHECK(r.id.find('/') == std::string::npos, what);
    FUZZ_CHECK(!sigma_analysis::is_file_id(r.id) ||
                   r.file_target == "/api/v3/files/" + sigma_analysis::to_lower_ascii(r.id) ||
                   r.file_target.starts_with("/api/v3/files/" + sigma_analysis::to_lower_ascii(r.id) + "?"),
               what + "\nfile_target: " + r.file_target);
    FUZZ_CHECK(r.file_target.starts_with("/api/v3/files/"), what);
    const bool list =
        r.form == sigma_analysis::Form::rules || r.form == sigma_analysis::Form::rules_descriptors;
    FUZZ_CHECK(list == r.page.has_value(), what);
    if (r.page && r.error.empty()) {
        FUZZ_CHECK(r.page->limit >= 1 && r.page->limit <= shim::serve::max_page_limit, what);
    }
    // Routed again, the File request is plain pass-through, or, for ?relationship_counters=true (which
    // VirusTotal must see as sent), the counters route once more with the same File request: a fixed point,
    // never a different legacy route.
    const auto upstream = shim::serve::route_request("GET", r.file_target);
    const bool fixed_point = upstream.route_class == RouteClass::legacy &&
                             upstream.embedded == sigma_analysis::Embedded::count &&
                             upstream.file_target == r.file_target;
    FUZZ_CHECK(upstream.route_class == RouteClass::passthrough || fixed_point,
               what + "\nfile_target: " + r.file_target);
    return 0;
}
