#include "compare/report.hpp"

#include "sigma_analysis/json_writer.hpp"

#include <boost/json/value.hpp>

namespace shim::compare {

namespace json = boost::json;

namespace {

// Members are inserted in one fixed order (boost::json keeps insertion order), so the same report always
// gives the same bytes; bodies keep the key order they were read in.
json::object answer_json(const Answer& answer) {
    json::object o;
    o["status"] = answer.status;
    o["body"] = answer.body;
    return o;
}

json::object finding_json(const Finding& finding) {
    json::object o;
    o["path"] = path_text(finding.path);
    o["kind"] = finding.kind;
    o["class"] = verdict_name(finding.verdict);
    o["legacy"] = finding.legacy;
    o["reconstructed"] = finding.reconstructed;
    return o;
}

json::object entry_json(const ReportEntry& entry) {
    json::object o;
    o["name"] = entry.name;
    o["sha256"] = entry.sha256;
    o["target"] = entry.target;
    o["class"] = verdict_name(entry.result.verdict);
    o["time"] = entry.time;
    o["legacy"] = answer_json(entry.legacy);
    o["reconstructed"] = answer_json(entry.reconstructed);
    json::array findings;
    findings.reserve(entry.result.findings.size());
    for (const auto& finding : entry.result.findings)
        findings.push_back(finding_json(finding));
    o["findings"] = std::move(findings);
    o["truncated"] = entry.result.truncated;
    return o;
}

} // namespace

std::string report_json(const Report& report) {
    json::object root;
    root["schema"] = "sigma-shim/compare-report/1";
    json::object summary;
    summary["total"] = report.total;
    summary["exact"] = report.exact;
    summary["compatible"] = report.compatible;
    summary["different"] = report.different;
    root["summary"] = std::move(summary);
    json::array fields;
    for (const auto& field : field_counts(report)) {
        json::object f;
        f["path"] = field.path;
        f["count"] = field.count;
        fields.push_back(std::move(f));
    }
    root["fields"] = std::move(fields);
    json::array results;
    results.reserve(report.entries.size());
    for (const auto& entry : report.entries)
        results.push_back(entry_json(entry));
    root["results"] = std::move(results);
    // The project's writer, not json::serialize: bodies come from the network, and Boost.JSON writes a number
    // beyond the double range as Infinity, which is not JSON.
    std::string out;
    sigma_analysis::json_out::append_value(out, root, sigma_analysis::json_out::KeyOrder::as_given);
    out += '\n';
    return out;
}

} // namespace shim::compare
