#include "sigma_analysis/calibration.hpp"

#include "sigma_analysis/input.hpp"
#include "sigma_analysis/json_writer.hpp"

#include <algorithm>
#include <boost/json/parser.hpp>
#include <unordered_set>

namespace sigma_analysis {
namespace {

namespace json = boost::json;

// `"key"`, quoted and escaped as JSON, so that a path names any key unambiguously.
std::string quoted(std::string_view key) {
    std::string s;
    json_out::append_string(s, key);
    return s;
}

// Reads one FIELDS.json; the first thing wrong ends it, in `error`.
class Reader {
public:
    explicit Reader(std::string& error) : error_(error) {}

    bool read(const json::value& doc, Calibration& out) {
        const auto* top = doc.if_object();
        if (!top) return fail(std::string("FIELDS.json is ") + kind_name(doc) + ", not an object");
        const auto* version = top->if_contains("version");
        if (!version) return fail("\"version\" is missing");
        std::size_t number = 0;
        if (!whole_number(*version, "\"version\"", number)) return false;
        if (number != static_cast<std::size_t>(Calibration::current_version)) {
            return fail("version " + std::to_string(number) +
                        " is not supported (this sigma-shim reads version " +
                        std::to_string(Calibration::current_version) + ")");
        }
        for (const auto& kv : *top) {
            if (kv.key() != "version" && kv.key() != "rules") {
                return fail("unknown key " + quoted(kv.key()) +
                            " at the top level (version 1 has \"version\" and \"rules\")");
            }
        }
        const auto* rules = top->if_contains("rules");
        if (!rules) return fail("\"rules\" is missing");
        if (!rules->is_object())
            return fail(std::string("\"rules\" is ") + kind_name(*rules) + ", not an object");
        for (const auto& kv : rules->get_object()) {
            if (kv.key().empty()) return fail("rules has a rule with an empty id");
            RuleCalibration rule;
            if (!read_rule(kv.value(), "rules." + quoted(kv.key()), rule)) return false;
            out.rules.emplace(std::string(kv.key()), std::move(rule));
        }
        return true;
    }

private:
    bool fail(std::string sentence) {
        error_ = std::move(sentence);
        return false;
    }

    bool whole_number(const json::value& v, const std::string& path, std::size_t& out) {
        if (v.is_uint64()) {
            out = static_cast<std::size_t>(v.get_uint64());
            return true;
        }
        if (v.is_int64() && v.get_int64() >= 0) {
            out = static_cast<std::size_t>(v.get_int64());
            return true;
        }
        if (v.is_int64()) return fail(path + " is " + std::to_string(v.get_int64()) + ", not 0 or more");
        return fail(path + " is " + kind_name(v) + ", not a whole number");
    }

    // The keys of `obj` are all among `known`; else one sentence naming the first other one.
    bool known_keys(const json::object& obj, const std::string& path,
                    std::initializer_list<std::string_view> known, std::string_view has) {
        for (const auto& kv : obj) {
            if (std::find(known.begin(), known.end(), kv.key()) == known.end()) {
                return fail(path + " has an unknown key " + quoted(kv.key()) + " (" + std::string(has) + ")");
            }
        }
        return true;
    }

    bool read_rule(const json::value& v, const std::string& path, RuleCalibration& rule) {
        const auto* obj = v.if_object();
        if (!obj) return fail(path + " is " + kind_name(v) + ", not an object");
        if (!known_keys(*obj, path, {"fields", "support", "others"},
                        "a rule has \"fields\", \"support\" and \"others\"")) {
            return false;
        }
        if (!read_selection_members(*obj, path, rule.chosen)) return false;
        const auto* others = obj->if_contains("others");
        if (!others) return true;
        const auto* list = others->if_array();
        if (!list) return fail(path + ".others is " + kind_name(*others) + ", not an array");
        for (std::size_t i = 0; i < list->size(); ++i) {
            const std::string at = path + ".others[" + std::to_string(i) + "]";
            const auto* item = (*list)[i].if_object();
            if (!item) return fail(at + " is " + kind_name((*list)[i]) + ", not an object");
            if (!known_keys(*item, at, {"fields", "support"}, "a selection has \"fields\" and \"support\"")) {
                return false;
            }
            if (!read_selection_members(*item, at, rule.others.emplace_back())) return false;
        }
        return true;
    }

    // "fields" and "support" of a rule or of one of its other selections.
    bool read_selection_members(const json::object& obj, const std::string& path, FieldSelection& out) {
        const auto* fields = obj.if_contains("fields");
        if (!fields) return fail(path + ".fields is missing");
        const auto* list = fields->if_array();
        if (!list) return fail(path + ".fields is " + kind_name(*fields) + ", not an array");
        std::unordered_set<std::string_view> seen;
        out.fields.reserve(list->size());
        for (std::size_t i = 0; i < list->size(); ++i) {
            const std::string at = path + ".fields[" + std::to_string(i) + "]";
            const auto* name = (*list)[i].if_string();
            if (!name) return fail(at + " is " + kind_name((*list)[i]) + ", not a string");
            if (name->empty()) return fail(at + " is an empty string, not a field name");
            if (!seen.insert(*name).second) return fail(at + " repeats the field " + quoted(*name));
            out.fields.emplace_back(*name);
        }
        const auto* support = obj.if_contains("support");
        if (!support) return fail(path + ".support is missing");
        return whole_number(*support, path + ".support", out.support);
    }

    std::string& error_;
};

void append_fields(std::string& out, const std::vector<std::string>& fields) {
    out += '[';
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (i) out += ", ";
        json_out::append_string(out, fields[i]);
    }
    out += ']';
}

} // namespace

const RuleCalibration* Calibration::find(std::string_view rule_id) const {
    const auto it = rules.find(rule_id);
    return it == rules.end() ? nullptr : &it->second;
}

bool parse_calibration(std::string_view text, Calibration& out, std::string& error) {
    json::parser parser;
    json::error_code ec;
    const std::size_t used = parser.write(text.data(), text.size(), ec);
    if (ec) {
        error = "FIELDS.json is not JSON at byte " + std::to_string(used) + ": " + ec.message();
        return false;
    }
    const json::value doc = parser.release();
    Calibration read;
    if (!Reader(error).read(doc, read)) return false;
    out = std::move(read);
    return true;
}

std::string write_calibration(const Calibration& calibration) {
    std::string out = "{\n  \"version\": ";
    out += std::to_string(Calibration::current_version);
    out += ",\n  \"rules\": {";
    bool first = true;
    for (const auto& [id, rule] : calibration.rules) {
        out += first ? "\n    " : ",\n    ";
        first = false;
        json_out::append_string(out, id);
        out += ": {\n      \"fields\": ";
        append_fields(out, rule.chosen.fields);
        out += ",\n      \"support\": ";
        out += std::to_string(rule.chosen.support);
        if (!rule.others.empty()) {
            out += ",\n      \"others\": [";
            for (std::size_t i = 0; i < rule.others.size(); ++i) {
                out += i ? ",\n        {\"fields\": " : "\n        {\"fields\": ";
                append_fields(out, rule.others[i].fields);
                out += ", \"support\": ";
                out += std::to_string(rule.others[i].support);
                out += '}';
            }
            out += "\n      ]";
        }
        out += "\n    }";
    }
    out += first ? "}\n}\n" : "\n  }\n}\n";
    return out;
}

} // namespace sigma_analysis
