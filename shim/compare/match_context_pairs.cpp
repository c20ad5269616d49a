#include "compare/match_context_pairs.hpp"

#include <algorithm>
#include <cstddef>

namespace shim::compare {

namespace {

// Lenient on '.' and '-': field names from some log sources carry them, and rejecting them would turn a
// readable context into an unpaired one.
bool is_key_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

// How many key characters start `text`.
std::size_t key_length(std::string_view text) {
    std::size_t n = 0;
    while (n < text.size() && is_key_char(text[n]))
        ++n;
    return n;
}

// `text` starts with "$Key: '"; returns the length of that opening, or 0.
std::size_t pair_opening(std::string_view text) {
    if (text.empty() || text.front() != '$') return 0;
    const std::size_t key = key_length(text.substr(1));
    if (key == 0) return 0;
    constexpr std::string_view colon = ": '";
    if (text.substr(1 + key, colon.size()) != colon) return 0;
    return 1 + key + colon.size();
}

} // namespace

std::optional<ContextPairs> parse_match_context(std::string_view text) {
    ContextPairs pairs;
    constexpr std::string_view separator = ", ";
    std::size_t at = 0;
    while (at < text.size()) {
        const std::size_t opening = pair_opening(text.substr(at));
        if (opening == 0) return std::nullopt;
        const std::size_t key_begin = at + 1;
        const std::size_t key_end = at + opening - 3; // before ": '"
        const std::size_t value_begin = at + opening;
        // The value ends at the first quote that closes the text or is followed by the next pair's opening;
        // any other quote is part of the value.
        std::size_t close = value_begin;
        for (;; ++close) {
            close = text.find('\'', close);
            if (close == std::string_view::npos) return std::nullopt;
            if (close + 1 == text.size()) break;
            const std::string_view rest = text.substr(close + 1);
            if (rest.starts_with(separator) && pair_opening(rest.substr(separator.size())) != 0) break;
        }
        pairs.emplace_back(std::string(text.substr(key_begin, key_end - key_begin)),
                           std::string(text.substr(value_begin, close - value_begin)));
        at = close + 1;
        if (at < text.size()) at += separator.size();
    }
    return pairs;
}

bool is_subset(const ContextPairs& small, const ContextPairs& large) {
    return std::all_of(small.begin(), small.end(), [&](const auto& pair) {
        return std::find(large.begin(), large.end(), pair) != large.end();
    });
}

} // namespace shim::compare
