#pragma once
// `sigma-shim compare`: recorded legacy answers against reconstructions (from files, or made now through the
// upstream chain), reported as text, JSON or HTML. Exit 0 when nothing is `different`: usable as a CI gate.
#include "cli/convert_command.hpp"
#include "compare/comparison.hpp"

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace shim::cli {

enum CompareExit : int { same = 0, differs = 1, compare_usage_error = 2, unreadable = 3 };

// Rebuilds the legacy answer for one legacy route target now. Made by the serve side from `--upstream` and
// the serve flags it was given (see app/compare_reconstructor.hpp); null when --reconstructed is used.
class Reconstructor {
public:
    virtual ~Reconstructor() = default;
    virtual compare::Answer reconstruct(std::string_view target) = 0;
};

// Builds a Reconstructor from the words the compare command does not know itself (--upstream and any serve
// flag). Returns null and sets `error` (one line) when they are not a good configuration.
using ReconstructorFactory = std::function<std::unique_ptr<Reconstructor>(
    std::span<const std::string> serve_args, std::string& error)>;

// `args` are the words after "compare".
int run_compare(std::span<const std::string> args, const CommandIo& io, const ReconstructorFactory& factory);

extern const char* const compare_usage;

} // namespace shim::cli
