#include "calibrate/report.hpp"
#include "sigma_analysis/json_writer.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace shim::calibrate {

namespace {

namespace json = boost::json;

json::array fields_json(const std::vector<std::string>& fields) {
    json::array out;
    for (const auto& field : fields)
        out.emplace_back(field);
    return out;
}

json::object rule_json(const LearntRule& rule) {
    json::object o;
    o["rule_id"] = rule.rule_id;
    o["fields"] = fields_json(rule.chosen.fields);
    o["support"] = rule.chosen.support;
    o["explained"] = rule.explained;
    o["ambiguous"] = rule.ambiguous;
    return o;
}

json::object conflict_json(const Conflict& conflict) {
    json::object o;
    o["rule_id"] = conflict.rule_id;
    o["reason"] = win_reason_name(conflict.reason);
    json::array selections;
    for (const auto& selection : conflict.selections) {
        json::object s;
        s["fields"] = fields_json(selection.fields);
        s["support"] = selection.support;
        selections.push_back(std::move(s));
    }
    o["selections"] = std::move(selections);
    return o;
}

json::object unexplained_json(const Unexplained& u) {
    json::object o;
    o["recording"] = u.recording;
    o["rule_id"] = u.rule_id;
    o["legacy"] = u.legacy;
    o["legacy_bytes"] = u.legacy_bytes;
    o["events"] = u.events;
    o["gave_up"] = u.gave_up;
    return o;
}

template <typename T, typename F>
json::array list_json(const std::vector<T>& items, F&& item_json) {
    json::array out;
    out.reserve(items.size());
    for (const auto& item : items)
        out.push_back(item_json(item));
    return out;
}

} // namespace

// Members are inserted in the documented order (boost::json keeps insertion order): one report, one text.
std::string report_json(const Report& report) {
    json::object root;
    root["schema"] = "sigma-shim/calibrate-report/1";
    json::object summary;
    summary["recordings"] = report.recordings;
    summary["read"] = report.read;
    summary["matches"] = report.matches;
    summary["explained"] = report.explained;
    summary["unexplained"] = report.unexplained.size();
    summary["empty"] = report.empty.size();
    summary["unreadable"] = report.unreadable.size();
    summary["rules"] = report.rules.size();
    summary["conflicts"] = report.conflicts.size();
    root["summary"] = std::move(summary);
    root["rules"] = list_json(report.rules, rule_json);
    root["conflicts"] = list_json(report.conflicts, conflict_json);
    root["unexplained"] = list_json(report.unexplained, unexplained_json);
    root["empty"] = list_json(report.empty, [](const EmptyContext& e) {
        json::object o;
        o["recording"] = e.recording;
        o["rule_id"] = e.rule_id;
        return o;
    });
    root["unreadable"] = list_json(report.unreadable, [](const Unreadable& u) {
        json::object o;
        o["recording"] = u.recording;
        o["reason"] = u.reason;
        return o;
    });
    // The project's writer: strings (recorded values among them) keep their bytes, malformed UTF-8 included.
    std::string out;
    sigma_analysis::json_out::append_value(out, root, sigma_analysis::json_out::KeyOrder::as_given);
    out += '\n';
    return out;
}

} // namespace shim::calibrate
