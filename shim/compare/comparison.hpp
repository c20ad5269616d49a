#pragma once
// The comparison engine: a recorded legacy answer against a reconstructed one, classified exact, compatible
// or different, with a finding per difference. Pure: JSON values in, a value out; used by `sigma-shim
// compare` and by the server's shadow and compare modes alike.
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shim::compare {

// One side of a comparison: an HTTP status and the parsed body (a JSON string holding the raw text when the
// body was not JSON).
struct Answer {
    unsigned status = 200;
    boost::json::value body;
};

// Worst last, so the class of a comparison is the maximum of its findings' classes.
enum class Verdict { exact, compatible, different };

std::string_view verdict_name(Verdict v);

// A path into a body: object keys and array indices (written in decimal), outermost first. Its text form
// joins the elements with '.', e.g. "data.attributes.rule_matches.3.match_context"; the status line is
// the single element "@status".
using Path = std::vector<std::string>;

std::string path_text(const Path& path);

struct Finding {
    Path path;
    // "status", "value", "type", "missing", "added", "extra", "date", "match_context_subset",
    // "match_missing", "match_added", "error_message": see docs/compare-report.md "Finding kinds".
    std::string kind;
    Verdict verdict = Verdict::different; // compatible or different, never exact
    boost::json::value legacy;            // null when absent on that side
    boost::json::value reconstructed;
};

struct Comparison {
    Verdict verdict = Verdict::exact;
    std::vector<Finding> findings;
    bool truncated = false; // more than CompareOptions::max_findings differences; the rest were not listed
};

struct CompareOptions {
    std::int64_t date_tolerance_seconds = 0;
    std::vector<std::string> ignore; // path globs: '*' one element, '**' any number of elements
    std::size_t max_findings = 1000;
};

Comparison compare(const Answer& legacy, const Answer& reconstructed, const CompareOptions& options);

// A finding's path with array indices replaced by '*', for counting which fields differ most.
std::string normalized_path(const Path& path);

} // namespace shim::compare
