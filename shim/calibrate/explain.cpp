#include "calibrate/explain.hpp"

#include "sigma_analysis/json_writer.hpp"

#include <algorithm>

namespace shim::calibrate {

namespace {

// Key trials one event may take. A real event reads in (keys x pairs) trials; only keys that nest inside one
// another's pairs branch at all, and this bounds what they can cost.
constexpr std::size_t step_limit = 100'000;

// More readings than this of one string are kept no further (they need keys nesting in each other's pairs).
constexpr std::size_t selection_limit = 16;

class Search {
public:
    Search(std::string_view legacy, const EventText& event, std::vector<FieldList>& found)
        : legacy_(legacy), event_(event), found_(found), used_(event.pairs.size(), false) {}

    // Returns false when the step limit stopped it.
    bool run() {
        from(0);
        return steps_ <= step_limit;
    }

private:
    // The length of pair `i` written at `at`, or 0 when it is not there.
    std::size_t pair_at(std::size_t at, std::size_t i) const {
        const auto& [key, text] = event_.pairs[i];
        std::string_view rest = legacy_.substr(at);
        if (!rest.starts_with('$')) return 0;
        rest.remove_prefix(1);
        if (!rest.starts_with(key)) return 0;
        rest.remove_prefix(key.size());
        if (!rest.starts_with(": '")) return 0;
        rest.remove_prefix(3);
        if (!rest.starts_with(text)) return 0;
        rest.remove_prefix(text.size());
        if (!rest.starts_with('\'')) return 0;
        return 1 + key.size() + 3 + text.size() + 1;
    }

    void from(std::size_t at) {
        for (std::size_t i = 0; i < event_.pairs.size(); ++i) {
            if (++steps_ > step_limit || found_.size() >= selection_limit) return;
            if (used_[i]) continue;
            const std::size_t length = pair_at(at, i);
            if (length == 0) continue;
            const std::size_t end = at + length;
            const bool last = end == legacy_.size();
            if (!last && legacy_.substr(end, 3) != ", $") continue;
            used_[i] = true;
            chosen_.push_back(i);
            if (last)
                record();
            else
                from(end + 2);
            chosen_.pop_back();
            used_[i] = false;
        }
    }

    void record() {
        FieldList fields;
        fields.reserve(chosen_.size());
        for (const auto i : chosen_)
            fields.push_back(event_.pairs[i].first);
        if (std::find(found_.begin(), found_.end(), fields) == found_.end())
            found_.push_back(std::move(fields));
    }

    std::string_view legacy_;
    const EventText& event_;
    std::vector<FieldList>& found_;
    std::vector<bool> used_;
    std::vector<std::size_t> chosen_;
    std::size_t steps_ = 0;
};

} // namespace

EventText event_text(const boost::json::object& values) {
    EventText event;
    event.pairs.reserve(values.size());
    for (const auto& kv : values) {
        std::string text;
        if (const auto* s = kv.value().if_string())
            text = *s;
        else
            sigma_analysis::json_out::append_value(text, kv.value(),
                                                   sigma_analysis::json_out::KeyOrder::as_given);
        event.pairs.emplace_back(std::string(kv.key()), std::move(text));
    }
    return event;
}

bool prefer_selection(const FieldList& a, const FieldList& b) {
    if (a.size() != b.size()) return a.size() > b.size();
    return a < b; // std::string compares its bytes as unsigned char: byte order
}

Explanation explain(std::string_view legacy, std::span<const EventText> events) {
    Explanation e;
    if (legacy.empty()) {
        e.outcome = Outcome::empty;
        return e;
    }
    for (const auto& event : events) {
        if (e.selections.size() >= selection_limit) break;
        if (!Search(legacy, event, e.selections).run()) e.gave_up = true;
    }
    if (e.selections.size() >= selection_limit) e.gave_up = true;
    std::sort(e.selections.begin(), e.selections.end(), prefer_selection);
    e.outcome = e.selections.empty() ? Outcome::unexplained : Outcome::explained;
    return e;
}

} // namespace shim::calibrate
