#pragma once
// Today's events per rule: the `values` maps of the match contexts of `attributes.sigma_analysis_results` in
// the File object and in each File behaviour object, grouped by `rule_id`. These are the candidates a legacy
// match-context string of that rule is explained by.
#include "calibrate/explain.hpp"

#include <boost/json/object.hpp>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace shim::calibrate {

// Per rule id, its distinct events (two contexts whose keys and written texts are equal are one event, as
// contract 3.1 merges them), first appearance first. Entries, contexts and values of the wrong type are left
// out: they cannot explain anything.
using EventsByRule = std::map<std::string, std::vector<EventText>, std::less<>>;

// `file` may be null (no File object); behaviours are bare File behaviour objects, in upstream order.
EventsByRule events_by_rule(const boost::json::object* file,
                            std::span<const boost::json::object* const> behaviours);

} // namespace shim::calibrate
