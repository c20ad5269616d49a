#pragma once
// The legacy match-context string (contract 3.3): `$K: 'V'` for the chosen keys joined by ", ": in byte
// order, or in a calibration's listed order.
#include <boost/json/object.hpp>
#include <string>
#include <vector>

namespace sigma_analysis {

// Which keys of a context's `values` are written (contract 3.3). `calibrated` writes, for a rule the
// calibration knows, the fields it lists in their order; other rules get the fallback mode (ExtractInput).
enum class ContextMode { all, rule_fields, calibrated };

// How `only` is read by append_match_context.
enum class FieldOrder {
    byte,   // `only` is sorted (byte order) and filters the keys, written in byte order
    listed, // `only` is written in its own order, each key where `values` has it (calibrated mode)
};

// Appends the string for one context's `values`. `only` limits the keys written; null writes every key, in
// byte order. Strings go in verbatim; other values as their compact JSON text.
// `scratch` is working space the caller keeps across calls, to spare an allocation per context.
void append_match_context(std::string& out, const boost::json::object& values,
                          const std::vector<std::string>* only,
                          std::vector<const boost::json::key_value_pair*>& scratch,
                          FieldOrder order = FieldOrder::byte);

} // namespace sigma_analysis
