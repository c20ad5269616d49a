#pragma once
// Masks the values of fields an operator listed (--redact) in stored comparison results, after comparing.
#include "compare/comparison.hpp"
#include "compare/path_glob.hpp"

namespace shim::compare {

inline constexpr std::string_view redacted_text = "[REDACTED]";

// Replaces every value in `body` whose path matches a glob with the string "[REDACTED]".
void redact(boost::json::value& body, const std::vector<PathGlob>& globs);

// The same for the values carried by findings whose path matches.
void redact(std::vector<Finding>& findings, const std::vector<PathGlob>& globs);

} // namespace shim::compare
