#pragma once
// How a RedisClient is watched. Its metrics, registered by whoever owns the registry (once, before the
// client's first call): sigma_shim_redis_up, sigma_shim_redis_errors_total{reason}, and
// sigma_shim_redis_duration_seconds. And its state changes as log lines: one per change, not per call.
#include "ops/log.hpp"
#include "ops/metrics.hpp"
#include "redis/redis_connection.hpp"

#include <functional>
#include <string>

namespace shim::redis {

void register_redis_metrics(ops::Metrics& metrics);

// For RedisOptions::on_state_change: "redis up" (info) and "redis down" (warn) with the reason in "detail".
std::function<void(RedisState, const std::string&)> log_redis_state_changes(ops::Logger& logger);

} // namespace shim::redis
