#include "compare/report.hpp"

#include <algorithm>
#include <map>

namespace shim::compare {

Report make_report(std::vector<ReportEntry> entries) {
    Report report;
    for (const auto& entry : entries) {
        switch (entry.result.verdict) {
        case Verdict::exact:
            ++report.exact;
            break;
        case Verdict::compatible:
            ++report.compatible;
            break;
        case Verdict::different:
            ++report.different;
            break;
        }
    }
    report.total = entries.size();
    report.entries = std::move(entries);
    return report;
}

std::vector<FieldCount> field_counts(const Report& report) {
    std::map<std::string, std::size_t> counts;
    for (const auto& entry : report.entries)
        for (const auto& finding : entry.result.findings)
            ++counts[normalized_path(finding.path)];
    std::vector<FieldCount> out;
    out.reserve(counts.size());
    for (auto& [path, count] : counts)
        out.push_back({path, count});
    // The map gave path order; a stable sort by count keeps it among equal counts.
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
    return out;
}

} // namespace shim::compare
