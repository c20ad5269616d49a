#pragma once
// The metrics a RedisClient writes, registered by whoever owns the registry (once, before the client's
// first call): sigma_shim_redis_up, sigma_shim_redis_errors_total{reason}, sigma_shim_redis_duration_seconds.
#include "ops/metrics.hpp"

namespace shim::redis {

void register_redis_metrics(ops::Metrics& metrics);

} // namespace shim::redis
