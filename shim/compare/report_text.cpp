#include "compare/report.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <sstream>

namespace shim::compare {

namespace {

constexpr std::size_t top_n = 10;

// Terminals and CI logs differ in how they show UTF-8 and control characters, and any wide character would
// break the column alignment: each non-ASCII character becomes one '?', each control character too.
std::string ascii(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x80 && c < 0xC0) continue; // a UTF-8 continuation byte: its lead byte already gave a '?'
        out += (c < 0x20 || c >= 0x7F) ? '?' : ch;
    }
    return out;
}

std::string clip(std::string text, std::size_t width) {
    if (text.size() <= width) return text;
    text.resize(width - 3);
    return text + "...";
}

std::string short_value(const boost::json::value& v) {
    return v.is_null() ? std::string("(absent)") : clip(ascii(boost::json::serialize(v)), 40);
}

struct Column {
    std::string header;
    bool right = false;
    std::size_t max_width = 60;
};

void write_table(std::ostream& out, const std::vector<Column>& columns,
                 const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> widths;
    for (const auto& c : columns)
        widths.push_back(c.header.size());
    std::vector<std::vector<std::string>> cells;
    for (const auto& row : rows) {
        auto& line = cells.emplace_back();
        for (std::size_t i = 0; i < columns.size(); ++i) {
            line.push_back(clip(ascii(i < row.size() ? row[i] : std::string()), columns[i].max_width));
            widths[i] = std::max(widths[i], line.back().size());
        }
    }
    const auto write_row = [&](const std::vector<std::string>& line) {
        std::string text;
        for (std::size_t i = 0; i < columns.size(); ++i) {
            if (i > 0) text += "  ";
            const std::string pad(widths[i] - line[i].size(), ' ');
            text += columns[i].right ? pad + line[i] : line[i] + pad;
        }
        while (!text.empty() && text.back() == ' ')
            text.pop_back();
        out << text << '\n';
    };
    std::vector<std::string> header, rule;
    for (std::size_t i = 0; i < columns.size(); ++i) {
        header.push_back(columns[i].header);
        rule.push_back(std::string(widths[i], '-'));
    }
    write_row(header);
    write_row(rule);
    for (const auto& line : cells)
        write_row(line);
}

std::size_t count_of(const ReportEntry& entry, Verdict v) {
    return static_cast<std::size_t>(std::count_if(entry.result.findings.begin(), entry.result.findings.end(),
                                                  [v](const Finding& f) { return f.verdict == v; }));
}

// The first finding that makes the entry's class: a compatible detail listed before the real difference
// would send the reader the wrong way.
std::string first_finding(const ReportEntry& entry) {
    const auto& findings = entry.result.findings;
    auto it = std::find_if(findings.begin(), findings.end(),
                           [&](const Finding& f) { return f.verdict == entry.result.verdict; });
    if (it == findings.end()) it = findings.begin();
    if (it == findings.end()) return {};
    std::string text = path_text(it->path) + ": " + it->kind;
    if (!it->legacy.is_null() || !it->reconstructed.is_null())
        text += " (" + short_value(it->legacy) + " -> " + short_value(it->reconstructed) + ")";
    return text;
}

} // namespace

std::string report_text(const Report& report) {
    std::ostringstream out;
    out << "sigma-shim compare: " << report.total << (report.total == 1 ? " answer" : " answers")
        << " compared\n\n";

    write_table(out, {{"class"}, {"answers", true}},
                {{"exact", std::to_string(report.exact)},
                 {"compatible", std::to_string(report.compatible)},
                 {"different", std::to_string(report.different)},
                 {"total", std::to_string(report.total)}});

    const auto fields = field_counts(report);
    out << "\nfields that differ most";
    if (fields.empty()) {
        out << ": none\n";
    } else {
        out << " (" << std::min(fields.size(), top_n) << " of " << fields.size() << ")\n";
        std::vector<std::vector<std::string>> rows;
        for (std::size_t i = 0; i < fields.size() && i < top_n; ++i)
            rows.push_back({fields[i].path, std::to_string(fields[i].count)});
        write_table(out, {{"field", false, 80}, {"findings", true}}, rows);
    }

    std::vector<const ReportEntry*> worst;
    for (const auto& entry : report.entries)
        if (entry.result.verdict != Verdict::exact) worst.push_back(&entry);
    std::stable_sort(worst.begin(), worst.end(), [](const ReportEntry* a, const ReportEntry* b) {
        const auto da = count_of(*a, Verdict::different), db = count_of(*b, Verdict::different);
        if (da != db) return da > db;
        return count_of(*a, Verdict::compatible) > count_of(*b, Verdict::compatible);
    });
    out << "\nworst files";
    if (worst.empty()) {
        out << ": none\n";
    } else {
        out << " (" << std::min(worst.size(), top_n) << " of " << worst.size() << ")\n";
        std::vector<std::vector<std::string>> rows;
        bool truncated = false;
        for (std::size_t i = 0; i < worst.size() && i < top_n; ++i) {
            const auto& e = *worst[i];
            truncated = truncated || e.result.truncated;
            rows.push_back({e.name, std::string(verdict_name(e.result.verdict)),
                            std::to_string(count_of(e, Verdict::different)) + (e.result.truncated ? "+" : ""),
                            std::to_string(count_of(e, Verdict::compatible)), first_finding(e)});
        }
        write_table(out,
                    {{"file", false, 48},
                     {"class"},
                     {"different", true},
                     {"compatible", true},
                     {"first finding", false, 100}},
                    rows);
        if (truncated) out << "(+: more findings than the report lists)\n";
    }
    return out.str();
}

std::string modes_report_text(const std::vector<ModeReport>& reports) {
    std::ostringstream out;
    out << "sigma-shim compare: the same answers under " << reports.size() << " match-context modes\n\n";
    std::vector<Column> columns{{"class"}};
    for (const auto& m : reports)
        columns.push_back({m.mode, true});
    std::vector<std::vector<std::string>> rows{{"exact"}, {"compatible"}, {"different"}, {"total"}};
    for (const auto& m : reports) {
        rows[0].push_back(std::to_string(m.report.exact));
        rows[1].push_back(std::to_string(m.report.compatible));
        rows[2].push_back(std::to_string(m.report.different));
        rows[3].push_back(std::to_string(m.report.total));
    }
    write_table(out, columns, rows);

    // Entries line up: every mode compared the same recordings in the same order.
    std::vector<std::vector<std::string>> changed;
    const std::size_t n = reports.empty() ? 0 : reports.front().report.entries.size();
    for (std::size_t i = 0; i < n; ++i) {
        std::vector<std::string> row{reports.front().report.entries[i].name};
        bool same = true;
        for (const auto& m : reports) {
            const auto verdict =
                i < m.report.entries.size() ? m.report.entries[i].result.verdict : Verdict::different;
            row.emplace_back(verdict_name(verdict));
            same = same && row.back() == row[1];
        }
        if (!same) changed.push_back(std::move(row));
    }
    out << "\nfiles whose class depends on the mode";
    if (changed.empty()) {
        out << ": none\n";
    } else {
        out << " (" << changed.size() << ")\n";
        std::vector<Column> file_columns{{"file", false, 48}};
        for (const auto& m : reports)
            file_columns.push_back({m.mode});
        write_table(out, file_columns, changed);
    }
    for (const auto& m : reports)
        out << "\n== --match-context " << ascii(m.mode) << "\n" << report_text(m.report);
    return out.str();
}

} // namespace shim::compare
