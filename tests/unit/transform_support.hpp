#pragma once
// The transform run in-process the way `sigma-shim convert` runs it, with the extraction's options given
// directly: for what convert's flags do not reach (a calibration, its fallback mode).
#include "sigma_analysis/analysis.hpp"
#include "sigma_analysis/calibration.hpp"
#include "sigma_analysis/match_context.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace test_support {

struct TransformRun {
    std::string file;                    // the File document's path
    std::vector<std::string> behaviours; // behaviour pages' paths, in upstream order
    std::string rules = {};              // a folder of sigma_rule objects, or empty for none
    std::string form = "object";         // a --form name
    sigma_analysis::ContextMode mode = sigma_analysis::ContextMode::all;
    const sigma_analysis::Calibration* calibration = nullptr;
    sigma_analysis::ContextMode fallback = sigma_analysis::ContextMode::rule_fields;
};

struct TransformResult {
    std::string out; // what convert prints on standard output: the answer and a newline
    bool partial = false;
    sigma_analysis::Diagnostics diagnostics = {};
    std::size_t matches = 0;
};

// Loads the documents, extracts and renders as `convert --form FORM` does, with its defaults (the public
// base https://www.virustotal.com, the File object's SHA-256 as the id, no window). Throws when an input
// cannot be read or is not what it should be.
TransformResult run_transform(const TransformRun& run);

// A JSON text as the transform would write the same value: compact, keys in byte order at every level,
// strings escaped by the transform's escaper, a final newline. Compared with an answer, it makes a legacy
// example (stored as VirusTotal wrote it) a byte-for-byte expectation.
std::string transform_bytes_of(std::string_view json_text);

} // namespace test_support
