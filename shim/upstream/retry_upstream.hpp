#pragma once
// A layer of the upstream chain: retries what failed transiently (unreachable, reset, 503, 504, too slow),
// at most `retries` times, with jittered exponential backoff. Every request here is a GET, so idempotent.
#include "ops/metrics.hpp"
#include "upstream/upstream.hpp"

#include <chrono>
#include <mutex>
#include <random>

namespace shim::upstream {

struct RetryOptions {
    unsigned retries = 2;                      // retries after the first attempt
    std::chrono::milliseconds base_delay{200}; // the pause before the first retry, before jitter
};

// The pause before retry number attempt + 1: base_delay doubled `attempt` times (the doubling stops at 2^30,
// far beyond any sensible count), scaled by `jitter`, a factor the caller draws from [0.5, 1.5] so that
// many clients do not retry in step.
std::chrono::milliseconds retry_backoff(std::chrono::milliseconds base_delay, unsigned attempt,
                                        double jitter);

class RetryUpstream final : public Upstream {
public:
    RetryUpstream(Upstream& next, RetryOptions options, ops::Metrics& metrics);
    boost::asio::awaitable<UpstreamResponse> get(UpstreamRequest request) override;

private:
    std::chrono::milliseconds backoff(unsigned attempt);

    Upstream& next_;
    const RetryOptions options_;
    ops::Metrics& metrics_;
    std::mutex random_mutex_;
    std::minstd_rand random_;
};

} // namespace shim::upstream
