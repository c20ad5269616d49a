#include "calibrate/today_events.hpp"

#include "sigma_analysis/extract.hpp"

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

} // namespace

EventsByRule events_by_rule(const json::object* file, std::span<const json::object* const> behaviours) {
    // The transform's own reading of the results (contract 3.1: File object first, then what each behaviour
    // adds), so that a legacy string is explained by exactly the contexts a reconstruction writes.
    const json::object no_file;
    const auto analysis = sigma_analysis::extract({file ? *file : no_file, behaviours});
    EventsByRule out;
    std::set<std::string> seen; // the rule id (length-prefixed), then the event's identity
    for (const auto& match : analysis.matches) {
        if (!match.context_values) continue;
        auto event = event_text(*match.context_values);
        const std::string_view id = match.rule_id;
        if (!seen.insert(std::to_string(id.size()) + ':' + std::string(id) + identity(event)).second)
            continue;
        auto at = out.find(id);
        if (at == out.end()) at = out.emplace(std::string(id), std::vector<EventText>{}).first;
        at->second.push_back(std::move(event));
    }
    return out;
}

} // namespace shim::calibrate
