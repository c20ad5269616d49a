#include "calibrate/report.hpp"

namespace shim::calibrate {

namespace {

// One finding per line: a control character (a newline in a command line, say) would break that.
std::string visible(std::string_view text) {
    std::string out(text);
    for (auto& ch : out) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7F) ch = '?';
    }
    return out;
}

std::string count(std::size_t n, std::string_view one, std::string_view many) {
    return std::to_string(n) + ' ' + std::string(n == 1 ? one : many);
}

std::string matches(std::size_t n) {
    return count(n, "match", "matches");
}

std::string fields_text(const std::vector<std::string>& fields) {
    std::string out;
    for (const auto& field : fields) {
        if (!out.empty()) out += ',';
        out += visible(field);
    }
    return out;
}

std::string selection_text(const sigma_analysis::FieldSelection& selection) {
    return fields_text(selection.fields) + " (" + matches(selection.support) + ')';
}

std::string_view reason_text(WinReason reason) {
    switch (reason) {
    case WinReason::more_support:
        return "more support";
    case WinReason::more_fields:
        return "equal support, more fields";
    case WinReason::byte_order:
        return "equal support and fields, first in byte order";
    }
    return "";
}

std::string rule_line(const LearntRule& rule) {
    std::string line = "rule " + visible(rule.rule_id) + ": " + fields_text(rule.chosen.fields) + " (";
    if (rule.chosen.support == rule.explained)
        line += matches(rule.explained);
    else
        line += std::to_string(rule.chosen.support) + " of " + matches(rule.explained);
    if (rule.ambiguous > 0) line += ", " + std::to_string(rule.ambiguous) + " of them readable several ways";
    return line + ")\n";
}

std::string conflict_line(const Conflict& conflict) {
    std::string line = "conflict: rule " + visible(conflict.rule_id) + ": chose " +
                       selection_text(conflict.selections.front()) + " over ";
    for (std::size_t i = 1; i < conflict.selections.size(); ++i) {
        if (i > 1) line += ", ";
        line += selection_text(conflict.selections[i]);
    }
    return line + ": " + std::string(reason_text(conflict.reason)) + '\n';
}

std::string unexplained_line(const Unexplained& u) {
    std::string line = "unexplained: " + visible(u.recording) + ": rule " + visible(u.rule_id) + ": \"" +
                       visible(u.legacy) + "\" (";
    if (u.events == 0)
        line += "no event of this rule today";
    else if (u.gave_up)
        line += count(u.events, "event", "events") + " today, the search stopped at its limit";
    else if (u.events == 1)
        line += "its one event today does not reproduce it";
    else
        line += "none of its " + std::to_string(u.events) + " events today reproduces it";
    return line + ")\n";
}

} // namespace

std::string report_text(const Report& report) {
    std::string out = "calibrate: " + count(report.recordings, "recording", "recordings") + " (" +
                      std::to_string(report.read) + " read), " + matches(report.matches) + ": " +
                      std::to_string(report.explained) + " explained, " +
                      std::to_string(report.unexplained.size()) + " unexplained, " +
                      std::to_string(report.empty.size()) + " empty; " +
                      count(report.rules.size(), "rule", "rules") + " learnt, " +
                      count(report.conflicts.size(), "conflict", "conflicts") + ", " +
                      std::to_string(report.unreadable.size()) + " unreadable\n";
    for (const auto& rule : report.rules)
        out += rule_line(rule);
    for (const auto& conflict : report.conflicts)
        out += conflict_line(conflict);
    for (const auto& u : report.unexplained)
        out += unexplained_line(u);
    for (const auto& e : report.empty)
        out += "empty: " + visible(e.recording) + ": rule " + visible(e.rule_id) +
               ": the legacy match context is empty, nothing to learn\n";
    for (const auto& u : report.unreadable)
        out += "unreadable: " + visible(u.recording) + ": " + visible(u.reason) + '\n';
    return out;
}

} // namespace shim::calibrate
