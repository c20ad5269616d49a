#pragma once
// What a calibration run found, for the person who reviews the FIELDS.json it wrote: per rule the chosen
// fields, the rules where recordings disagree, and every match or recording nothing was learnt from. Two
// forms: text (one line per finding) and JSON. Pure: values in, bytes out.
//
// The JSON form, schema "sigma-shim/calibrate-report/1", members in this order:
//   schema       "sigma-shim/calibrate-report/1"
//   summary      {recordings: added, read: recordings whose matches were read, matches: legacy matches read,
//                 explained, unexplained, empty (counts of those matches), unreadable: entries in the list
//                 below, rules: rules learnt, conflicts: rules with more than one selection}
//   rules        [{rule_id, fields: [the chosen list, in legacy order], support: matches it explains,
//                  explained: the rule's explained matches, ambiguous: how many of those several selections
//                  explained}] by rule id, byte order
//   conflicts    [{rule_id, reason: "more_support" | "more_fields" | "byte_order" (why the first selection
//   won
//                  over the second), selections: [{fields, support}, ...] chosen first, then most support}]
//                 by rule id
//   unexplained  [{recording, rule_id, legacy: the string shortened to at most 120 bytes (cut at a UTF-8
//                  character boundary, "..." added), legacy_bytes: its whole length, events: today's distinct
//                  events of that rule, gave_up: the search stopped at a limit}] in the order added
//   empty        [{recording, rule_id}] legacy matches whose string is "", in the order added
//   unreadable   [{recording, reason}] recordings, or single matches in them, that could not be read, in the
//                 order added
#include "sigma_analysis/calibration.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace shim::calibrate {

struct LearntRule {
    std::string rule_id = {};
    sigma_analysis::FieldSelection chosen = {};
    std::size_t explained = 0; // the support of all its selections together
    std::size_t ambiguous = 0;
};

// Why the chosen selection won over the runner-up (Learner's header gives the order).
enum class WinReason { more_support, more_fields, byte_order };
std::string_view win_reason_name(WinReason reason); // "more_support", "more_fields", "byte_order"

struct Conflict {
    std::string rule_id = {};
    std::vector<sigma_analysis::FieldSelection> selections = {}; // the chosen one first, then the others
    WinReason reason = WinReason::more_support;
};

struct Unexplained {
    std::string recording = {};
    std::string rule_id = {};
    std::string legacy = {}; // shortened (see above)
    std::size_t legacy_bytes = 0;
    std::size_t events = 0;
    bool gave_up = false;
};

struct EmptyContext {
    std::string recording = {};
    std::string rule_id = {};
};

struct Unreadable {
    std::string recording = {};
    std::string reason = {}; // one sentence
};

struct Report {
    std::size_t recordings = 0;
    std::size_t read = 0;
    std::size_t matches = 0;
    std::size_t explained = 0;
    std::vector<LearntRule> rules = {};
    std::vector<Conflict> conflicts = {};
    std::vector<Unexplained> unexplained = {};
    std::vector<EmptyContext> empty = {};
    std::vector<Unreadable> unreadable = {};
};

// At most `limit` bytes: longer text is cut at a UTF-8 character boundary and "..." ends it.
std::string shorten(std::string_view text, std::size_t limit = 120);

// A summary line, then one line per finding: "rule ID: FIELDS (N matches)", "conflict: ...",
// "unexplained: ...", "empty: ...", "unreadable: ...". Strings are shown as recorded, control characters as
// '?'.
std::string report_text(const Report& report);

// The JSON form described above, compact, with a final newline.
std::string report_json(const Report& report);

} // namespace shim::calibrate
