#pragma once
// A layer of the upstream chain: keeps each key within its VirusTotal quota. A request that would exceed it
// waits up to QuotaOptions::wait, then gets a local 429 QuotaExceededError with Retry-After, and the upstream
// is not touched. An upstream 429 marks the key exhausted until its Retry-After (or a minute) has passed.
#include "economy/quota_book.hpp"
#include "ops/metrics.hpp"
#include "upstream/clock.hpp"
#include "upstream/upstream.hpp"

#include <chrono>
#include <optional>

namespace shim::upstream {

struct QuotaOptions {
    unsigned per_minute = 0; // 0: no limit in that window
    unsigned per_day = 0;
    // How long a request may wait for its quota before it is refused. The waiting itself is a real timer,
    // whatever the clock: the clock decides only whether a request may go and how long until it could.
    std::chrono::milliseconds wait{0};
};

class QuotaUpstream final : public Upstream {
public:
    QuotaUpstream(Upstream& next, QuotaOptions options, const Clock& clock, ops::Metrics& metrics);
    boost::asio::awaitable<UpstreamResponse> get(UpstreamRequest request) override;

    // Takes one request of `api_key`'s quota, waiting within QuotaOptions::wait; the local 429 answer when
    // refused. Pass-through uses it too: every request to VirusTotal counts.
    boost::asio::awaitable<std::optional<UpstreamResponse>> admit(const std::string& api_key);
    // What an upstream answer says of the quota: a 429 marks the key exhausted.
    void observe(const std::string& api_key, unsigned status, const std::string& retry_after);

private:
    void publish(const std::string& book_key);

    Upstream& next_;
    const QuotaOptions options_;
    const Clock& clock_;
    ops::Metrics& metrics_;
    economy::QuotaBook book_;
};

} // namespace shim::upstream
