#pragma once
// `sigma-shim calibrate`: learns, from recorded legacy answers and today's objects of the same files, which
// fields the legacy service wrote into each rule's match-context string, and writes them as a FIELDS.json
// for `--match-context calibrated:FIELDS.json` (docs/calibration.md).
#include "cli/convert_command.hpp"

#include <boost/json/value.hpp>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shim::cli {

enum CalibrateExit : int {
    calibrated = 0,
    nothing_learnt = 1,
    calibrate_usage_error = 2,
    calibrate_failed = 3
};

// Today's objects of one file, as `serve` fetches them for a reconstruction.
struct FileObjects {
    boost::json::value file;                    // the File object
    std::vector<boost::json::value> behaviours; // its File behaviour objects, in upstream order
    bool behaviours_truncated = false;          // more pages existed than --behaviour-pages allowed
    std::string error;                          // set: they could not be had, and why
};

class ObjectSource {
public:
    virtual ~ObjectSource() = default;
    virtual FileObjects fetch(std::string_view file_id) = 0;
};

// Builds an ObjectSource from the serve options (`--upstream` and the rest; `--objects DIR` arrives as
// `--upstream dir:DIR`). Returns null and sets `error` (one line) when they are not a good configuration.
using ObjectSourceFactory =
    std::function<std::unique_ptr<ObjectSource>(std::span<const std::string> serve_args, std::string& error)>;

// `args` are the words after "calibrate".
int run_calibrate(std::span<const std::string> args, const CommandIo& io, const ObjectSourceFactory& factory);

extern const char* const calibrate_usage;

} // namespace shim::cli
