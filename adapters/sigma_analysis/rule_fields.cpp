#include "sigma_analysis/rule_fields.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>

namespace sigma_analysis {
namespace {

namespace json = boost::json;

// Adds the field names found in one detection item. Returns false when the item cannot be read.
bool collect(const json::value& item, std::vector<std::string>& names, int depth) {
    if (depth > 4) return false; // a detail nests a list of maps at most; deeper is not a Sigma detection
    switch (item.kind()) {
    case json::kind::object:
        for (const auto& kv : item.get_object()) {
            const std::string_view key = kv.key();
            names.emplace_back(key.substr(0, key.find('|')));
        }
        return true;
    case json::kind::array:
        for (const auto& sub : item.get_array()) {
            // A list of plain strings is a keyword search: it names no field.
            if (!sub.is_string() && !collect(sub, names, depth + 1)) return false;
        }
        return true;
    case json::kind::string: {
        json::error_code ec;
        const auto parsed = json::parse(item.get_string(), ec);
        if (ec) return false;
        if (parsed.is_string()) return true; // a keyword, no field
        return collect(parsed, names, depth + 1);
    }
    default:
        return false;
    }
}

} // namespace

std::optional<std::vector<std::string>> detection_fields(const json::object& rule) {
    const auto* attributes = rule.if_contains("attributes");
    if (!attributes || !attributes->is_object()) return std::nullopt;
    const auto* detection = attributes->get_object().if_contains("detection");
    if (!detection || !detection->is_object()) return std::nullopt;
    const auto* details = detection->get_object().if_contains("details");
    if (!details || !details->is_object()) return std::nullopt;

    std::vector<std::string> names{"EventID"};
    for (const auto& kv : details->get_object()) {
        if (!collect(kv.value(), names, 0)) return std::nullopt;
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

void RuleCatalog::add(const json::object& rule) {
    if (const auto* id = rule.if_contains("id"); id && id->is_string())
        rules_.emplace(id->get_string(), &rule);
}

const json::object* RuleCatalog::find(std::string_view rule_id) const {
    const auto it = rules_.find(rule_id);
    return it == rules_.end() ? nullptr : it->second;
}

} // namespace sigma_analysis
