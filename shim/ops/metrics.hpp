#pragma once
// A small Prometheus registry rendered in the text exposition format 0.0.4, so the server needs no client
// library. Registration (add_*) happens at start-up and throws std::invalid_argument on a programmer error
// (bad or duplicate name, bad label name, unsorted bounds). Recording (inc, set, gauge_add, observe) on a
// name never registered throws std::logic_error naming it: a metric that silently never moves is a bug found
// too late, and the server's per-connection catch logs it. A wrong metric type or a wrong number of label
// values is ignored.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace shim::ops {

class Metrics {
public:
    // Label values are given later in the order of label_names.
    void add_counter(std::string_view name, std::string_view help, std::vector<std::string> label_names);
    void add_gauge(std::string_view name, std::string_view help, std::vector<std::string> label_names = {});
    // bounds: the upper bounds (le) of the buckets, strictly increasing; +Inf is implied.
    void add_histogram(std::string_view name, std::string_view help, std::vector<std::string> label_names,
                       std::vector<double> bounds);

    // Label values in the order of label_names. Views, not strings: recording on a series that exists
    // allocates nothing (it runs several times per request).
    using Labels = std::initializer_list<std::string_view>;

    // Counters (by >= 0) and gauges.
    void inc(std::string_view name, Labels label_values = {}, double by = 1);
    void set(std::string_view name, double value, Labels label_values = {});
    void gauge_add(std::string_view name, double by, Labels label_values = {});
    void observe(std::string_view name, double value, Labels label_values = {});

    // Families sorted by name, series by label values; metrics without labels show 0 before first use.
    std::string render() const;

private:
    enum class Type { counter, gauge, histogram };
    // Values are atomics so that recording on a series that exists needs only the shared lock: threads
    // recording at once never wait for each other (issue 15: a waiter on a lock whose holder was preempted
    // stalls every connection of its thread).
    struct Series {
        std::atomic<double> value{0}; // counter, gauge
        // Histogram: one count per bucket (not cumulative), the last for +Inf; _count is their total.
        std::unique_ptr<std::atomic<std::uint64_t>[]> counts;
        std::atomic<double> sum{0};
    };
    // Orders label-value lists of any kind (stored strings, the views a caller passes) alike, so a series is
    // found without building its key.
    struct LabelsLess {
        using is_transparent = void;
        template <typename A, typename B>
        bool operator()(const A& a, const B& b) const {
            return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                                [](std::string_view x, std::string_view y) { return x < y; });
        }
    };
    struct Family {
        Type type;
        std::string help;
        std::vector<std::string> label_names;
        std::vector<double> bounds;
        std::map<std::vector<std::string>, Series, LabelsLess> series;
    };

    void add(std::string_view name, std::string_view help, Type type, std::vector<std::string> label_names,
             std::vector<double> bounds);
    // The family registered as `name`; throws std::logic_error when there is none.
    Family& family(std::string_view name);
    // The series for label_values, created on first use (the caller holds the lock exclusively); nullptr when
    // the number of values is wrong.
    static Series* series(Family& family, Labels label_values);
    // When accepts(type) of the family `name`, calls record(family, series) for its series of label_values:
    // under the shared lock when the series exists, else under the exclusive lock after creating it.
    template <typename Accepts, typename Record>
    void record(std::string_view name, Labels label_values, Accepts&& accepts, Record&& record);

    // Found by a name given as a view, without building a string: hashed, as it is looked up several times
    // per request; render() sorts the names.
    struct NameHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
    };
    mutable std::shared_mutex mutex_;
    std::unordered_map<std::string, Family, NameHash, std::equal_to<>> families_;
};

// Request-duration buckets in seconds, from 1 ms to 30 s (upstream calls may be slow).
std::vector<double> default_duration_buckets();

} // namespace shim::ops
