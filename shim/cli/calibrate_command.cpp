#include "cli/calibrate_command.hpp"

#include "calibrate/learner.hpp"
#include "cli/args.hpp"
#include "cli/json_document.hpp"
#include "cli/recordings.hpp"
#include "sigma_analysis/calibration.hpp"

namespace shim::cli {

const char* const calibrate_usage =
    R"(usage: sigma-shim calibrate --legacy PATH --objects DIR --output FIELDS.json [options]
       sigma-shim calibrate --legacy PATH --upstream URL|dir:DIR|demo --output FIELDS.json [options]
                            [serve options]

Learns which fields the deprecated service wrote into each Sigma rule's match-context string, from recorded
legacy answers and today's File and behaviour objects of the same files, and writes them as FIELDS.json for
`--match-context calibrated:FIELDS.json` (serve, convert, compare --upstream). A legacy string is learnt from
only when an event of today's objects reproduces it byte for byte; what could not be used is reported.

options:
  --legacy PATH        the recorded legacy answers: one answer file or a folder of them (*.json, not
                       recursive); the forms that carry rule matches are read (object, relationship, rules,
                       rules-descriptors), each paired with its file by the SHA-256 in it or in its name
  --objects DIR        today's objects from a folder written by `serve --record` (the same as
                       --upstream dir:DIR)
  --upstream URL       fetch today's objects through the upstream chain of `sigma-shim serve`: https://host,
                       http://host, dir:DIR or demo; every option calibrate does not know itself is passed to
                       that chain as a serve option (e.g. --api-key-env NAME, --quota-per-minute N)
  --output FILE        where FIELDS.json is written (required)
  --format FORMAT      the report on standard output: text (default) or json (schema
                       sigma-shim/calibrate-report/1)
  -h, --help           this text

exit status: 0 FIELDS.json written; 1 nothing could be learnt (no FIELDS.json written); 2 usage; 3 an input
             is missing, unreadable or not JSON, the objects cannot be had, or FIELDS.json cannot be written.
)";

namespace {

constexpr OptionSpec calibrate_options[] = {
    {"legacy", true}, {"objects", true}, {"upstream", true}, {"output", true}, {"format", true},
};

int usage_error(const CommandIo& io, const std::string& message) {
    io.err << "sigma-shim calibrate: " << message << "\n\n" << calibrate_usage;
    return CalibrateExit::calibrate_usage_error;
}

} // namespace

int run_calibrate(std::span<const std::string> args, const CommandIo& io,
                  const ObjectSourceFactory& factory) {
    std::vector<std::string> rest;
    const auto parsed = parse_args(args, calibrate_options, &rest);
    if (parsed.help) {
        io.out << calibrate_usage;
        return CalibrateExit::calibrated;
    }
    if (!parsed.error.empty()) return usage_error(io, parsed.error);
    if (!parsed.has("legacy")) return usage_error(io, "--legacy is required");
    if (!parsed.has("output")) return usage_error(io, "--output is required");
    if (parsed.has("objects") == parsed.has("upstream"))
        return usage_error(io, "give exactly one of --objects and --upstream");
    if (parsed.has("objects") && !rest.empty())
        return usage_error(io, "unknown option '" + rest.front() + "' (serve options go with --upstream)");
    const std::string format = parsed.get("format", "text");
    if (format != "text" && format != "json")
        return usage_error(io, "unknown --format '" + format + "' (text or json)");

    std::vector<Recording> legacy;
    bool is_folder = false;
    if (!load_recordings(parsed.get("legacy"), "calibrate", io, legacy, is_folder))
        return CalibrateExit::calibrate_failed;

    std::vector<std::string> serve_args{"--upstream", parsed.has("objects") ? "dir:" + parsed.get("objects")
                                                                            : parsed.get("upstream")};
    serve_args.insert(serve_args.end(), rest.begin(), rest.end());
    std::string error;
    auto source = factory ? factory(serve_args, error) : nullptr;
    if (!source) {
        io.err << "sigma-shim calibrate: " << (error.empty() ? "the objects cannot be had here" : error)
               << '\n';
        return CalibrateExit::calibrate_failed;
    }

    calibrate::Learner learner;
    for (const auto& r : legacy) {
        if (!r.shape || r.shape->sha256.empty()) {
            learner.add_unpaired(r.name, "no file id (links.self, data.id or an id in the file name)");
            continue;
        }
        const FileObjects objects = source->fetch(r.shape->sha256);
        if (!objects.error.empty()) {
            io.err << "sigma-shim calibrate: " << r.path << ": today's objects of " << r.shape->sha256
                   << " cannot be had: " << objects.error << '\n';
            return CalibrateExit::calibrate_failed;
        }
        if (objects.behaviours_truncated)
            io.err << "sigma-shim calibrate: warning: " << r.shape->sha256
                   << ": more behaviour pages than --behaviour-pages; the rest are not read\n";
        learner.add(r.name, r.answer.body, objects.file, objects.behaviours);
    }
    const auto learnt = learner.finish();
    io.out << (format == "json" ? calibrate::report_json(learnt.report)
                                : calibrate::report_text(learnt.report));
    io.out.flush();
    if (learnt.calibration.rules.empty()) {
        io.err << "sigma-shim calibrate: nothing could be learnt from " << legacy.size()
               << (legacy.size() == 1 ? " recording" : " recordings") << "; " << parsed.get("output")
               << " not written\n";
        return CalibrateExit::nothing_learnt;
    }
    if (!write_file(parsed.get("output"), sigma_analysis::write_calibration(learnt.calibration))) {
        io.err << "sigma-shim calibrate: " << parsed.get("output") << ": cannot be written\n";
        return CalibrateExit::calibrate_failed;
    }
    io.err << "sigma-shim calibrate: " << learnt.calibration.rules.size()
           << (learnt.calibration.rules.size() == 1 ? " rule" : " rules") << " calibrated; written to "
           << parsed.get("output") << '\n';
    return CalibrateExit::calibrated;
}

} // namespace shim::cli
