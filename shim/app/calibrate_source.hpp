#pragma once
// The upstream side of `sigma-shim calibrate`: today's File and behaviour objects of each recorded file,
// fetched through the upstream chain of `serve` (--upstream and the serve flags, or --objects DIR).
#include "cli/calibrate_command.hpp"

#include <memory>
#include <span>
#include <string>

namespace shim::app {

std::unique_ptr<cli::ObjectSource> make_calibrate_source(std::span<const std::string> serve_args,
                                                         std::string& error);

} // namespace shim::app
