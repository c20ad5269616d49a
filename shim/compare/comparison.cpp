// How two answers are compared (the rules every caller relies on):
//
// - Status: differing HTTP statuses give a "status" finding at "@status" (different); the bodies are still
//   compared.
// - Bodies are walked together. A path matching an ignore glob is skipped with its whole subtree, and no
//   finding is ever reported at an ignored path.
// - Objects, keys in byte order: a legacy key the reconstruction lacks is "missing" (different); a key
//   only the reconstruction has is "added" (compatible: clients ignore new keys), except inside
//   severity_stats and source_severity_stats, where the stats must agree and an added level or rule source
//   is different.
// - Arrays are positional unless keyed (below): an index only in legacy is "missing", one only in the
//   reconstruction is "extra"; both different.
// - Differing JSON kinds are "type" (different); numbers compare by value whatever their representation.
//   Differing scalars are "value" (different), except integer dates (keys ending in "_date") within the date
//   tolerance, which are "date" (compatible), and error.message when both error bodies carry the same code,
//   which is "error_message" (compatible: clients key on the code).
// - rule_matches arrays (anywhere) and the top-level "data" list of sigma_rule objects are multisets keyed by
//   (rule_id, match_context), resp. (id, context_attributes.match); order alone is no difference. Items pair
//   first on an identical key, then on the same rule with a legacy context whose parsed pairs are a subset of
//   the reconstructed one ("match_context_subset", compatible: the reconstruction wrote more fields).
//   Unpaired legacy items are "match_missing", unpaired reconstructed ones "match_added" (both different).
//   Paired items are walked as objects at the legacy index, their context left out.
// - The verdict is the worst finding's; past max_findings, findings are counted into the verdict but
//   not kept.
#include "compare/comparison.hpp"

#include "compare/match_context_pairs.hpp"
#include "compare/path_glob.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <utility>

namespace shim::compare {

namespace {

namespace json = boost::json;

bool is_number(const json::value& v) {
    return v.is_int64() || v.is_uint64() || v.is_double();
}

double as_double(const json::value& v) {
    // Boost.JSON 1.81 reads a zero with an exponent beyond the double range (0e400) as NaN, which equals
    // nothing, not even itself: the number the text stood for is zero (and the writer writes it so).
    if (v.is_double()) return std::isnan(v.get_double()) ? 0.0 : v.get_double();
    if (v.is_int64()) return static_cast<double>(v.get_int64());
    return static_cast<double>(v.get_uint64());
}

bool numbers_equal(const json::value& a, const json::value& b) {
    if (a.is_double() || b.is_double()) return as_double(a) == as_double(b);
    if (a.is_int64() && b.is_int64()) return a.get_int64() == b.get_int64();
    if (a.is_uint64() && b.is_uint64()) return a.get_uint64() == b.get_uint64();
    const auto& signed_side = a.is_int64() ? a : b;
    const auto& unsigned_side = a.is_int64() ? b : a;
    return signed_side.get_int64() >= 0 &&
           static_cast<std::uint64_t>(signed_side.get_int64()) == unsigned_side.get_uint64();
}

// Numbers of any representation are one kind here, so 1 against 1.0 is a value question, not a type one.
bool same_kind(const json::value& a, const json::value& b) {
    return (is_number(a) && is_number(b)) || a.kind() == b.kind();
}

bool scalars_equal(const json::value& a, const json::value& b) {
    if (is_number(a)) return numbers_equal(a, b);
    return a == b;
}

std::optional<std::int64_t> as_integer(const json::value& v) {
    if (v.is_int64()) return v.get_int64();
    if (v.is_uint64() &&
        v.get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return static_cast<std::int64_t>(v.get_uint64());
    return std::nullopt;
}

bool is_date_key(const Path& path) {
    return !path.empty() && path.back().ends_with("_date");
}

bool within(std::int64_t a, std::int64_t b, std::int64_t tolerance) {
    // Unsigned arithmetic: the distance between two int64 always fits in a uint64.
    const auto distance = a >= b ? static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b)
                                 : static_cast<std::uint64_t>(b) - static_cast<std::uint64_t>(a);
    return tolerance >= 0 && distance <= static_cast<std::uint64_t>(tolerance);
}

// `parent` is an object whose members are stats: a severity_stats block, the per-source map, or one source's
// block within it.
bool is_stats_object(const Path& parent) {
    if (parent.empty()) return false;
    if (parent.back() == "severity_stats" || parent.back() == "source_severity_stats") return true;
    return parent.size() >= 2 && parent[parent.size() - 2] == "source_severity_stats";
}

const json::value* member(const json::value& v, std::string_view key) {
    const auto* o = v.if_object();
    return o ? o->if_contains(key) : nullptr;
}

// How the items of a keyed array are identified: the rule's id and where its match context sits.
struct KeyedShape {
    std::string_view id_key;
    std::string_view context_parent; // empty: the context is a member of the item itself
    std::string_view context_key;
};

constexpr KeyedShape rule_matches_shape{"rule_id", "", "match_context"};
constexpr KeyedShape sigma_rules_shape{"id", "context_attributes", "match"};

bool is_sigma_rule(const json::value& item) {
    const auto* type = member(item, "type");
    return type && type->is_string() && type->get_string() == "sigma_rule";
}

std::optional<KeyedShape> keyed_shape(const Path& path, const json::array& a, const json::array& b) {
    if (!path.empty() && path.back() == "rule_matches") return rule_matches_shape;
    if (path.size() == 1 && path.front() == "data" && (!a.empty() || !b.empty()) &&
        std::all_of(a.begin(), a.end(), is_sigma_rule) && std::all_of(b.begin(), b.end(), is_sigma_rule))
        return sigma_rules_shape;
    return std::nullopt;
}

struct KeyedItem {
    const json::value* value = nullptr;
    const json::value* id = nullptr;      // null when absent
    const json::value* context = nullptr; // null when absent
    std::string key;                      // id and context, unambiguously joined
    bool paired = false;
};

std::string key_part(const json::value* v) {
    if (!v) return "-";
    if (v->is_string()) return "s" + std::string(v->get_string());
    return "j" + json::serialize(*v);
}

std::vector<KeyedItem> keyed_items(const json::array& items, const KeyedShape& shape) {
    std::vector<KeyedItem> out;
    out.reserve(items.size());
    for (const auto& item : items) {
        KeyedItem k;
        k.value = &item;
        k.id = member(item, shape.id_key);
        const json::value* holder = shape.context_parent.empty() ? &item : member(item, shape.context_parent);
        k.context = holder ? member(*holder, shape.context_key) : nullptr;
        const std::string id = key_part(k.id);
        k.key = std::to_string(id.size()) + ":" + id + key_part(k.context);
        out.push_back(std::move(k));
    }
    return out;
}

bool same_rule(const KeyedItem& a, const KeyedItem& b) {
    return a.id && b.id && a.id->is_string() && b.id->is_string() && a.id->get_string() == b.id->get_string();
}

class Walker {
public:
    Walker(const CompareOptions& options, const json::value& legacy_root,
           const json::value& reconstructed_root)
        : options_(options), legacy_root_(legacy_root), reconstructed_root_(reconstructed_root) {
        ignore_.reserve(options.ignore.size());
        for (const auto& pattern : options.ignore)
            ignore_.emplace_back(pattern);
    }

    void add(const Path& path, std::string_view kind, Verdict verdict, const json::value& legacy,
             const json::value& reconstructed) {
        if (any_matches(ignore_, path)) return;
        result_.verdict = std::max(result_.verdict, verdict);
        if (result_.findings.size() >= options_.max_findings) {
            result_.truncated = true;
            return;
        }
        result_.findings.push_back({path, std::string(kind), verdict, legacy, reconstructed});
    }

    void walk(Path& path, const json::value& a, const json::value& b) {
        if (skipped(path)) return;
        if (is_error_message(path) && a != b) {
            add(path, "error_message", Verdict::compatible, a, b);
        } else if (!same_kind(a, b)) {
            add(path, "type", Verdict::different, a, b);
        } else if (a.is_object()) {
            walk_object(path, a.get_object(), b.get_object());
        } else if (a.is_array()) {
            walk_array(path, a.get_array(), b.get_array());
        } else if (!scalars_equal(a, b)) {
            walk_scalar(path, a, b);
        }
    }

    Comparison take() { return std::move(result_); }

private:
    bool skipped(const Path& path) const {
        return (excluded_ && path == *excluded_) || any_matches(ignore_, path);
    }

    // Only the top-level error message, and only when both sides name the same error code.
    bool is_error_message(const Path& path) const {
        if (path.size() != 2 || path[0] != "error" || path[1] != "message") return false;
        const auto* a = member(legacy_root_, "error");
        const auto* b = member(reconstructed_root_, "error");
        const auto* code_a = a ? member(*a, "code") : nullptr;
        const auto* code_b = b ? member(*b, "code") : nullptr;
        return code_a && code_b && *code_a == *code_b;
    }

    void walk_scalar(Path& path, const json::value& a, const json::value& b) {
        if (is_date_key(path)) {
            const auto date_a = as_integer(a);
            const auto date_b = as_integer(b);
            if (date_a && date_b && within(*date_a, *date_b, options_.date_tolerance_seconds)) {
                add(path, "date", Verdict::compatible, a, b);
                return;
            }
        }
        add(path, "value", Verdict::different, a, b);
    }

    void walk_object(Path& path, const json::object& a, const json::object& b) {
        std::vector<std::string_view> keys;
        keys.reserve(a.size() + b.size());
        for (const auto& m : a)
            keys.push_back(m.key());
        for (const auto& m : b)
            keys.push_back(m.key());
        std::sort(keys.begin(), keys.end());
        keys.erase(std::unique(keys.begin(), keys.end()), keys.end());

        const Verdict added = is_stats_object(path) ? Verdict::different : Verdict::compatible;
        for (const auto key : keys) {
            const auto* in_a = a.if_contains(key);
            const auto* in_b = b.if_contains(key);
            path.emplace_back(key);
            if (in_a && in_b) {
                walk(path, *in_a, *in_b);
            } else if (!skipped(path)) {
                if (in_a)
                    add(path, "missing", Verdict::different, *in_a, nullptr);
                else
                    add(path, "added", added, nullptr, *in_b);
            }
            path.pop_back();
        }
    }

    void walk_array(Path& path, const json::array& a, const json::array& b) {
        if (const auto shape = keyed_shape(path, a, b)) {
            walk_keyed(path, a, b, *shape);
            return;
        }
        const std::size_t common = std::min(a.size(), b.size());
        for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
            path.push_back(std::to_string(i));
            if (i < common)
                walk(path, a[i], b[i]);
            else if (i < a.size())
                add(path, "missing", Verdict::different, a[i], nullptr);
            else
                add(path, "extra", Verdict::different, nullptr, b[i]);
            path.pop_back();
        }
    }

    // The path of item `index`'s match context within the keyed array at `path`.
    static Path context_path(const Path& path, std::size_t index, const KeyedShape& shape) {
        Path p = path;
        p.push_back(std::to_string(index));
        if (!shape.context_parent.empty()) p.emplace_back(shape.context_parent);
        p.emplace_back(shape.context_key);
        return p;
    }

    void walk_keyed(Path& path, const json::array& a, const json::array& b, const KeyedShape& shape) {
        auto legacy = keyed_items(a, shape);
        auto rebuilt = keyed_items(b, shape);
        std::vector<std::pair<std::size_t, std::size_t>> pairs;

        // (a) Identical keys, preferring the same index so that unchanged answers pair straight across.
        std::map<std::string_view, std::vector<std::size_t>> by_key;
        for (std::size_t j = 0; j < rebuilt.size(); ++j)
            by_key[rebuilt[j].key].push_back(j);
        for (std::size_t i = 0; i < legacy.size(); ++i) {
            const auto found = by_key.find(legacy[i].key);
            if (found == by_key.end()) continue;
            std::optional<std::size_t> partner;
            if (i < rebuilt.size() && !rebuilt[i].paired && rebuilt[i].key == legacy[i].key) partner = i;
            for (const auto j : found->second) {
                if (partner) break;
                if (!rebuilt[j].paired) partner = j;
            }
            if (!partner) continue;
            legacy[i].paired = rebuilt[*partner].paired = true;
            pairs.emplace_back(i, *partner);
        }

        // (b) Same rule, the legacy context's pairs all present in the reconstructed one. With the context
        // ignored, the rule alone pairs them.
        std::vector<std::optional<ContextPairs>> parsed(rebuilt.size());
        for (std::size_t j = 0; j < rebuilt.size(); ++j) {
            const auto* c = rebuilt[j].context;
            if (!rebuilt[j].paired && c && c->is_string()) parsed[j] = parse_match_context(c->get_string());
        }
        for (std::size_t i = 0; i < legacy.size(); ++i) {
            if (legacy[i].paired) continue;
            const Path where = context_path(path, i, shape);
            const bool context_ignored = any_matches(ignore_, where);
            const auto* c = legacy[i].context;
            std::optional<ContextPairs> mine;
            if (c && c->is_string()) mine = parse_match_context(c->get_string());
            if (!mine && !context_ignored) continue;

            const auto fits = [&](std::size_t j) {
                return !rebuilt[j].paired && same_rule(legacy[i], rebuilt[j]) &&
                       (context_ignored || (parsed[j] && is_subset(*mine, *parsed[j])));
            };
            std::optional<std::size_t> partner;
            if (i < rebuilt.size() && fits(i)) partner = i;
            for (std::size_t j = 0; !partner && j < rebuilt.size(); ++j)
                if (fits(j)) partner = j;
            if (!partner) continue;
            legacy[i].paired = rebuilt[*partner].paired = true;
            pairs.emplace_back(i, *partner);
            if (!context_ignored && *legacy[i].context != *rebuilt[*partner].context)
                add(where, "match_context_subset", Verdict::compatible, *legacy[i].context,
                    *rebuilt[*partner].context);
        }

        // (c), (d) What is left has no counterpart.
        for (std::size_t i = 0; i < legacy.size(); ++i) {
            if (legacy[i].paired) continue;
            path.push_back(std::to_string(i));
            add(path, "match_missing", Verdict::different, *legacy[i].value, nullptr);
            path.pop_back();
        }
        for (std::size_t j = 0; j < rebuilt.size(); ++j) {
            if (rebuilt[j].paired) continue;
            path.push_back(std::to_string(j));
            add(path, "match_added", Verdict::different, nullptr, *rebuilt[j].value);
            path.pop_back();
        }

        // The rest of each pair, field by field; the contexts were settled above.
        std::sort(pairs.begin(), pairs.end());
        for (const auto& [i, j] : pairs) {
            const Path context = context_path(path, i, shape);
            const Path* outer = std::exchange(excluded_, &context);
            path.push_back(std::to_string(i));
            walk(path, *legacy[i].value, *rebuilt[j].value);
            path.pop_back();
            excluded_ = outer;
        }
    }

    const CompareOptions& options_;
    const json::value& legacy_root_;
    const json::value& reconstructed_root_;
    std::vector<PathGlob> ignore_;
    const Path* excluded_ = nullptr; // a paired item's match context, already compared
    Comparison result_;
};

bool is_index(std::string_view element) {
    return !element.empty() &&
           std::all_of(element.begin(), element.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string join(const Path& path, bool indices_as_star) {
    std::string out;
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (i) out += '.';
        out += indices_as_star && is_index(path[i]) ? std::string_view("*") : std::string_view(path[i]);
    }
    return out;
}

} // namespace

std::string_view verdict_name(Verdict v) {
    switch (v) {
    case Verdict::exact:
        return "exact";
    case Verdict::compatible:
        return "compatible";
    case Verdict::different:
        return "different";
    }
    return "different";
}

std::string path_text(const Path& path) {
    return join(path, false);
}

std::string normalized_path(const Path& path) {
    return join(path, true);
}

Comparison compare(const Answer& legacy, const Answer& reconstructed, const CompareOptions& options) {
    Walker walker(options, legacy.body, reconstructed.body);
    if (legacy.status != reconstructed.status)
        walker.add({"@status"}, "status", Verdict::different, legacy.status, reconstructed.status);
    Path path;
    walker.walk(path, legacy.body, reconstructed.body);
    return walker.take();
}

} // namespace shim::compare
