#pragma once
// The matches a recorded legacy answer carries: each rule id with its match-context string. Of the legacy
// forms (contract section 1) those that carry matches are read:
//   object, relationship    data.attributes.rule_matches[]: `rule_id` and `match_context`
//   rules, rules-descriptors data[]: sigma_rule items, the item's `id` and `context_attributes.match`
// A descriptor, an embedded or counter File answer and an error body are legacy answers too, but carry no
// match context: they are reported as not readable for calibration, with what they are.
#include <boost/json/value.hpp>
#include <string>
#include <vector>

namespace shim::calibrate {

struct LegacyMatch {
    std::string rule_id = {};
    std::string context = {}; // the match-context string as recorded
};

struct LegacyMatches {
    std::vector<LegacyMatch> matches = {}; // in answer order
    // Items of an otherwise readable answer that could not be read, each one sentence naming where
    // ("data.attributes.rule_matches[2] has no string rule_id"); the other items are still read.
    std::vector<std::string> problems = {};
    // Not empty when the answer is not one of the forms that carry matches: one sentence saying what it is.
    std::string error = {};
};

LegacyMatches read_legacy_matches(const boost::json::value& answer);

} // namespace shim::calibrate
