#include "calibrate/legacy_matches.hpp"

#include "sigma_analysis/input.hpp"

#include <boost/json/object.hpp>

namespace shim::calibrate {

namespace {

namespace json = boost::json;

const json::string* string_member(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v ? v->if_string() : nullptr;
}

std::string_view type_of(const json::object& o) {
    const auto* t = string_member(o, "type");
    return t ? std::string_view(*t) : std::string_view();
}

void read_rule_matches(const json::array& items, LegacyMatches& out) {
    for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string where = "data.attributes.rule_matches[" + std::to_string(i) + "]";
        const auto* match = items[i].if_object();
        if (!match) {
            out.problems.push_back(where + " is " + sigma_analysis::describe(items[i]) + ", not a match");
            continue;
        }
        const auto* rule_id = string_member(*match, "rule_id");
        const auto* context = string_member(*match, "match_context");
        if (!rule_id)
            out.problems.push_back(where + " has no string rule_id");
        else if (!context)
            out.problems.push_back(where + " has no string match_context");
        else
            out.matches.push_back({std::string(*rule_id), std::string(*context)});
    }
}

// The rules forms: every item must be a sigma_rule object, or this is some other list.
void read_rule_items(const json::array& items, LegacyMatches& out) {
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto* item = items[i].if_object();
        if (!item || type_of(*item) != "sigma_rule") {
            out = {};
            out.error = "not a legacy sigma_analysis answer: data[" + std::to_string(i) + "] is " +
                        sigma_analysis::describe(items[i]) + ", not a sigma_rule object";
            return;
        }
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string where = "data[" + std::to_string(i) + "]";
        const auto& item = items[i].get_object();
        const auto* rule_id = string_member(item, "id");
        const auto* context_attributes = item.if_contains("context_attributes");
        const auto* attributes = context_attributes ? context_attributes->if_object() : nullptr;
        const auto* context = attributes ? string_member(*attributes, "match") : nullptr;
        if (!rule_id)
            out.problems.push_back(where + " has no string id");
        else if (!context)
            out.problems.push_back(where + " has no string context_attributes.match");
        else
            out.matches.push_back({std::string(*rule_id), std::string(*context)});
    }
}

} // namespace

LegacyMatches read_legacy_matches(const json::value& answer) {
    LegacyMatches out;
    const auto* body = answer.if_object();
    if (!body) {
        out.error = "not a legacy sigma_analysis answer: the body is " + sigma_analysis::describe(answer);
        return out;
    }
    if (const auto* error = body->if_contains("error"); error && error->is_object()) {
        const auto* code = string_member(error->get_object(), "code");
        out.error = "an error answer (" + (code ? std::string(*code) : std::string("no code")) +
                    "): it carries no matches";
        return out;
    }
    const auto* data = body->if_contains("data");
    if (!data) {
        out.error = "not a legacy sigma_analysis answer: it has no data";
        return out;
    }
    if (data->is_null()) {
        out.error = "a descriptor of no analysis (data null): it carries no matches";
        return out;
    }
    if (const auto* items = data->if_array()) {
        read_rule_items(*items, out);
        return out;
    }
    const auto* object = data->if_object();
    const auto type = object ? type_of(*object) : std::string_view();
    if (type == "file") {
        out.error = "a File answer (the embedded or counter form): it carries no matches";
        return out;
    }
    if (type != "sigma_analysis") {
        out.error = "not a legacy sigma_analysis answer: data is " + sigma_analysis::describe(*data);
        return out;
    }
    const auto* attributes = object->if_contains("attributes");
    if (!attributes) {
        out.error = "a sigma_analysis descriptor: it carries no matches";
        return out;
    }
    const auto* attribute_object = attributes->if_object();
    const auto* rule_matches = attribute_object ? attribute_object->if_contains("rule_matches") : nullptr;
    if (!rule_matches || !rule_matches->is_array()) {
        out.error = "a sigma_analysis object without a rule_matches list";
        return out;
    }
    read_rule_matches(rule_matches->get_array(), out);
    return out;
}

} // namespace shim::calibrate
