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

namespace {

json::object report_object(const Report& report) {
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
    return root;
}

// The project's writer, not json::serialize: bodies come from the network, and Boost.JSON writes a number
// beyond the double range as Infinity, which is not JSON.
std::string written(const json::object& root) {
    std::string out;
    sigma_analysis::json_out::append_value(out, root, sigma_analysis::json_out::KeyOrder::as_given);
    out += '\n';
    return out;
}

} // namespace

std::string report_json(const Report& report) {
    return written(report_object(report));
}

std::string modes_report_json(const std::vector<ModeReport>& reports) {
    json::object root;
    root["schema"] = "sigma-shim/compare-modes/1";
    json::array modes;
    for (const auto& m : reports) {
        json::object mode;
        mode["match_context"] = m.mode;
        mode["report"] = report_object(m.report);
        modes.push_back(std::move(mode));
    }
    root["modes"] = std::move(modes);
    return written(root);
}

} // namespace shim::compare
