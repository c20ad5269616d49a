#include "calibrate/learner.hpp"

#include "calibrate/legacy_matches.hpp"
#include "calibrate/today_events.hpp"
#include "sigma_analysis/input.hpp"

#include <algorithm>

namespace shim::calibrate {

namespace {

namespace json = boost::json;
using sigma_analysis::FieldSelection;

// The chosen order: most support, then prefer_selection (more fields, then byte order).
bool ranks_before(const FieldSelection& a, const FieldSelection& b) {
    if (a.support != b.support) return a.support > b.support;
    return prefer_selection(a.fields, b.fields);
}

WinReason reason_over(const FieldSelection& winner, const FieldSelection& runner_up) {
    if (winner.support != runner_up.support) return WinReason::more_support;
    if (winner.fields.size() != runner_up.fields.size()) return WinReason::more_fields;
    return WinReason::byte_order;
}

std::size_t support_of(const std::map<FieldList, std::size_t>& single, const FieldList& fields) {
    const auto at = single.find(fields);
    return at == single.end() ? 0 : at->second;
}

} // namespace

void Learner::unreadable(std::string_view recording, std::string reason) {
    report_.unreadable.push_back({std::string(recording), std::move(reason)});
}

void Learner::add_unpaired(std::string_view recording, std::string reason) {
    ++report_.recordings;
    unreadable(recording, std::move(reason));
}

bool Learner::add(std::string_view recording, const json::value& legacy, const json::value& file,
                  std::span<const json::value> behaviours) {
    ++report_.recordings;
    auto read = read_legacy_matches(legacy);
    if (!read.error.empty()) {
        unreadable(recording, std::move(read.error));
        return false;
    }
    const json::object* file_object = nullptr;
    if (!file.is_null()) {
        const auto found = sigma_analysis::find_file_object(file);
        if (!found) {
            unreadable(recording, "the File object: " + found.error);
            return false;
        }
        file_object = found.value;
    }
    std::vector<const json::object*> behaviour_objects;
    for (std::size_t i = 0; i < behaviours.size(); ++i) {
        const auto found = sigma_analysis::find_behaviour_objects(behaviours[i]);
        if (!found) {
            unreadable(recording, "behaviour document " + std::to_string(i + 1) + ": " + found.error);
            return false;
        }
        behaviour_objects.insert(behaviour_objects.end(), found.value.objects.begin(),
                                 found.value.objects.end());
    }

    ++report_.read;
    for (auto& problem : read.problems)
        unreadable(recording, std::move(problem));
    const auto events = events_by_rule(file_object, behaviour_objects);
    for (auto& match : read.matches) {
        ++report_.matches;
        const auto candidates = events.find(match.rule_id);
        const std::span<const EventText> rule_events = candidates == events.end()
                                                           ? std::span<const EventText>()
                                                           : std::span<const EventText>(candidates->second);
        auto explanation = explain(match.context, rule_events);
        switch (explanation.outcome) {
        case Outcome::empty:
            report_.empty.push_back({std::string(recording), std::move(match.rule_id)});
            break;
        case Outcome::unexplained:
            report_.unexplained.push_back({std::string(recording), std::move(match.rule_id),
                                           shorten(match.context), match.context.size(), rule_events.size(),
                                           explanation.gave_up});
            break;
        case Outcome::explained: {
            ++report_.explained;
            auto& evidence = rules_[match.rule_id];
            if (explanation.selections.size() == 1)
                ++evidence.single[std::move(explanation.selections.front())];
            else
                evidence.ambiguous.push_back(std::move(explanation.selections));
            break;
        }
        }
    }
    return true;
}

Learnt Learner::finish() const {
    Learnt out;
    out.report = report_;
    for (const auto& [rule_id, evidence] : rules_) {
        // Ambiguous matches follow the single-reading evidence only, so the result does not depend on the
        // order matches came in.
        auto support = evidence.single;
        std::size_t ambiguous = 0;
        for (const auto& lists : evidence.ambiguous) {
            ++ambiguous;
            const FieldList* best = &lists.front();
            for (const auto& fields : lists)
                if (support_of(evidence.single, fields) > support_of(evidence.single, *best)) best = &fields;
            ++support[*best];
        }

        std::vector<FieldSelection> selections;
        std::size_t explained = 0;
        for (const auto& [fields, count] : support) {
            selections.push_back({fields, count});
            explained += count;
        }
        std::sort(selections.begin(), selections.end(), ranks_before);

        sigma_analysis::RuleCalibration rule;
        rule.chosen = selections.front();
        rule.others.assign(selections.begin() + 1, selections.end());
        out.report.rules.push_back({rule_id, rule.chosen, explained, ambiguous});
        if (selections.size() > 1)
            out.report.conflicts.push_back({rule_id, selections, reason_over(selections[0], selections[1])});
        out.calibration.rules.emplace(rule_id, std::move(rule));
    }
    return out;
}

} // namespace shim::calibrate
