#include "cli/compare_command.hpp"

#include "cli/json_document.hpp"
#include "cli/recordings.hpp"
#include "compare/legacy_shape.hpp"
#include "compare/path_glob.hpp"
#include "compare/redact.hpp"
#include "compare/report.hpp"

#include <algorithm>
#include <charconv>
#include <functional>
#include <optional>

namespace shim::cli {

const char* const compare_usage = R"(usage: sigma-shim compare --legacy PATH --reconstructed PATH [options]
       sigma-shim compare --legacy PATH --upstream URL|dir:DIR|demo [options] [serve options]

Compares recorded answers of VirusTotal's deprecated sigma_analysis routes with the shim's reconstructions,
field by field, and reports each pair as exact, compatible (differs only where legacy clients cannot tell)
or different.

A PATH is one answer file or a folder of them (*.json, not recursive, in name order). A file holds the
answer's JSON body only; its status is taken from the body: 200, or for an error body the status VirusTotal
gives its error.code (InvalidArgumentError 400, AuthenticationRequiredError 401, ForbiddenError 403,
NotFoundError 404, QuotaExceededError 429, TransientError 503, DeadlineExceededError 504, other codes 500).

options:
  --legacy PATH            the recorded legacy answers (required)
  --reconstructed PATH     reconstructions to compare with, e.g. written by `sigma-shim convert`; answers are
                           paired by SHA-256 and route (from links.self, data.id or an id in the file name),
                           else by file name; two single files are compared with each other
  --upstream URL           reconstruct each legacy answer's route now through the upstream chain of
                           `sigma-shim serve`: https://host, http://host, dir:DIR (a --record folder) or demo;
                           every option compare does not know itself is passed to that chain as a serve
                           option (e.g. --api-key-env NAME, --quota-per-minute N, --match-context rule-fields)
  --match-context MODE     with --upstream: all, rule-fields or calibrated:FIELDS.json; given more than once,
                           every answer is reconstructed under each mode and the report (text or json,
                           schema sigma-shim/compare-modes/1) shows the modes side by side; the exit status
                           is then the last mode's
  --format FORMAT          text (default: a summary), json (schema sigma-shim/compare-report/1) or html
                           (one self-contained page, both answers side by side, differences highlighted)
  --output FILE            write the report to FILE instead of standard output
  --date-tolerance SECONDS integer *_date fields (analysis_date, last_modification_date) that differ by at
                           most SECONDS are compatible (default: 0)
  --ignore GLOB            leave out differences at paths matching GLOB: elements joined by '.', '*' one
                           element, '**' any number (e.g. 'data.attributes.rule_matches.*.rule_author');
                           repeatable
  --redact GLOB            mask the values at matching paths in the report (bodies and findings) with
                           "[REDACTED]", after comparing; repeatable
  -h, --help               this text

exit status: 0 no answer is different (compatible ones are allowed); 1 at least one is different, or a legacy
             answer has no reconstruction to compare with; 2 usage; 3 an input is missing, unreadable or not
             JSON, the report cannot be written, or the --upstream chain cannot be built.
)";

namespace {

namespace json = boost::json;
using compare::Answer;

struct Options {
    std::string legacy, reconstructed, format = "text", output;
    bool has_legacy = false, has_reconstructed = false, has_upstream = false, help = false;
    bool has_date_tolerance = false;
    std::int64_t date_tolerance = 0;
    std::vector<std::string> ignore, redact;
    std::vector<std::string> serve_args; // --upstream and every word not known here, in order
    std::string unknown;                 // the first word not known here
    std::string error;
};

Options parse_options(std::span<const std::string> args) {
    Options o;
    std::string date_tolerance;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        if (arg == "-h" || arg == "--help") {
            o.help = true;
            continue;
        }
        const auto eq = arg.find('=');
        const std::string_view name =
            arg.starts_with("--") ? arg.substr(2, eq == arg.npos ? arg.npos : eq - 2) : "";
        std::string* single = nullptr;
        std::vector<std::string>* list = nullptr;
        bool* given = nullptr;
        if (name == "legacy") {
            single = &o.legacy, given = &o.has_legacy;
        } else if (name == "reconstructed") {
            single = &o.reconstructed, given = &o.has_reconstructed;
        } else if (name == "format") {
            single = &o.format;
        } else if (name == "output") {
            single = &o.output;
        } else if (name == "date-tolerance") {
            single = &date_tolerance, given = &o.has_date_tolerance;
        } else if (name == "ignore") {
            list = &o.ignore;
        } else if (name == "redact") {
            list = &o.redact;
        } else if (name == "upstream") {
            // The serve side parses --upstream's value; it only has to arrive with it.
            o.has_upstream = true;
            o.serve_args.emplace_back(arg);
            if (eq == arg.npos) {
                if (i + 1 >= args.size()) {
                    o.error = "option '--upstream' needs a value";
                    return o;
                }
                o.serve_args.push_back(args[++i]);
            }
            continue;
        } else {
            if (o.unknown.empty()) o.unknown = arg;
            o.serve_args.emplace_back(arg);
            continue;
        }
        std::string value;
        if (eq != arg.npos) {
            value = arg.substr(eq + 1);
        } else if (i + 1 < args.size()) {
            value = args[++i];
        } else {
            o.error = "option '--" + std::string(name) + "' needs a value";
            return o;
        }
        if (given) *given = true;
        if (single) *single = std::move(value);
        if (list) list->push_back(std::move(value));
    }
    if (o.has_date_tolerance) {
        const auto* end = date_tolerance.data() + date_tolerance.size();
        const auto r = std::from_chars(date_tolerance.data(), end, o.date_tolerance);
        if (r.ec != std::errc{} || r.ptr != end || o.date_tolerance < 0)
            o.error = "--date-tolerance must be a whole number of seconds, 0 or more";
    }
    return o;
}

// Takes every --match-context out of the serve options and returns their values in order.
std::vector<std::string> take_match_contexts(std::vector<std::string>& serve_args) {
    std::vector<std::string> modes, kept;
    for (std::size_t i = 0; i < serve_args.size(); ++i) {
        const std::string& a = serve_args[i];
        if (a.starts_with("--match-context=")) {
            modes.push_back(a.substr(a.find('=') + 1));
        } else if (a == "--match-context" && i + 1 < serve_args.size()) {
            modes.push_back(serve_args[++i]);
        } else {
            kept.push_back(a);
        }
    }
    serve_args = std::move(kept);
    return modes;
}

int usage_error(const CommandIo& io, const std::string& message) {
    io.err << "sigma-shim compare: " << message << "\n\n" << compare_usage;
    return CompareExit::compare_usage_error;
}

std::string_view query_of(std::string_view target) {
    const auto q = target.find('?');
    return q == target.npos ? std::string_view{} : target.substr(q);
}

// For each legacy recording, the index of its reconstruction, or npos. Strongest evidence first, over all
// recordings, so that a weak match cannot take a partner a later recording names exactly: the same file name
// with the same file, route and query (several recordings of one route, named alike on both sides), then the
// same file, route and query, then the same file and route, then the same file name.
std::vector<std::size_t> pair_up(const std::vector<Recording>& legacy,
                                 const std::vector<Recording>& rebuilt) {
    constexpr auto none = static_cast<std::size_t>(-1);
    std::vector<std::size_t> partner(legacy.size(), none);
    std::vector<bool> taken(rebuilt.size(), false);
    const auto same_route = [](const Recording& a, const Recording& b, bool with_query) {
        if (!a.shape || !b.shape || a.shape->sha256.empty() || a.shape->sha256 != b.shape->sha256)
            return false;
        const auto kind = compare::legacy_route_kind(a.shape->target);
        if (kind.empty() || kind != compare::legacy_route_kind(b.shape->target)) return false;
        return !with_query || query_of(a.shape->target) == query_of(b.shape->target);
    };
    const std::function<bool(const Recording&, const Recording&)> passes[] = {
        [&](const Recording& a, const Recording& b) { return a.name == b.name && same_route(a, b, true); },
        [&](const Recording& a, const Recording& b) { return same_route(a, b, true); },
        [&](const Recording& a, const Recording& b) { return same_route(a, b, false); },
        [](const Recording& a, const Recording& b) { return a.name == b.name; },
    };
    for (const auto& matches : passes) {
        for (std::size_t i = 0; i < legacy.size(); ++i) {
            if (partner[i] != none) continue;
            for (std::size_t j = 0; j < rebuilt.size(); ++j) {
                if (taken[j] || !matches(legacy[i], rebuilt[j])) continue;
                partner[i] = j;
                taken[j] = true;
                break;
            }
        }
    }
    return partner;
}

compare::ReportEntry entry_for(const Recording& legacy) {
    compare::ReportEntry e;
    e.name = legacy.name;
    e.legacy = legacy.answer;
    if (legacy.shape) {
        e.sha256 = legacy.shape->sha256;
        e.target = legacy.shape->target;
    }
    return e;
}

// Nothing to compare with is a difference: a CI gate must not pass because a reconstruction went missing.
compare::ReportEntry unpaired(const Recording& legacy) {
    auto e = entry_for(legacy);
    e.reconstructed = Answer{0, nullptr};
    e.result.verdict = compare::Verdict::different;
    e.result.findings.push_back({{"@file"}, "unpaired", compare::Verdict::different, nullptr, nullptr});
    return e;
}

} // namespace

int run_compare(std::span<const std::string> args, const CommandIo& io, const ReconstructorFactory& factory) {
    auto o = parse_options(args);
    if (o.help) {
        io.out << compare_usage;
        return CompareExit::same;
    }
    if (!o.error.empty()) return usage_error(io, o.error);
    if (!o.has_upstream && !o.unknown.empty()) {
        return usage_error(io, o.unknown.starts_with("--") ? "unknown option '" + o.unknown + "'"
                                                           : "unexpected argument '" + o.unknown + "'");
    }
    if (!o.has_legacy) return usage_error(io, "--legacy is required");
    if (o.has_upstream == o.has_reconstructed)
        return usage_error(io, "give exactly one of --reconstructed and --upstream");
    if (o.format != "text" && o.format != "json" && o.format != "html")
        return usage_error(io, "unknown --format '" + o.format + "' (text, json or html)");

    std::vector<Recording> legacy, rebuilt;
    bool legacy_folder = false, rebuilt_folder = false;
    if (!load_recordings(o.legacy, "compare", io, legacy, legacy_folder)) return CompareExit::unreadable;
    if (o.has_reconstructed && !load_recordings(o.reconstructed, "compare", io, rebuilt, rebuilt_folder))
        return CompareExit::unreadable;

    compare::CompareOptions options;
    options.date_tolerance_seconds = o.date_tolerance;
    options.ignore = o.ignore;

    const auto compare_entry = [&](const Recording& l, const Answer& reconstructed, const Recording* r) {
        auto e = entry_for(l);
        if (r && r->shape) {
            if (e.sha256.empty()) e.sha256 = r->shape->sha256;
            if (e.target.empty()) e.target = r->shape->target;
        }
        e.reconstructed = reconstructed;
        e.result = compare::compare(e.legacy, e.reconstructed, options);
        return e;
    };
    const auto redacted = [&](std::vector<compare::ReportEntry> entries) {
        if (o.redact.empty()) return entries;
        std::vector<compare::PathGlob> globs;
        for (const auto& g : o.redact)
            globs.emplace_back(g);
        for (auto& e : entries) {
            compare::redact(e.legacy.body, globs);
            compare::redact(e.reconstructed.body, globs);
            compare::redact(e.result.findings, globs);
        }
        return entries;
    };

    // One report per --match-context mode when it is given more than once; else one report.
    std::vector<compare::ModeReport> reports;
    if (o.has_upstream) {
        auto modes = take_match_contexts(o.serve_args);
        if (modes.size() > 1 && o.format == "html")
            return usage_error(io,
                               "--format html shows one --match-context mode; use text or json for several");
        if (modes.empty()) modes.emplace_back(); // the serve default
        for (const auto& mode : modes) {
            auto serve_args = o.serve_args;
            if (!mode.empty()) serve_args.insert(serve_args.end(), {"--match-context", mode});
            std::string error;
            auto reconstructor = factory ? factory(serve_args, error) : nullptr;
            if (!reconstructor) {
                io.err << "sigma-shim compare: " << (error.empty() ? "--upstream cannot be used here" : error)
                       << '\n';
                return CompareExit::unreadable;
            }
            std::vector<compare::ReportEntry> entries;
            for (const auto& l : legacy) {
                if (!l.shape) {
                    if (reports.empty())
                        io.err << "sigma-shim compare: " << l.path
                               << ": no legacy route found (links.self, data.links.self or a file id in the "
                                  "name)\n";
                    entries.push_back(unpaired(l));
                    continue;
                }
                entries.push_back(compare_entry(l, reconstructor->reconstruct(l.shape->target), nullptr));
            }
            reports.push_back({mode, compare::make_report(redacted(std::move(entries)))});
        }
    } else {
        std::vector<compare::ReportEntry> entries;
        entries.reserve(legacy.size());
        if (!legacy_folder && !rebuilt_folder) {
            // Two files named on the command line are meant to be compared, whatever they are called.
            entries.push_back(compare_entry(legacy.front(), rebuilt.front().answer, &rebuilt.front()));
        } else {
            const auto partner = pair_up(legacy, rebuilt);
            std::vector<bool> used(rebuilt.size(), false);
            for (std::size_t i = 0; i < legacy.size(); ++i) {
                if (partner[i] < rebuilt.size()) {
                    used[partner[i]] = true;
                    entries.push_back(
                        compare_entry(legacy[i], rebuilt[partner[i]].answer, &rebuilt[partner[i]]));
                } else {
                    entries.push_back(unpaired(legacy[i]));
                }
            }
            for (std::size_t j = 0; j < rebuilt.size(); ++j)
                if (!used[j])
                    io.err << "sigma-shim compare: warning: " << rebuilt[j].path
                           << ": no legacy answer to compare with; left out\n";
        }
        reports.push_back({"", compare::make_report(redacted(std::move(entries)))});
    }

    // With several modes the exit status is the last one's: the mode being migrated to goes last.
    const auto& report = reports.back().report;
    const std::string bytes = reports.size() > 1   ? (o.format == "json" ? compare::modes_report_json(reports)
                                                                         : compare::modes_report_text(reports))
                              : o.format == "json" ? compare::report_json(report)
                              : o.format == "html" ? compare::report_html(report)
                                                   : compare::report_text(report);
    if (o.output.empty()) {
        io.out << bytes;
        io.out.flush();
    } else {
        if (!write_file(o.output, bytes)) {
            io.err << "sigma-shim compare: " << o.output << ": cannot write the report\n";
            return CompareExit::unreadable;
        }
        io.err << "sigma-shim compare: " << report.total << " compared: " << report.exact << " exact, "
               << report.compatible << " compatible, " << report.different << " different; report in "
               << o.output << '\n';
    }
    return report.different > 0 ? CompareExit::differs : CompareExit::same;
}

} // namespace shim::cli
