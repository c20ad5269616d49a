#pragma once
// What a recorded legacy answer was an answer to: the legacy route (origin-form target) and the file's
// SHA-256. Used to pair recordings with reconstructions and to reconstruct them again.
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace shim::compare {

struct LegacyShape {
    std::string target; // e.g. "/api/v3/files/{id}/sigma_analysis" or ".../rules?limit=2"; origin-form
    std::string sha256; // lower-case hex; empty when neither the body nor the file name gives one
};

// From the body: the top-level links.self when it names a legacy route (its path and query, whatever the
// host), else data.links.self (the object route), else, for bodies without links (errors), the object route
// of the SHA-256, MD5 or SHA-1 found in `file_name`. The SHA-256 comes from data.id, else from the id in the
// route (the rules routes' data is a list of rules), else from the file name.
std::optional<LegacyShape> legacy_shape(const boost::json::value& body, std::string_view file_name);

// The status a recorded answer came with: recordings hold only the body, and a VirusTotal error body says it
// (the status VirusTotal uses for its error.code); any other body is 200.
unsigned recorded_status(const boost::json::value& body);

// Which legacy route an origin-form target names, by the names `convert --form` uses: "object",
// "relationship", "descriptor", "rules" or "rules-descriptors"; empty when it names none.
std::string_view legacy_route_kind(std::string_view target);

} // namespace shim::compare
