#include "compare/path_glob.hpp"

#include <algorithm>
#include <cstddef>

namespace shim::compare {

PathGlob::PathGlob(std::string_view pattern) : text_(pattern) {
    std::size_t begin = 0;
    for (;;) {
        const std::size_t dot = pattern.find('.', begin);
        elements_.emplace_back(pattern.substr(begin, dot - begin));
        if (dot == std::string_view::npos) break;
        begin = dot + 1;
    }
}

bool PathGlob::matches(const Path& path) const {
    // Wildcard matching with one backtracking point: on a mismatch, the latest '**' takes one more element
    // and matching resumes after it. Earlier '**' never need to take more, so this is linear per retry.
    constexpr std::size_t none = static_cast<std::size_t>(-1);
    std::size_t p = 0;
    std::size_t e = 0;
    std::size_t star = none;
    std::size_t star_from = 0;
    while (e < path.size()) {
        if (p < elements_.size() && elements_[p] == "**") {
            star = p++;
            star_from = e;
        } else if (p < elements_.size() && (elements_[p] == "*" || elements_[p] == path[e])) {
            ++p;
            ++e;
        } else if (star != none) {
            p = star + 1;
            e = ++star_from;
        } else {
            return false;
        }
    }
    while (p < elements_.size() && elements_[p] == "**")
        ++p;
    return p == elements_.size();
}

bool any_matches(const std::vector<PathGlob>& globs, const Path& path) {
    return std::any_of(globs.begin(), globs.end(), [&](const PathGlob& g) { return g.matches(path); });
}

} // namespace shim::compare
