#pragma once
// A legacy match-context string, "$Key: 'value', $Other: 'value'", read back into its pairs. Values were
// written verbatim (contract 3.3), so a value may itself hold "', $"; a pair boundary is only taken where
// what follows reads as "$Identifier: '".
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shim::compare {

using ContextPairs = std::vector<std::pair<std::string, std::string>>;

// Empty string: no pairs. Text that is not in this shape: nullopt.
std::optional<ContextPairs> parse_match_context(std::string_view text);

// Every pair of `small` is also in `large` (same key, same value).
bool is_subset(const ContextPairs& small, const ContextPairs& large);

} // namespace shim::compare
