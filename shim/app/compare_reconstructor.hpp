#pragma once
// The upstream side of `sigma-shim compare --upstream`: the serve flags it was given build the same upstream
// chain and legacy handler as `serve`, and each recorded legacy route is answered through them again.
#include "cli/compare_command.hpp"

#include <memory>
#include <span>
#include <string>

namespace shim::app {

std::unique_ptr<cli::Reconstructor> make_compare_reconstructor(std::span<const std::string> serve_args,
                                                               std::string& error);

} // namespace shim::app
