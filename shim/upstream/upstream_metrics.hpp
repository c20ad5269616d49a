#pragma once
// The metrics the upstream exchanges and the pool write, registered by whoever owns the registry.
#include "ops/metrics.hpp"

namespace shim::upstream {

void register_upstream_metrics(ops::Metrics& metrics);

} // namespace shim::upstream
