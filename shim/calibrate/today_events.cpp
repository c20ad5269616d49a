#include "calibrate/today_events.hpp"

#include <algorithm>
#include <set>

namespace shim::calibrate {

namespace {

namespace json = boost::json;

// One text per event that is equal exactly when the events are (the same keys with the same written texts,
// in any order): the pairs sorted, each part prefixed by its length so that no two events run together.
std::string identity(const EventText& event) {
    auto pairs = event.pairs;
    std::sort(pairs.begin(), pairs.end());
    std::string out;
    for (const auto& [key, text] : pairs)
        out += std::to_string(key.size()) + ':' + key + std::to_string(text.size()) + ':' + text;
    return out;
}

class Collector {
public:
    explicit Collector(EventsByRule& out) : out_(out) {}

    void add_source(const json::object& object) {
        const auto* attributes = object.if_contains("attributes");
        const auto* attribute_object = attributes ? attributes->if_object() : nullptr;
        const auto* results =
            attribute_object ? attribute_object->if_contains("sigma_analysis_results") : nullptr;
        if (!results || !results->is_array()) return;
        for (const auto& entry : results->get_array())
            add_entry(entry);
    }

private:
    void add_entry(const json::value& entry) {
        const auto* e = entry.if_object();
        const auto* rule_id = e ? e->if_contains("rule_id") : nullptr;
        const auto* contexts = e ? e->if_contains("match_context") : nullptr;
        if (!rule_id || !rule_id->is_string() || !contexts || !contexts->is_array()) return;
        const std::string_view id = rule_id->get_string();
        for (const auto& context : contexts->get_array()) {
            const auto* c = context.if_object();
            const auto* values = c ? c->if_contains("values") : nullptr;
            if (!values || !values->is_object()) continue;
            auto event = event_text(values->get_object());
            if (!seen_.insert(std::to_string(id.size()) + ':' + std::string(id) + identity(event)).second)
                continue;
            auto at = out_.find(id);
            if (at == out_.end()) at = out_.emplace(std::string(id), std::vector<EventText>{}).first;
            at->second.push_back(std::move(event));
        }
    }

    EventsByRule& out_;
    std::set<std::string> seen_; // the rule id (length-prefixed), then the event's identity
};

} // namespace

EventsByRule events_by_rule(const json::object* file, std::span<const json::object* const> behaviours) {
    EventsByRule out;
    Collector collector(out);
    if (file) collector.add_source(*file);
    for (const auto* behaviour : behaviours)
        collector.add_source(*behaviour);
    return out;
}

} // namespace shim::calibrate
