#include "redis/redis_observability.hpp"

namespace shim::redis {

void register_redis_metrics(ops::Metrics& m) {
    m.add_gauge(
        "sigma_shim_redis_up",
        "1 while Redis answers, 0 once it did not (a failed connect, a timeout, a dropped connection)");
    m.add_counter("sigma_shim_redis_errors_total",
                  "Redis calls without a reply (timeout, unreachable, closed) or with an error reply (reply)",
                  {"reason"});
    // Redis answers in well under a millisecond on a LAN; the deadline is a few hundred.
    m.add_histogram(
        "sigma_shim_redis_duration_seconds", "Redis call durations, a pipeline counted once", {},
        {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
}

std::function<void(RedisState, const std::string&)> log_redis_state_changes(ops::Logger& logger) {
    return [&logger](RedisState state, const std::string& detail) {
        if (state == RedisState::up)
            logger.write(ops::LogLevel::info, "redis up", {{"detail", detail}});
        else
            logger.write(ops::LogLevel::warn, "redis down", {{"detail", detail}});
    };
}

} // namespace shim::redis
