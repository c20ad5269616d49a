#pragma once
// The legacy match-context string (contract 3.3): `$K: 'V'` for the chosen keys in byte order, joined by ",
// ".
#include <boost/json/object.hpp>
#include <string>
#include <vector>

namespace sigma_analysis {

enum class ContextMode { all, rule_fields };

// Appends the string for one context's `values`. `only` (sorted, byte order) limits the keys written; null
// writes every key. Strings go in verbatim; other values as their compact JSON text.
// `scratch` is working space the caller keeps across calls, to spare an allocation per context.
void append_match_context(std::string& out, const boost::json::object& values,
                          const std::vector<std::string>* only,
                          std::vector<const boost::json::key_value_pair*>& scratch);

} // namespace sigma_analysis
