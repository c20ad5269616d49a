#pragma once
// The quota guard of every upstream exchange (reconstruction fetches and pass-through alike): keeps each key
// within its VirusTotal quota. A request that would exceed it
// waits up to --quota-wait, then gets a local 429 QuotaExceededError with Retry-After, and the upstream is
// not touched. An upstream 429 marks the key exhausted until its Retry-After (or a minute) has passed.
#include "economy/quota_book.hpp"
#include "ops/metrics.hpp"
#include "serve/config.hpp"
#include "upstream/exchange.hpp"

#include <optional>

namespace shim::upstream {

class QuotaUpstream final : public QuotaGate {
public:
    QuotaUpstream(const serve::ServeConfig& config, ops::Metrics& metrics);

    // Takes one request of `api_key`'s quota, waiting within --quota-wait; the local 429 answer when refused.
    // Every request to VirusTotal counts, pass-through too.
    boost::asio::awaitable<std::optional<UpstreamResponse>> admit(const std::string& api_key) override;
    // What an upstream answer says of the quota: a 429 marks the key exhausted.
    void observe(const std::string& api_key, unsigned status, const std::string& retry_after) override;

private:
    void publish(const std::string& book_key);

    const serve::ServeConfig& config_;
    ops::Metrics& metrics_;
    economy::QuotaBook book_;
};

} // namespace shim::upstream
