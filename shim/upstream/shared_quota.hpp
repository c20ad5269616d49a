#pragma once
// A quota ledger outside the process (Redis, adapted in app/), shared by the replicas that spend one key:
// it applies economy::QuotaBook's rule (quota_book.hpp) with its own clock, so that N replicas together never
// exceed the key's quota. Every call may find the ledger unavailable; the guard then decides alone with this
// replica's share of each limit (replica_share), so the replicas together still stay within the quota.
#include "economy/quota_book.hpp"

#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>

namespace shim::upstream {

struct SharedQuotaAnswer {
    economy::QuotaDecision decision;
    economy::QuotaRemaining remaining; // after the decision
};

class SharedQuota {
public:
    virtual ~SharedQuota() = default;
    // Admits one request of `key` (a fingerprint of the API key, never the key) within `limits`, recording
    // it in every window, or refuses it and records nothing; nullopt when the ledger could not say in time.
    virtual boost::asio::awaitable<std::optional<SharedQuotaAnswer>>
    try_take(std::string key, economy::QuotaLimits limits) = 0;
    // An upstream 429: refuses every request of `key` for `duration` from the ledger's now (an earlier mark
    // that ends later is kept). False when the ledger could not record it.
    virtual boost::asio::awaitable<bool> mark_exhausted(std::string key,
                                                        std::chrono::milliseconds duration) = 0;
};

// One replica's share of each limit when `replicas` replicas spend one key without a shared ledger:
// floor(limit / replicas), at least 1 (a replica that may never ask is of no use); no limit stays no limit.
inline economy::QuotaLimits replica_share(economy::QuotaLimits limits, unsigned replicas) {
    if (replicas <= 1) return limits;
    const auto share = [replicas](unsigned limit) {
        return limit == 0 ? 0u : std::max(1u, limit / replicas);
    };
    return {share(limits.per_minute), share(limits.per_day), share(limits.per_month)};
}

} // namespace shim::upstream
