#pragma once
// Extraction (contract 3): from a File object and its File behaviour objects to an Analysis.
#include "sigma_analysis/analysis.hpp"
#include "sigma_analysis/match_context.hpp"
#include "sigma_analysis/rule_fields.hpp"

#include <boost/json/object.hpp>

#include <span>

namespace sigma_analysis {

struct ExtractInput {
    const boost::json::object& file;                     // the File object, without envelope
    std::span<const boost::json::object* const> behaviours; // File behaviour objects in upstream order
    const RuleCatalog* rules = nullptr;                  // needed by ContextMode::rule_fields
    ContextMode mode = ContextMode::all;
};

Analysis extract(const ExtractInput& input);

} // namespace sigma_analysis
