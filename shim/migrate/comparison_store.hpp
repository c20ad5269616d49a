#pragma once
// What the server keeps of its comparisons: counts per class, and the last N `different` results for
// /_shim/comparisons. Shared by every connection, so it locks; bounded, so it cannot grow with traffic.
#include "compare/report.hpp"

#include <cstddef>
#include <deque>
#include <mutex>
#include <set>
#include <string>

namespace shim::migrate {

class ComparisonStore {
public:
    ComparisonStore(std::size_t keep_mismatches, std::size_t max_path_labels = 50)
        : keep_(keep_mismatches), max_path_labels_(max_path_labels) {}

    // Counts `entry`; keeps it when it is `different` (the oldest kept one goes when full).
    void add(compare::ReportEntry entry);

    // The counts and the kept entries, newest first.
    compare::Report snapshot() const;

    // The metric label for a finding's normalized path: the path itself for the first `max_path_labels`
    // distinct paths seen, "other" after, so a flood of odd paths cannot blow up the metrics.
    std::string path_label(const std::string& normalized_path);

private:
    mutable std::mutex mutex_;
    std::size_t keep_;
    std::size_t max_path_labels_;
    std::deque<compare::ReportEntry> kept_; // newest at the front
    std::size_t total_ = 0, exact_ = 0, compatible_ = 0, different_ = 0;
    std::set<std::string, std::less<>> path_labels_;
};

} // namespace shim::migrate
