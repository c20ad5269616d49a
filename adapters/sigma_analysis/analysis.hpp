#pragma once
// The reconstructed Sigma analysis of one file: what the legacy `sigma_analysis` OBJECT says (contract 2).
// Strings are views into the upstream documents, and a calibrated match's fields into the calibration: both
// must outlive the Analysis.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::json {
class object;
}

namespace sigma_analysis {

enum class Level { low, medium, high, critical, unknown };

Level parse_level(std::string_view text);

struct Stats {
    std::int64_t critical = 0, high = 0, low = 0, medium = 0;
    void count(Level level);
};

struct Match {
    std::string_view rule_id, rule_title, rule_description, rule_source, rule_level;
    std::optional<std::string_view> rule_author;
    Level level = Level::unknown;
    // The legacy match_context string (3.3) is written from these when the answer is rendered, not stored:
    // in a large answer it is most of the bytes. `context_values` is the context's `values` object (null: the
    // result had no context, and the string is empty); `context_fields` the keys to write (null: all),
    // sorted, unless `context_fields_listed` says they are a calibration's list, written in its order.
    const boost::json::object* context_values = nullptr;
    std::shared_ptr<const std::vector<std::string>> context_fields;
    bool context_fields_listed = false;
};

// Why an answer is `X-Sigma-Shim-Fidelity: partial`. Empty means full fidelity.
struct Diagnostics {
    std::size_t skipped = 0;        // upstream entries or fields skipped as wrongly typed (3.7)
    bool stats_only = false;        // no results anywhere, stats copied (3.5)
    std::size_t rule_fallbacks = 0; // rule-fields mode fell back to `all` for want of a rule object (3.3)
    std::size_t missing_rule_objects = 0; // rules form: a sigma_rule object could not be had
    bool behaviours_truncated = false;    // more behaviour pages existed than the page cap allowed
    std::size_t uncalibrated_rules = 0;   // calibrated mode: distinct rules the calibration does not know
    // Calibrated mode only, informational (never partial): the matches written from the calibration and
    // those written by the fallback mode. Together they are every match of the analysis.
    std::size_t calibrated_matches = 0;
    std::size_t fallback_matches = 0;
    bool partial() const {
        return skipped || stats_only || rule_fallbacks || missing_rule_objects || behaviours_truncated ||
               uncalibrated_rules;
    }
    // One line for logs naming what partial() counts, e.g. "skipped=2 rule_fallbacks=1": empty exactly when
    // the answer is full.
    std::string summary() const;
};

struct Analysis {
    bool present = false; // the file carries Sigma data (results or stats)
    std::string_view sha256;
    std::vector<Match> matches;
    Stats severity_stats;
    std::map<std::string_view, Stats> source_severity_stats; // byte order of the ruleset names
    std::int64_t analysis_date = 0;
    std::int64_t last_modification_date = 0;
    Diagnostics diagnostics;
};

} // namespace sigma_analysis
