#pragma once
// The value of `--match-context` (serve, convert, compare --upstream): `all`, `rule-fields`, or
// `calibrated:FIELDS.json`, whose file is read and checked when the option is (a bad file stops start-up),
// and `--match-context-fallback`, the mode for rules the calibration does not hold.
#include "sigma_analysis/calibration.hpp"
#include "sigma_analysis/match_context.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace shim::util {

struct MatchContextChoice {
    sigma_analysis::ContextMode mode = sigma_analysis::ContextMode::all;
    std::shared_ptr<const sigma_analysis::Calibration> calibration; // set exactly when mode is calibrated
};

// Returns "" or why the value cannot be used, as one sentence (for a calibration file: the file and what is
// wrong in it).
std::string parse_match_context(std::string_view value, MatchContextChoice& out);

// `rule-fields` or `all`; returns "" or why not.
std::string parse_match_context_fallback(std::string_view value, sigma_analysis::ContextMode& out);

} // namespace shim::util
