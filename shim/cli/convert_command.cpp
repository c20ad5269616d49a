#include "cli/convert_command.hpp"

#include "cli/args.hpp"
#include "cli/json_document.hpp"
#include "sigma_analysis/extract.hpp"
#include "sigma_analysis/file_id.hpp"
#include "sigma_analysis/input.hpp"
#include "sigma_analysis/pruned_parse.hpp"
#include "sigma_analysis/render.hpp"
#include "util/match_context_option.hpp"

#include <algorithm>
#include <charconv>
#include <deque>
#include <filesystem>

namespace shim::cli {

const char* const convert_usage = R"(usage: sigma-shim convert --file FILE.json [options]

Rebuilds a legacy VirusTotal sigma_analysis answer from a File object (GET /api/v3/files/{id}) and, optionally,
its File behaviour objects (GET /api/v3/files/{id}/behaviours), and prints it on standard output.

options:
  --file FILE              the File object, with or without the {"data": ...} envelope; "-" reads stdin
  --behaviours FILE        a behaviour list page, or one behaviour object with or without envelope;
                           repeat for more pages, in upstream order
  --rules DIR              a folder of sigma_rule objects (GET /api/v3/sigma_rules/{id}), one per *.json file;
                           used by --form rules and --match-context rule-fields
  --form FORM              which legacy route's answer to print (default: object):
                             object             GET /api/v3/sigma_analyses/{id}
                             relationship       GET /api/v3/files/{id}/sigma_analysis
                             descriptor         GET /api/v3/files/{id}/relationships/sigma_analysis
                             embedded           GET /api/v3/files/{id}?relationships=sigma_analysis
                             rules              GET /api/v3/sigma_analyses/{id}/rules
                             rules-descriptors  GET /api/v3/sigma_analyses/{id}/relationships/rules
  --id ID                  the file id the client asked for (MD5, SHA-1 or SHA-256 in hex), used in links
                           (default: the File object's SHA-256)
  --match-context MODE     all (default): every key of each match context;
                           rule-fields: EventID and the fields the rule's detection names (needs --rules;
                           a rule without an object falls back to all, and the answer is partial);
                           calibrated:FIELDS.json: each rule's fields as `sigma-shim calibrate` learnt them
                           (docs/calibration.md); a rule not in the file gets the fallback mode, and the
                           answer is partial (a FIELDS.json that cannot be used: one line, exit 2)
  --match-context-fallback MODE
                           with calibrated: rule-fields (default; all where the rule has no object) or all
  --public-base URL        the base of the links (default: https://www.virustotal.com)
  --limit N                list forms: at most N items (1 to 40), with a next link; default: all items
  --cursor C               list forms: start at the cursor of a previous answer
  -h, --help               this text

exit status: 0 done; 2 usage; 3 an input unreadable, not JSON or not the object expected;
             4 the file has no Sigma analysis (the route's answer for that case is printed: NotFoundError,
               or "data": null for the descriptor and embedded forms).
A partial reconstruction (skipped upstream fields, stats only, missing rule objects) exits 0 and says so on
standard error.
)";

namespace {

namespace json = boost::json;
namespace sa = sigma_analysis;

constexpr OptionSpec convert_options[] = {
    {"file", true},
    {"behaviours", true},
    {"rules", true},
    {"form", true},
    {"id", true},
    {"match-context", true},
    {"match-context-fallback", true},
    {"public-base", true},
    {"limit", true},
    {"cursor", true},
};

constexpr std::size_t max_limit = 40;

// Inputs are parsed into documents that must outlive the analysis, which borrows their strings.
class Loader {
public:
    Loader(const CommandIo& io) : io_(io) {}

    // `keep`: build only what it names (sigma_analysis/pruned_parse.hpp); null builds the whole document.
    const json::value* load(const std::string& path, const sa::KeepTree* keep = nullptr) {
        auto doc = load_json_input(path, io_.read, "convert", io_.err, keep);
        return doc ? &docs_.emplace_back(std::move(*doc)) : nullptr;
    }

    bool fail(const std::string& path, const std::string& what) {
        io_.err << "sigma-shim convert: " << display(path) << ": " << what << '\n';
        return false;
    }

private:
    static std::string display(const std::string& path) { return path == "-" ? "standard input" : path; }

    const CommandIo& io_;
    std::deque<json::value> docs_; // stable addresses
};

bool load_rules(Loader& loader, const std::string& dir, sa::RuleCatalog& catalog, std::ostream& err) {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.path().extension() == ".json") files.push_back(entry.path());
    }
    if (ec) {
        err << "sigma-shim convert: " << dir << ": " << ec.message() << '\n';
        return false;
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
        const auto* doc = loader.load(file.string());
        if (!doc) return false;
        const auto rules = sa::find_rule_objects(*doc);
        if (!rules) return loader.fail(file.string(), rules.error);
        for (const auto* rule : rules.value)
            catalog.add(*rule);
    }
    return true;
}

int usage_error(const CommandIo& io, const std::string& message) {
    io.err << "sigma-shim convert: " << message << "\n\n" << convert_usage;
    return ConvertExit::usage;
}

} // namespace

int run_convert(std::span<const std::string> args, const CommandIo& io) {
    const auto parsed = parse_args(args, convert_options);
    if (parsed.help) {
        io.out << convert_usage;
        return ConvertExit::done;
    }
    if (!parsed.error.empty()) return usage_error(io, parsed.error);
    if (!parsed.has("file")) return usage_error(io, "--file is required");

    const auto form = sa::parse_form(parsed.get("form", "object"));
    if (!form) return usage_error(io, "unknown --form '" + parsed.get("form") + "'");
    util::MatchContextChoice context;
    const std::string mode = parsed.get("match-context", "all");
    if (const auto error = util::parse_match_context(mode, context); !error.empty()) {
        // A calibration file that cannot be used is one line, not the usage: the command line was right.
        if (!mode.starts_with("calibrated:"))
            return usage_error(io, "unknown --match-context '" + mode +
                                       "' (all, rule-fields or calibrated:FILE)");
        io.err << "sigma-shim convert: --match-context " << error << '\n';
        return ConvertExit::usage;
    }
    auto fallback = sa::ContextMode::rule_fields;
    if (parsed.has("match-context-fallback")) {
        if (const auto error =
                util::parse_match_context_fallback(parsed.get("match-context-fallback"), fallback);
            !error.empty())
            return usage_error(io, "--match-context-fallback '" + parsed.get("match-context-fallback") +
                                       "': " + error);
    }
    std::string base = parsed.get("public-base", "https://www.virustotal.com");
    if (!base.starts_with("http://") && !base.starts_with("https://")) {
        return usage_error(io, "--public-base must start with http:// or https://");
    }
    while (base.ends_with('/'))
        base.pop_back();
    const std::string id = parsed.get("id");
    if (parsed.has("id") && !sa::is_file_id(id)) {
        return usage_error(io, "--id '" + id + "' is not an MD5, SHA-1 or SHA-256 in hex");
    }

    std::optional<sa::Page> page;
    if (parsed.has("limit") || parsed.has("cursor")) {
        page = sa::Page{0, max_limit};
        if (parsed.has("limit")) {
            const std::string text = parsed.get("limit");
            std::size_t limit = 0;
            const auto res = std::from_chars(text.data(), text.data() + text.size(), limit);
            if (res.ec != std::errc{} || res.ptr != text.data() + text.size() || limit < 1 ||
                limit > max_limit) {
                return usage_error(io, "--limit must be a whole number from 1 to 40");
            }
            page->limit = limit;
        }
        if (parsed.has("cursor")) {
            const auto offset = sa::parse_cursor(parsed.get("cursor"));
            if (!offset) return usage_error(io, "--cursor '" + parsed.get("cursor") + "' is not a cursor");
            page->offset = *offset;
        }
    }

    Loader loader(io);
    const std::string file_path = parsed.get("file");
    // The embedded form writes the whole File object back; the others read a few of its members.
    const auto* file_doc =
        loader.load(file_path, *form == sa::Form::embedded ? nullptr : &sa::keep_file_document);
    if (!file_doc) return ConvertExit::bad_input;
    const auto file = sa::find_file_object(*file_doc);
    if (!file) return loader.fail(file_path, file.error), ConvertExit::bad_input;

    std::vector<const json::object*> behaviours;
    std::size_t skipped_behaviours = 0;
    if (const auto it = parsed.values.find("behaviours"); it != parsed.values.end()) {
        for (const auto& path : it->second) {
            // Behaviour objects are never written back, whatever the form.
            const auto* doc = loader.load(path, &sa::keep_behaviour_page);
            if (!doc) return ConvertExit::bad_input;
            auto found = sa::find_behaviour_objects(*doc);
            if (!found) return loader.fail(path, found.error), ConvertExit::bad_input;
            behaviours.insert(behaviours.end(), found.value.objects.begin(), found.value.objects.end());
            skipped_behaviours += found.value.skipped;
        }
    }

    sa::RuleCatalog rules;
    if (parsed.has("rules") && !load_rules(loader, parsed.get("rules"), rules, io.err)) {
        return ConvertExit::bad_input;
    }

    auto analysis =
        sa::extract({*file.value, behaviours, &rules, context.mode, context.calibration.get(), fallback});
    analysis.diagnostics.skipped += skipped_behaviours;
    const std::string request_id = parsed.has("id") ? sa::to_lower_ascii(id) : std::string(analysis.sha256);
    // A large answer goes out as it is written, not gathered whole first.
    const auto sink = [&io](std::string_view text) {
        io.out.write(text.data(), std::streamsize(text.size()));
    };
    const auto answer = sa::render(
        *form, analysis, {base, request_id, page, &rules, file_doc, sa::Embedded::descriptor, sink});

    io.out << answer.body << '\n';
    if (answer.partial)
        io.err << "sigma-shim convert: fidelity partial: " << analysis.diagnostics.summary() << '\n';
    if (!analysis.present) return ConvertExit::no_analysis;
    return answer.status == 200 ? ConvertExit::done : ConvertExit::bad_input;
}

} // namespace shim::cli
