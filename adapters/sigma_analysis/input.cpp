#include "sigma_analysis/input.hpp"

namespace sigma_analysis {
namespace {

namespace json = boost::json;

// The payload of a VirusTotal answer: the value of "data" when `doc` is an envelope, else `doc` itself.
const json::value& payload(const json::value& doc) {
    if (const auto* obj = doc.if_object()) {
        if (const auto* data = obj->if_contains("data"); data && !obj->contains("attributes")) return *data;
    }
    return doc;
}

std::string_view type_of(const json::object& obj) {
    if (const auto* t = obj.if_contains("type"); t && t->is_string()) return t->get_string();
    return {};
}

bool has_attributes(const json::object& obj) {
    const auto* a = obj.if_contains("attributes");
    return a && a->is_object();
}

// Collects the objects of the given type (or untyped objects with attributes) from a single object or a list.
Recognised<std::vector<const json::object*>> find_typed(const json::value& doc, std::string_view type,
                                                        std::size_t* skipped) {
    Recognised<std::vector<const json::object*>> r;
    const auto& p = payload(doc);
    auto accept = [&](const json::object& obj) {
        const auto t = type_of(obj);
        return (t == type || t.empty()) && has_attributes(obj);
    };
    if (const auto* obj = p.if_object()) {
        if (accept(*obj))
            r.value.push_back(obj);
        else
            r.error = "expected a " + std::string(type) + " object, found " + describe(p);
        return r;
    }
    if (const auto* arr = p.if_array()) {
        for (const auto& item : *arr) {
            if (const auto* obj = item.if_object(); obj && accept(*obj))
                r.value.push_back(obj);
            else if (skipped)
                ++*skipped;
            else {
                r.error = "expected a list of " + std::string(type) + " objects, found an item that is " +
                          describe(item);
                return r;
            }
        }
        return r;
    }
    r.error = "expected a " + std::string(type) + " object or a list of them, found " + describe(p);
    return r;
}

} // namespace

const char* kind_name(const json::value& v) {
    switch (v.kind()) {
    case json::kind::null:
        return "null";
    case json::kind::bool_:
        return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
        return "a number";
    case json::kind::string:
        return "a string";
    case json::kind::array:
        return "an array";
    case json::kind::object:
        return "an object";
    }
    return "a value";
}

std::string describe(const json::value& v) {
    switch (v.kind()) {
    default:
        return kind_name(v);
    case json::kind::array:
        return "an array of " + std::to_string(v.get_array().size()) + " items";
    case json::kind::object:
        break;
    }
    const auto& obj = v.get_object();
    if (const auto* t = obj.if_contains("type")) {
        if (t->is_string()) return "an object of type \"" + std::string(t->get_string()) + "\"";
    }
    if (obj.contains("error")) return "a VirusTotal error object";
    return "an object without a \"type\"";
}

Recognised<const json::object*> find_file_object(const json::value& doc) {
    Recognised<const json::object*> r;
    const auto& p = payload(doc);
    const auto* obj = p.if_object();
    if (!obj || type_of(*obj) != "file") {
        r.error = "expected a File object (\"type\": \"file\"), found " + describe(p);
        return r;
    }
    const auto* id = obj->if_contains("id");
    if (!id || !id->is_string() || id->get_string().empty()) {
        r.error = "the File object has no \"id\"";
        return r;
    }
    if (!has_attributes(*obj)) {
        r.error = "the File object has no \"attributes\" object";
        return r;
    }
    r.value = obj;
    return r;
}

Recognised<BehaviourObjects> find_behaviour_objects(const json::value& doc) {
    Recognised<BehaviourObjects> r;
    auto found = find_typed(doc, "file_behaviour", &r.value.skipped);
    r.value.objects = std::move(found.value);
    r.error = std::move(found.error);
    return r;
}

Recognised<std::vector<const json::object*>> find_rule_objects(const json::value& doc) {
    auto r = find_typed(doc, "sigma_rule", nullptr);
    for (const auto* rule : r.value) {
        const auto* id = rule->if_contains("id");
        if (!id || !id->is_string()) {
            r.error = "a sigma_rule object has no \"id\"";
            break;
        }
    }
    return r;
}

std::string next_cursor(const boost::json::value& page) {
    if (const auto* obj = page.if_object()) {
        if (const auto* meta = obj->if_contains("meta"); meta && meta->is_object()) {
            const auto* cursor = meta->get_object().if_contains("cursor");
            if (cursor && cursor->is_string()) return std::string(cursor->get_string());
        }
    }
    return {};
}

} // namespace sigma_analysis
