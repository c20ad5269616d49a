#pragma once
// Path globs in the style of vt-cli's field filters: elements separated by '.', '*' matches one element,
// '**' matches any number of elements (none included); any other element matches itself exactly.
#include "compare/comparison.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace shim::compare {

class PathGlob {
public:
    explicit PathGlob(std::string_view pattern);
    bool matches(const Path& path) const;
    const std::string& pattern() const { return text_; }

private:
    std::string text_;
    std::vector<std::string> elements_;
};

bool any_matches(const std::vector<PathGlob>& globs, const Path& path);

} // namespace shim::compare
