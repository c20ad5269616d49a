#pragma once
// A calibration (issue 16, docs/calibration.md): per Sigma rule id, the fields the legacy service wrote into
// that rule's match-context string, learnt from a team's recorded legacy answers by `sigma-shim calibrate`
// and read back by `--match-context calibrated:FIELDS.json`. Pure: text in, text out.
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sigma_analysis {

// One field selection seen for a rule: the keys in the order the legacy strings wrote them, and how many
// recorded matches it explains.
struct FieldSelection {
    std::vector<std::string> fields;
    std::size_t support = 0;
};

// What was learnt for one rule. `chosen` is the selection the calibrated mode writes; `others` the
// conflicting selections also seen (kept for review; never written), most support first.
struct RuleCalibration {
    FieldSelection chosen;
    std::vector<FieldSelection> others;
};

struct Calibration {
    static constexpr int current_version = 1;
    std::map<std::string, RuleCalibration, std::less<>> rules; // by rule id, byte order
    // The rule's calibration, or null when the rule was never seen.
    const RuleCalibration* find(std::string_view rule_id) const;
};

// Reads a FIELDS.json, strictly (docs/calibration.md): unknown keys, field names empty or repeated within a
// list, and missing members are refused. On failure returns false, leaves `out` as it was and sets `error`
// to one sentence naming what is wrong and where (not JSON and at which byte, a version other than
// current_version, a wrong type and its path, e.g. `rules."abc".fields[2] is a number, not a string`).
bool parse_calibration(std::string_view text, Calibration& out, std::string& error);

// The FIELDS.json text for `calibration`: the same calibration always gives the same bytes (rules in byte
// order, two-space indentation, a final newline), so that a change reviews as a small diff.
std::string write_calibration(const Calibration& calibration);

} // namespace sigma_analysis
