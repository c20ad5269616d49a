#pragma once
// `sigma-shim serve`: the proxy.
#include <span>
#include <string>

namespace shim::app {

// `args` are the words after "serve". Returns the exit status: 0 after a drain, 2 for a bad configuration.
int run_serve(std::span<const std::string> args);

} // namespace shim::app
