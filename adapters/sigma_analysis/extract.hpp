#pragma once
// Extraction (contract 3): from a File object and its File behaviour objects to an Analysis.
#include "sigma_analysis/analysis.hpp"
#include "sigma_analysis/calibration.hpp"
#include "sigma_analysis/match_context.hpp"
#include "sigma_analysis/rule_fields.hpp"

#include <boost/json/object.hpp>
#include <span>

namespace sigma_analysis {

struct ExtractInput {
    const boost::json::object& file;                        // the File object, without envelope
    std::span<const boost::json::object* const> behaviours; // File behaviour objects in upstream order
    const RuleCatalog* rules = nullptr;                     // needed by ContextMode::rule_fields
    ContextMode mode = ContextMode::all;
    // ContextMode::calibrated: the fields per rule (null: none known). Borrowed by the Analysis.
    const Calibration* calibration = nullptr;
    // ContextMode::calibrated: the mode for the rules the calibration does not know, rule_fields (itself
    // falling back to all per rule without a rule object) or all; any other value is read as all.
    ContextMode fallback = ContextMode::rule_fields;
};

Analysis extract(const ExtractInput& input);

// The rule ids of the results in the File object and the behaviours, first appearance first: the sigma_rule
// objects the rules form and the rule-fields mode need.
std::vector<std::string_view> distinct_rule_ids(const boost::json::object& file,
                                                std::span<const boost::json::object* const> behaviours);

} // namespace sigma_analysis
