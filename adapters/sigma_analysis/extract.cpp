#include "sigma_analysis/extract.hpp"

#include <algorithm>
#include <functional>
#include <unordered_map>
#include <unordered_set>

namespace sigma_analysis {
namespace {

namespace json = boost::json;

const json::object* attributes_of(const json::object& obj) {
    const auto* a = obj.if_contains("attributes");
    return a ? a->if_object() : nullptr;
}

// One rule's results as merged from the File object and the behaviours (3.1).
struct Result {
    const json::object* entry = nullptr; // the first entry seen for the rule: its fields are written
    std::string_view rule_id;
    std::vector<const json::object*> contexts; // each context's `values`
    // Built only when a later source brings contexts for this rule, to tell which are new.
    std::unordered_multimap<std::size_t, const json::object*> seen;
    bool seen_built = false;
};

class Merger {
public:
    explicit Merger(Diagnostics& diagnostics) : diag_(diagnostics) {}

    // Merges one `sigma_analysis_results` value. The first source is taken as it is; later ones only add
    // rules and contexts not yet present.
    void add_results(const json::value* results, bool from_file_object) {
        if (!results) return;
        const auto* list = results->if_array();
        if (!list) {
            ++diag_.skipped;
            return;
        }
        for (const auto& item : *list)
            add_entry(item, from_file_object);
    }

    std::vector<Result>& results() { return results_; }

private:
    void add_entry(const json::value& item, bool from_file_object) {
        const auto* entry = item.if_object();
        const json::value* rule_id = entry ? entry->if_contains("rule_id") : nullptr;
        const json::value* contexts = entry ? entry->if_contains("match_context") : nullptr;
        if (!rule_id || !rule_id->is_string() || (contexts && !contexts->is_array())) {
            ++diag_.skipped;
            return;
        }
        const auto [it, inserted] = by_rule_.try_emplace(rule_id->get_string(), results_.size());
        if (inserted) {
            results_.push_back(Result{entry, rule_id->get_string(), {}, {}, false});
        }
        Result& result = results_[it->second];
        const bool dedupe = !inserted && !from_file_object;
        if (!contexts) return;
        for (const auto& c : contexts->get_array()) {
            const auto* ctx = c.if_object();
            const json::value* values = ctx ? ctx->if_contains("values") : nullptr;
            if (!values || !values->is_object()) {
                ++diag_.skipped;
                continue;
            }
            if (dedupe && !is_new(result, values->get_object())) continue;
            result.contexts.push_back(&values->get_object());
            if (result.seen_built) result.seen.emplace(hash_of(values->get_object()), &values->get_object());
        }
    }

    static std::size_t hash_of(const json::object& values) { return std::hash<json::object>{}(values); }

    // Two contexts are the same when their `values` maps are equal, whatever the key order.
    static bool is_new(Result& result, const json::object& values) {
        if (!result.seen_built) {
            for (const auto* v : result.contexts)
                result.seen.emplace(hash_of(*v), v);
            result.seen_built = true;
        }
        const auto [first, last] = result.seen.equal_range(hash_of(values));
        return std::none_of(first, last, [&](const auto& kv) { return *kv.second == values; });
    }

    Diagnostics& diag_;
    std::vector<Result> results_;
    std::unordered_map<std::string_view, std::size_t> by_rule_;
};

// A string field of a result entry; missing is "", any other type is "" and counted as skipped (3.7).
std::string_view text_field(const json::object& entry, std::string_view key, Diagnostics& diag) {
    const auto* v = entry.if_contains(key);
    if (!v) return {};
    if (const auto* s = v->if_string()) return *s;
    ++diag.skipped;
    return {};
}

std::optional<std::int64_t> date_field(const json::object* attributes, std::string_view key,
                                       Diagnostics& diag) {
    if (!attributes) return std::nullopt;
    const auto* v = attributes->if_contains(key);
    if (!v) return std::nullopt;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
        return static_cast<std::int64_t>(v->get_uint64());
    }
    ++diag.skipped;
    return std::nullopt;
}

bool carries_sigma(const json::object* attributes) {
    if (!attributes) return false;
    const auto* r = attributes->if_contains("sigma_analysis_results");
    return r && r->is_array() && !r->get_array().empty();
}

Stats copy_stats(const json::value& v, Diagnostics& diag) {
    Stats s;
    const auto* obj = v.if_object();
    if (!obj) {
        ++diag.skipped;
        return s;
    }
    auto read = [&](std::string_view level, std::int64_t& into) {
        if (const auto* n = obj->if_contains(level)) {
            if (n->is_int64())
                into = n->get_int64();
            else
                ++diag.skipped;
        }
    };
    read("critical", s.critical);
    read("high", s.high);
    read("low", s.low);
    read("medium", s.medium);
    return s;
}

void fill_dates(Analysis& out, const json::object* file_attributes,
                std::span<const json::object* const> behaviours) {
    auto& diag = out.diagnostics;
    std::optional<std::int64_t> sigma_analysis, any_analysis, sigma_modification;
    auto keep_latest = [](std::optional<std::int64_t>& into, std::optional<std::int64_t> v) {
        if (v && (!into || *v > *into)) into = v;
    };
    for (const auto* b : behaviours) {
        const auto* attributes = attributes_of(*b);
        const auto analysis = date_field(attributes, "analysis_date", diag);
        keep_latest(any_analysis, analysis);
        if (carries_sigma(attributes)) {
            keep_latest(sigma_analysis, analysis);
            keep_latest(sigma_modification, date_field(attributes, "last_modification_date", diag));
        }
    }
    const auto file_analysis = date_field(file_attributes, "last_analysis_date", diag);
    const auto file_modification = date_field(file_attributes, "last_modification_date", diag);
    out.analysis_date =
        sigma_analysis.value_or(any_analysis.value_or(file_analysis.value_or(file_modification.value_or(0))));
    out.last_modification_date =
        std::max(sigma_modification.value_or(file_modification.value_or(0)), out.analysis_date);
}

// Sets the keys `proto`'s context strings write (3.3) in a mode other than all. Returns whether they come
// from the calibration.
bool choose_fields(Match& proto, std::string_view rule_id, const ExtractInput& input, Diagnostics& diag) {
    ContextMode mode = input.mode;
    if (mode == ContextMode::calibrated) {
        if (const auto* rule = input.calibration ? input.calibration->find(rule_id) : nullptr) {
            // Not owned: the calibration outlives the analysis, and every match of the rule shares the list.
            proto.context_fields = std::shared_ptr<const std::vector<std::string>>(std::shared_ptr<void>(),
                                                                                   &rule->chosen.fields);
            proto.context_fields_listed = true;
            return true;
        }
        ++diag.uncalibrated_rules;
        mode = input.fallback == ContextMode::rule_fields ? ContextMode::rule_fields : ContextMode::all;
    }
    if (mode == ContextMode::rule_fields) {
        const auto* rule = input.rules ? input.rules->find(rule_id) : nullptr;
        auto fields = rule ? detection_fields(*rule) : std::nullopt;
        if (fields)
            proto.context_fields = std::make_shared<const std::vector<std::string>>(std::move(*fields));
        else
            ++diag.rule_fallbacks;
    }
    return false;
}

void emit_matches(Analysis& out, std::vector<Result>& results, const ExtractInput& input) {
    auto& diag = out.diagnostics;
    std::size_t total = 0;
    for (const auto& r : results)
        total += std::max<std::size_t>(r.contexts.size(), 1);
    out.matches.reserve(total);
    for (auto& r : results) {
        const json::object& e = *r.entry;
        Match proto;
        proto.rule_id = r.rule_id;
        proto.rule_title = text_field(e, "rule_title", diag);
        proto.rule_description = text_field(e, "rule_description", diag);
        proto.rule_source = text_field(e, "rule_source", diag);
        proto.rule_level = text_field(e, "rule_level", diag);
        if (const auto* author = e.if_contains("rule_author")) {
            if (author->is_string())
                proto.rule_author = author->get_string();
            else
                ++diag.skipped;
        }
        proto.level = parse_level(proto.rule_level);

        if (input.mode != ContextMode::all) {
            const bool calibrated = choose_fields(proto, r.rule_id, input, diag);
            if (input.mode == ContextMode::calibrated) {
                (calibrated ? diag.calibrated_matches : diag.fallback_matches) +=
                    std::max<std::size_t>(r.contexts.size(), 1);
            }
        }

        Stats& by_source = out.source_severity_stats[proto.rule_source];
        auto push = [&](Match m) {
            out.severity_stats.count(m.level);
            by_source.count(m.level);
            out.matches.push_back(std::move(m));
        };
        if (r.contexts.empty()) {
            push(proto);
            continue;
        }
        for (const auto* values : r.contexts) {
            Match m = proto;
            m.context_values = values;
            push(std::move(m));
        }
    }
}

} // namespace

Level parse_level(std::string_view text) {
    if (text == "low") return Level::low;
    if (text == "medium") return Level::medium;
    if (text == "high") return Level::high;
    if (text == "critical") return Level::critical;
    return Level::unknown;
}

void Stats::count(Level level) {
    switch (level) {
    case Level::low:
        ++low;
        break;
    case Level::medium:
        ++medium;
        break;
    case Level::high:
        ++high;
        break;
    case Level::critical:
        ++critical;
        break;
    case Level::unknown:
        break;
    }
}

std::string Diagnostics::summary() const {
    std::string s;
    auto add = [&](std::string_view name, std::size_t n) {
        if (!n) return;
        if (!s.empty()) s.push_back(' ');
        s.append(name).append("=").append(std::to_string(n));
    };
    add("skipped", skipped);
    add("stats_only", stats_only ? 1 : 0);
    add("rule_fallbacks", rule_fallbacks);
    add("missing_rule_objects", missing_rule_objects);
    add("behaviours_truncated", behaviours_truncated ? 1 : 0);
    add("uncalibrated_rules", uncalibrated_rules);
    return s;
}

std::vector<std::string_view> distinct_rule_ids(const json::object& file,
                                                std::span<const json::object* const> behaviours) {
    std::vector<std::string_view> ids;
    std::unordered_set<std::string_view> seen;
    auto collect = [&](const json::object& obj) {
        const auto* attributes = attributes_of(obj);
        const auto* results = attributes ? attributes->if_contains("sigma_analysis_results") : nullptr;
        if (!results || !results->is_array()) return;
        for (const auto& item : results->get_array()) {
            const auto* entry = item.if_object();
            const auto* id = entry ? entry->if_contains("rule_id") : nullptr;
            if (id && id->is_string() && seen.insert(id->get_string()).second)
                ids.push_back(id->get_string());
        }
    };
    collect(file);
    for (const auto* b : behaviours)
        collect(*b);
    return ids;
}

Analysis extract(const ExtractInput& input) {
    Analysis out;
    if (const auto* id = input.file.if_contains("id"); id && id->is_string()) out.sha256 = id->get_string();
    const auto* file_attributes = attributes_of(input.file);

    Merger merger(out.diagnostics);
    if (file_attributes) merger.add_results(file_attributes->if_contains("sigma_analysis_results"), true);
    for (const auto* b : input.behaviours) {
        if (const auto* attributes = attributes_of(*b)) {
            merger.add_results(attributes->if_contains("sigma_analysis_results"), false);
        }
    }
    fill_dates(out, file_attributes, input.behaviours);

    if (!merger.results().empty()) {
        out.present = true;
        emit_matches(out, merger.results(), input);
        return out;
    }
    const auto* stats = file_attributes ? file_attributes->if_contains("sigma_analysis_stats") : nullptr;
    if (!stats) return out;
    out.present = true;
    out.diagnostics.stats_only = true;
    out.severity_stats = copy_stats(*stats, out.diagnostics);
    if (const auto* summary = file_attributes->if_contains("sigma_analysis_summary")) {
        if (const auto* rulesets = summary->if_object()) {
            for (const auto& kv : *rulesets) {
                out.source_severity_stats[kv.key()] = copy_stats(kv.value(), out.diagnostics);
            }
        } else {
            ++out.diagnostics.skipped;
        }
    }
    return out;
}

} // namespace sigma_analysis
