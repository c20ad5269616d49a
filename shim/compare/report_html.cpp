#include "compare/report.hpp"
#include "sigma_analysis/json_writer.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <ctime>
#include <map>
#include <optional>

namespace shim::compare {

namespace json = boost::json;

namespace {

constexpr std::size_t top_fields = 20;
constexpr std::size_t max_value_chars = 300;

// Bodies come from the network and may hold markup meant to run: every byte of text goes through here.
std::string escape(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 8);
    for (const char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

// Cut on a UTF-8 character boundary so that the page stays valid UTF-8.
std::string clip(std::string text, std::size_t max) {
    if (text.size() <= max) return text;
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
        --cut;
    text.resize(cut);
    return text + "...";
}

// Strings through the project's one JSON escaper, as in every answer and log line the program writes.
std::string quoted(std::string_view text) {
    std::string out;
    sigma_analysis::json_out::append_string(out, text);
    return out;
}

std::string scalar_text(const json::value& v) {
    return v.is_string() ? quoted(v.get_string()) : json::serialize(v);
}

std::string value_text(const json::value& v) {
    return v.is_null() ? std::string() : clip(json::serialize(v), max_value_chars);
}

// One line of a pretty-printed body and the path of the value it belongs to (a closing bracket belongs to its
// container), so that a finding's path can be found again among the lines.
struct Line {
    Path path;
    std::string text;
};

class Printer {
public:
    std::vector<Line> lines;

    void print(const json::value& v, const std::string& lead, bool comma) {
        const std::string indent(2 * path_.size(), ' ');
        const std::string tail = comma ? "," : "";
        if (v.is_object() && !v.as_object().empty()) {
            add(indent + lead + "{");
            const auto& o = v.as_object();
            std::size_t i = 0;
            for (const auto& member : o) {
                path_.emplace_back(member.key());
                print(member.value(), quoted(member.key()) + ": ", ++i < o.size());
                path_.pop_back();
            }
            add(indent + "}" + tail);
        } else if (v.is_array() && !v.as_array().empty()) {
            add(indent + lead + "[");
            const auto& a = v.as_array();
            for (std::size_t i = 0; i < a.size(); ++i) {
                path_.push_back(std::to_string(i));
                print(a[i], "", i + 1 < a.size());
                path_.pop_back();
            }
            add(indent + "]" + tail);
        } else {
            add(indent + lead + scalar_text(v) + tail);
        }
    }

private:
    void add(std::string text) { lines.push_back({path_, std::move(text)}); }
    Path path_;
};

using Marks = std::map<Path, Verdict>;

void mark(Marks& marks, const Path& path, Verdict v) {
    auto [it, inserted] = marks.emplace(path, v);
    if (!inserted) it->second = std::max(it->second, v);
}

const json::value* child(const json::value* v, const std::string& element) {
    if (!v) return nullptr;
    if (const auto* o = v->if_object()) return o->if_contains(element);
    if (const auto* a = v->if_array()) {
        std::size_t i = 0;
        for (const char c : element) {
            if (c < '0' || c > '9') return nullptr;
            i = i * 10 + static_cast<std::size_t>(c - '0');
        }
        return !element.empty() && i < a->size() ? &(*a)[i] : nullptr;
    }
    return nullptr;
}

const json::value* at(const json::value* v, const Path& path, std::size_t from) {
    for (std::size_t k = from; v && k < path.size(); ++k)
        v = child(v, path[k]);
    return v;
}

// The engine pairs rule matches (and listed sigma_rule objects) by their content, not by position, and
// reports what differs inside a pair at the legacy index. On the reconstructed side the path is moved to the
// partner item: the same rule whose value at the rest of the path is the finding's reconstructed value.
Path reconstructed_path(const Finding& f, const json::value& legacy, const json::value& reconstructed) {
    Path path = f.path;
    const json::value* l = &legacy;
    const json::value* r = &reconstructed;
    for (std::size_t k = 0; k < path.size() && l && r; ++k) {
        const bool keyed = (k >= 1 && path[k - 1] == "rule_matches") || (k == 1 && path[0] == "data");
        if (keyed && l->is_array() && r->is_array()) {
            const auto* item = child(l, path[k]);
            const char* id_key = k >= 1 && path[k - 1] == "rule_matches" ? "rule_id" : "id";
            const auto* id = item && item->is_object() ? item->as_object().if_contains(id_key) : nullptr;
            const auto& items = r->as_array();
            const auto fits = [&](std::size_t j) {
                const auto& candidate = items[j];
                const auto* cid = candidate.is_object() ? candidate.as_object().if_contains(id_key) : nullptr;
                if (!id || !cid || *id != *cid) return false;
                const auto* value = at(&candidate, path, k + 1);
                return f.reconstructed.is_null() ? value != nullptr : value && *value == f.reconstructed;
            };
            const auto* same = child(r, path[k]);
            if (!(same && fits(static_cast<std::size_t>(same - items.data())))) {
                for (std::size_t j = 0; j < items.size(); ++j) {
                    if (fits(j)) {
                        path[k] = std::to_string(j);
                        break;
                    }
                }
            }
        }
        l = child(l, f.path[k]);
        r = child(r, path[k]);
    }
    return path;
}

// Which side shows a finding: what is absent on one side can only be pointed at on the other.
struct SideMarks {
    Marks legacy, reconstructed;
};

SideMarks side_marks(const ReportEntry& e) {
    SideMarks m;
    for (const auto& f : e.result.findings) {
        if (f.kind == "unpaired") continue;
        const bool only_legacy = f.kind == "missing" || f.kind == "match_missing";
        const bool only_reconstructed = f.kind == "added" || f.kind == "extra" || f.kind == "match_added";
        if (!only_reconstructed) mark(m.legacy, f.path, f.verdict);
        if (only_legacy) continue;
        // Items the legacy side lacks are named by their reconstructed index already.
        const bool own_index = f.kind == "extra" || f.kind == "match_added";
        mark(m.reconstructed, own_index ? f.path : reconstructed_path(f, e.legacy.body, e.reconstructed.body),
             f.verdict);
    }
    return m;
}

// The worst verdict of a finding at the line's path or at any path above it.
std::optional<Verdict> line_mark(const Marks& marks, const Path& path) {
    std::optional<Verdict> worst;
    if (marks.empty()) return worst;
    Path prefix;
    prefix.reserve(path.size());
    for (std::size_t k = 0;; ++k) {
        if (const auto it = marks.find(prefix); it != marks.end())
            worst = std::max(worst.value_or(it->second), it->second);
        if (k == path.size()) break;
        prefix.push_back(path[k]);
    }
    return worst;
}

std::string class_name(Verdict v) {
    return std::string(verdict_name(v));
}

void write_side(std::string& out, const char* title, const Answer& answer, const Marks& marks, bool present) {
    out += "<div class=\"side\"><div class=\"side-head\"><strong>";
    out += title;
    out += "</strong> ";
    if (!present) {
        out += "<span class=\"status\">no answer</span></div><pre class=\"body empty\">(none)</pre></div>\n";
        return;
    }
    const auto status_mark = line_mark(marks, Path{"@status"});
    const std::string status = "status " + std::to_string(answer.status);
    if (status_mark)
        out += "<mark class=\"diff-" + class_name(*status_mark) + "\">" + status + "</mark>";
    else
        out += "<span class=\"status\">" + status + "</span>";
    out += "</div><pre class=\"body\">";
    Printer printer;
    printer.print(answer.body, "", false);
    for (const auto& line : printer.lines) {
        // The status line's pseudo path must not highlight a body that happens to have an "@status" key.
        const auto m = line.path.empty() || line.path.front() != "@status" ? line_mark(marks, line.path)
                                                                           : std::optional<Verdict>{};
        if (m)
            out += "<mark class=\"diff-" + class_name(*m) + "\">" + escape(line.text) + "</mark>\n";
        else
            out += escape(line.text) + "\n";
    }
    out += "</pre></div>\n";
}

std::string utc_time(std::int64_t seconds) {
    const auto t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    char text[32];
    if (!gmtime_r(&t, &tm) || std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return std::to_string(seconds);
    return text;
}

std::size_t count_of(const ReportEntry& entry, Verdict v) {
    return static_cast<std::size_t>(std::count_if(entry.result.findings.begin(), entry.result.findings.end(),
                                                  [v](const Finding& f) { return f.verdict == v; }));
}

void write_entry(std::string& out, const ReportEntry& e, std::size_t index) {
    const auto cls = class_name(e.result.verdict);
    const bool unpaired = std::any_of(e.result.findings.begin(), e.result.findings.end(),
                                      [](const Finding& f) { return f.kind == "unpaired"; });
    out += "<details class=\"file\" id=\"file-" + std::to_string(index) + "\"";
    // Exact answers have nothing to look at; leaving them closed keeps a large run's page short.
    if (e.result.verdict != Verdict::exact) out += " open";
    out += "><summary><span class=\"badge " + cls + "\">" + cls + "</span> <span class=\"name\">" +
           escape(e.name) + "</span></summary>\n<table class=\"meta\">";
    out += "<tr><th>target</th><td><code>" + escape(e.target) + "</code></td></tr>";
    out += "<tr><th>sha256</th><td><code>" + escape(e.sha256) + "</code></td></tr>";
    if (e.time != 0) out += "<tr><th>time</th><td>" + utc_time(e.time) + "</td></tr>";
    out += "<tr><th>class</th><td>" + cls + "</td></tr></table>\n";

    if (!e.result.findings.empty()) {
        out += "<table class=\"findings\"><thead><tr><th>path</th><th>kind</th><th>class</th><th>legacy</th>"
               "<th>reconstructed</th></tr></thead><tbody>\n";
        for (const auto& f : e.result.findings) {
            const auto fc = class_name(f.verdict);
            out += "<tr class=\"row-" + fc + "\"><td><code>" + escape(path_text(f.path)) +
                   "</code></td><td>" + escape(f.kind) + "</td><td><span class=\"badge " + fc + "\">" + fc +
                   "</span></td><td><code>" + escape(value_text(f.legacy)) + "</code></td><td><code>" +
                   escape(value_text(f.reconstructed)) + "</code></td></tr>\n";
        }
        out += "</tbody></table>\n";
        if (e.result.truncated) out += "<p class=\"note\">More differences were found than are listed.</p>\n";
    }

    const auto marks = side_marks(e);
    out += "<div class=\"sides\">\n";
    write_side(out, "legacy", e.legacy, marks.legacy, true);
    write_side(out, "reconstructed", e.reconstructed, marks.reconstructed, !unpaired);
    out += "</div></details>\n";
}

constexpr const char* style = R"(
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1f2328; background: #fff; }
h1 { font-size: 22px; margin: 0 0 8px; }
h2 { font-size: 17px; margin: 24px 0 8px; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 12px/1.45 ui-monospace, "DejaVu Sans Mono", monospace; }
table.findings td code { white-space: pre-wrap; overflow-wrap: anywhere; }
table.findings td:nth-child(4), table.findings td:nth-child(5) { max-width: 32em; }
.badge { display: inline-block; padding: 0 8px; border-radius: 9px; font-size: 12px; font-weight: 600; }
.badge.exact { background: #dafbe1; color: #116329; }
.badge.compatible { background: #fff1a8; color: #6b4400; }
.badge.different { background: #ffd8d3; color: #a40e26; }
details.file { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 12px; margin: 12px 0; }
details.file > summary { cursor: pointer; font-size: 15px; }
details.file .name { font-weight: 600; }
.sides { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; margin-top: 10px; }
.side { min-width: 0; }
.side-head { margin-bottom: 4px; }
.side pre { margin: 0; padding: 8px; background: #f6f8fa; border: 1px solid #d0d7de; overflow: auto;
            max-height: 75vh; white-space: pre-wrap; overflow-wrap: anywhere; }
mark { color: inherit; padding: 0 2px; }
pre mark { display: inline-block; min-width: 100%; box-sizing: border-box; }
mark.diff-different { background: #ffb3ad; }
mark.diff-compatible { background: #ffe47a; }
tr.row-different td:first-child { border-left: 4px solid #cf222e; }
tr.row-compatible td:first-child { border-left: 4px solid #d4a72c; }
.note { color: #59636e; }
)";

} // namespace

std::string report_html(const Report& report) {
    std::string out;
    out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    // Defence in depth behind the escaping: the page needs nothing but its own inline style.
    out += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
           "'unsafe-inline'\">\n";
    out += "<title>sigma-shim compare report</title>\n<style>";
    out += style;
    out += "</style>\n</head>\n<body>\n<h1>sigma-shim compare report</h1>\n";

    const auto n = [](std::size_t v) { return std::to_string(v); };
    out += "<p class=\"lead\">" + n(report.total) + (report.total == 1 ? " answer" : " answers") +
           " compared: " + n(report.exact) + " exact, " + n(report.compatible) + " compatible, " +
           n(report.different) + " different.</p>\n";
    out += "<table class=\"summary\"><thead><tr><th>total</th><th>exact</th><th>compatible</th>"
           "<th>different</th></tr></thead><tbody><tr><td class=\"num\">" +
           n(report.total) + "</td><td class=\"num\">" + n(report.exact) + "</td><td class=\"num\">" +
           n(report.compatible) + "</td><td class=\"num\">" + n(report.different) +
           "</td></tr></tbody></table>\n";

    const auto fields = field_counts(report);
    out += "<h2>Fields that differ most</h2>\n";
    if (fields.empty()) {
        out += "<p>None.</p>\n";
    } else {
        out += "<table class=\"fields\"><thead><tr><th>field</th><th>findings</th></tr></thead><tbody>\n";
        for (std::size_t i = 0; i < fields.size() && i < top_fields; ++i)
            out += "<tr><td><code>" + escape(fields[i].path) + "</code></td><td class=\"num\">" +
                   n(fields[i].count) + "</td></tr>\n";
        out += "</tbody></table>\n";
        if (fields.size() > top_fields)
            out += "<p class=\"note\">" + n(fields.size() - top_fields) + " more fields not shown.</p>\n";
    }

    // Worst first, so that the page opens on what needs looking at; read order within a class.
    std::vector<std::size_t> order(report.entries.size());
    for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return report.entries[a].result.verdict > report.entries[b].result.verdict;
    });

    out += "<h2>Files</h2>\n";
    if (!report.entries.empty()) {
        out += "<table class=\"index\"><thead><tr><th>file</th><th>class</th><th>different</th>"
               "<th>compatible</th></tr></thead><tbody>\n";
        for (std::size_t i = 0; i < order.size(); ++i) {
            const auto& e = report.entries[order[i]];
            const auto cls = class_name(e.result.verdict);
            out += "<tr><td><a href=\"#file-" + n(i + 1) + "\">" + escape(e.name) +
                   "</a></td><td><span class=\"badge " + cls + "\">" + cls +
                   "</span></td><td class=\"num\">" + n(count_of(e, Verdict::different)) +
                   "</td><td class=\"num\">" + n(count_of(e, Verdict::compatible)) + "</td></tr>\n";
        }
        out += "</tbody></table>\n";
    }
    for (std::size_t i = 0; i < order.size(); ++i)
        write_entry(out, report.entries[order[i]], i + 1);
    out += "</body>\n</html>\n";
    return out;
}

} // namespace shim::compare
