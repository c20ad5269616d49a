#include "compare/redact.hpp"

#include <cstddef>
#include <string>

namespace shim::compare {

namespace {

// `value` sits at `path`: masks it whole when the path matches, else whatever matches below it.
void redact_at(boost::json::value& value, Path& path, const std::vector<PathGlob>& globs) {
    if (any_matches(globs, path)) {
        value = redacted_text;
        return;
    }
    if (auto* object = value.if_object()) {
        for (auto& m : *object) {
            path.emplace_back(m.key());
            redact_at(m.value(), path, globs);
            path.pop_back();
        }
    } else if (auto* array = value.if_array()) {
        for (std::size_t i = 0; i < array->size(); ++i) {
            path.push_back(std::to_string(i));
            redact_at((*array)[i], path, globs);
            path.pop_back();
        }
    }
}

// The path or one of its ancestors matches: the finding's value lies inside a masked subtree.
bool inside_match(const Path& path, const std::vector<PathGlob>& globs) {
    Path prefix;
    prefix.reserve(path.size());
    if (any_matches(globs, prefix)) return true;
    for (const auto& element : path) {
        prefix.push_back(element);
        if (any_matches(globs, prefix)) return true;
    }
    return false;
}

} // namespace

void redact(boost::json::value& body, const std::vector<PathGlob>& globs) {
    Path path;
    redact_at(body, path, globs);
}

void redact(std::vector<Finding>& findings, const std::vector<PathGlob>& globs) {
    if (globs.empty()) return;
    for (auto& finding : findings) {
        const bool whole = inside_match(finding.path, globs);
        for (auto* value : {&finding.legacy, &finding.reconstructed}) {
            if (value->is_null()) continue; // absent on that side: nothing to hide, and null says so
            if (whole) {
                *value = redacted_text;
            } else {
                Path path = finding.path;
                redact_at(*value, path, globs);
            }
        }
    }
}

} // namespace shim::compare
