#pragma once
// `sigma-shim convert`: the reconstruction core on files, for scripts and for checking answers by hand.
#include "cli/json_document.hpp"

#include <functional>
#include <ostream>
#include <span>
#include <string>

namespace shim::cli {

// Exit statuses of `convert`.
enum ConvertExit : int { done = 0, usage = 2, bad_input = 3, no_analysis = 4 };

struct CommandIo {
    std::ostream& out;
    std::ostream& err;
    InputReader read; // null reads files and standard input
};

// `args` are the words after "convert".
int run_convert(std::span<const std::string> args, const CommandIo& io);

extern const char* const convert_usage;

} // namespace shim::cli
