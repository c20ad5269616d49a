#pragma once
// Comparison reports in three forms: text (a summary for a terminal), JSON (machine-readable, stable schema
// "sigma-shim/compare-report/1", documented in docs/compare-report.md and docs/compare-report.schema.json)
// and HTML (one self-contained page: summary, then each file's two answers side by side, differences
// highlighted, findings listed). Pure: values in, bytes out.
#include "compare/comparison.hpp"

#include <string>
#include <vector>

namespace shim::compare {

struct ReportEntry {
    std::string name;   // the recorded file's name, or the request target in the server
    std::string sha256; // may be empty
    std::string target; // the legacy route compared
    Answer legacy;
    Answer reconstructed;
    Comparison result;
    std::int64_t time = 0; // when compared (Unix seconds); 0 in the CLI's reports
};

struct Report {
    std::vector<ReportEntry> entries;
    std::size_t total = 0; // comparisons counted, which may exceed entries (the server keeps only mismatches)
    std::size_t exact = 0;
    std::size_t compatible = 0;
    std::size_t different = 0;
};

// Counts `entries` into total/exact/compatible/different.
Report make_report(std::vector<ReportEntry> entries);

struct FieldCount {
    std::string path; // normalized_path() of the findings counted
    std::size_t count = 0;
};

// Which fields differ most: every normalized finding path with the number of findings that carry it, by count
// (most first), then by path.
std::vector<FieldCount> field_counts(const Report& report);

std::string report_json(const Report& report);
std::string report_text(const Report& report);
std::string report_html(const Report& report);

// The same recordings compared under several `--match-context` modes (`compare --upstream` with the option
// given more than once), in the order given.
struct ModeReport {
    std::string mode; // the option's value, e.g. "all" or "calibrated:FIELDS.json"
    Report report;
};

// Text: each class counted per mode, then every file whose class is not the same under all modes with its
// class under each, then each mode's own report. JSON: {"schema": "sigma-shim/compare-modes/1", "modes":
// [{"match_context": MODE, "report": the compare-report/1 object}, ...]}.
std::string modes_report_text(const std::vector<ModeReport>& reports);
std::string modes_report_json(const std::vector<ModeReport>& reports);

} // namespace shim::compare
