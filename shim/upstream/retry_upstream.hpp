#pragma once
// A layer of the upstream chain: retries what failed transiently (unreachable, reset, 503, 504, too slow),
// at most `retries` times, with jittered exponential backoff. Every request here is a GET, so idempotent.
#include "ops/metrics.hpp"
#include "upstream/upstream.hpp"

#include <chrono>
#include <mutex>
#include <random>

namespace shim::upstream {

class RetryUpstream final : public Upstream {
public:
    RetryUpstream(Upstream& next, unsigned retries, ops::Metrics& metrics,
                  std::chrono::milliseconds base_delay = std::chrono::milliseconds(200));
    boost::asio::awaitable<UpstreamResponse> get(UpstreamRequest request) override;

private:
    std::chrono::milliseconds backoff(unsigned attempt);

    Upstream& next_;
    unsigned retries_;
    ops::Metrics& metrics_;
    std::chrono::milliseconds base_delay_;
    std::mutex random_mutex_;
    std::minstd_rand random_;
};

} // namespace shim::upstream
