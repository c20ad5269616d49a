#include "ops/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace shim::ops {

namespace {

bool valid_name(std::string_view s, bool allow_colon) {
    if (s.empty()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                        (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

// Go's strconv 'g' style as Prometheus clients write it: shortest round-trip text, +Inf/-Inf/NaN.
std::string number(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[32];
    const auto res = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, res.ptr);
}

// HELP text escapes backslash and newline; label values also escape the double quote.
void append_escaped(std::string& out, std::string_view text, bool quote) {
    for (const char c : text) {
        switch (c) {
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '"':
            out += quote ? "\\\"" : "\"";
            break;
        default:
            out += c;
        }
    }
}

// `{a="x",b="y"}` plus an optional trailing le label; nothing at all when there are no labels.
std::string label_set(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view le = {}) {
    if (names.empty() && le.empty()) return {};
    std::string out = "{";
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += ',';
        out += names[i];
        out += "=\"";
        append_escaped(out, values[i], true);
        out += '"';
    }
    if (!le.empty()) {
        if (!names.empty()) out += ',';
        out += "le=\"";
        out += le;
        out += '"';
    }
    out += '}';
    return out;
}

} // namespace

void Metrics::add_counter(std::string_view name, std::string_view help,
                          std::vector<std::string> label_names) {
    add(name, help, Type::counter, std::move(label_names), {});
}

void Metrics::add_gauge(std::string_view name, std::string_view help, std::vector<std::string> label_names) {
    add(name, help, Type::gauge, std::move(label_names), {});
}

void Metrics::add_histogram(std::string_view name, std::string_view help,
                            std::vector<std::string> label_names, std::vector<double> bounds) {
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
            throw std::invalid_argument("histogram " + std::string(name) +
                                        ": bounds must be finite and strictly increasing");
        }
    }
    add(name, help, Type::histogram, std::move(label_names), std::move(bounds));
}

void Metrics::add(std::string_view name, std::string_view help, Type type,
                  std::vector<std::string> label_names, std::vector<double> bounds) {
    if (!valid_name(name, true)) throw std::invalid_argument("bad metric name: " + std::string(name));
    for (const auto& label : label_names) {
        // "__" is reserved for Prometheus itself; le belongs to the histogram buckets.
        if (!valid_name(label, false) || label.starts_with("__") ||
            (type == Type::histogram && label == "le")) {
            throw std::invalid_argument("bad label name for " + std::string(name) + ": " + label);
        }
    }
    std::unique_lock lock(mutex_);
    if (families_.contains(name))
        throw std::invalid_argument("metric registered twice: " + std::string(name));
    Family family{type, std::string(help), std::move(label_names), std::move(bounds), {}};
    // A metric without labels has exactly one series, so it is shown (as 0) before anything is recorded.
    if (family.label_names.empty()) series(family, {});
    families_.emplace(std::string(name), std::move(family));
}

Metrics::Family& Metrics::family(std::string_view name) {
    const auto it = families_.find(name);
    if (it == families_.end()) throw std::logic_error("metric not registered: " + std::string(name));
    return it->second;
}

Metrics::Series* Metrics::series(Family& family, Labels label_values) {
    if (label_values.size() != family.label_names.size()) return nullptr;
    auto it = family.series.find(label_values);
    if (it == family.series.end()) {
        it = family.series.try_emplace(std::vector<std::string>(label_values.begin(), label_values.end()))
                 .first;
        if (family.type == Type::histogram) // value-initialised: every bucket starts at 0
            it->second.counts = std::make_unique<std::atomic<std::uint64_t>[]>(family.bounds.size() + 1);
    }
    return &it->second;
}

template <typename Accepts, typename Record>
void Metrics::record(std::string_view name, Labels label_values, Accepts&& accepts, Record&& record) {
    {
        std::shared_lock lock(mutex_);
        Family& f = family(name);
        if (!accepts(f.type)) return;
        if (const auto it = f.series.find(label_values); it != f.series.end()) {
            record(f, it->second);
            return;
        }
        if (label_values.size() != f.label_names.size()) return;
    }
    std::unique_lock lock(mutex_);
    Family& f = family(name);
    if (Series* s = series(f, label_values)) record(f, *s);
}

void Metrics::inc(std::string_view name, Labels label_values, double by) {
    record(
        name, label_values,
        // A counter only goes up; a negative or NaN step would break rate() for every reader.
        [by](Type t) { return t == Type::gauge || (t == Type::counter && by >= 0); },
        [by](const Family&, Series& s) { s.value.fetch_add(by, std::memory_order_relaxed); });
}

void Metrics::set(std::string_view name, double value, Labels label_values) {
    record(
        name, label_values, [](Type t) { return t == Type::gauge; },
        [value](const Family&, Series& s) { s.value.store(value, std::memory_order_relaxed); });
}

void Metrics::gauge_add(std::string_view name, double by, Labels label_values) {
    record(
        name, label_values, [](Type t) { return t == Type::gauge; },
        [by](const Family&, Series& s) { s.value.fetch_add(by, std::memory_order_relaxed); });
}

void Metrics::observe(std::string_view name, double value, Labels label_values) {
    record(
        // A NaN would make _sum NaN for the rest of the process's life.
        name, label_values, [value](Type t) { return t == Type::histogram && !std::isnan(value); },
        [value](const Family& f, Series& s) {
            const auto bucket = std::lower_bound(f.bounds.begin(), f.bounds.end(), value) - f.bounds.begin();
            s.counts[static_cast<std::size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
            s.sum.fetch_add(value, std::memory_order_relaxed);
        });
}

std::string Metrics::render() const {
    // Shared: recording goes on meanwhile; each number is read once, and _count is the buckets' total, so a
    // histogram stays consistent with itself.
    std::shared_lock lock(mutex_);
    std::vector<const std::pair<const std::string, Family>*> sorted;
    sorted.reserve(families_.size());
    for (const auto& entry : families_)
        sorted.push_back(&entry);
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
    std::string out;
    for (const auto* entry : sorted) {
        const auto& [name, f] = *entry;
        out += "# HELP " + name + ' ';
        append_escaped(out, f.help, false);
        out += "\n# TYPE " + name + ' ';
        out += f.type == Type::counter ? "counter" : f.type == Type::gauge ? "gauge" : "histogram";
        out += '\n';
        for (const auto& [values, s] : f.series) {
            if (f.type != Type::histogram) {
                out += name + label_set(f.label_names, values) + ' ' + number(s.value.load()) + '\n';
                continue;
            }
            std::uint64_t cumulative = 0;
            for (std::size_t i = 0; i <= f.bounds.size(); ++i) {
                cumulative += s.counts[i].load();
                const std::string le = i < f.bounds.size() ? number(f.bounds[i]) : "+Inf";
                out += name + "_bucket" + label_set(f.label_names, values, le) + ' ' +
                       std::to_string(cumulative) + '\n';
            }
            const std::string labels = label_set(f.label_names, values);
            out += name + "_sum" + labels + ' ' + number(s.sum.load()) + '\n';
            out += name + "_count" + labels + ' ' + std::to_string(cumulative) + '\n';
        }
    }
    return out;
}

std::vector<double> default_duration_buckets() {
    return {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

} // namespace shim::ops
