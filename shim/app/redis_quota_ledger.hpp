#pragma once
// The quota ledger of replicas that share a Redis: economy::QuotaBook's rule (quota_book.hpp), applied by one
// Lua script per request with Redis's clock (TIME), so that every replica decides against the same log and
// the same time and N replicas together never exceed the key's quota. A key's ledger is two Redis keys named
// after its fingerprint (never the API key): the minute log (a list of admission times in microseconds,
// at most per_minute of them) and a hash (the latest time seen, the day and month counted and their counts,
// the end of an upstream 429's mark). Neither has an expiry, unlike everything else the shim keeps in Redis:
// a Redis with `maxmemory-policy volatile-*` then evicts cached objects under memory pressure, never the
// quota (only `allkeys-*` policies could, which the shim warns of). They are small: a list of at most
// per_minute times (deleted once empty) and a hash of six numbers per API key.
#include "redis/redis_client.hpp"
#include "redis/redis_script.hpp"
#include "upstream/shared_quota.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace shim::app {

class RedisQuotaLedger final : public upstream::SharedQuota {
public:
    // `client` must outlive the ledger.
    explicit RedisQuotaLedger(redis::RedisClient& client, std::string prefix = "sigma-shim:quota:");

    boost::asio::awaitable<std::optional<upstream::SharedQuotaAnswer>>
    try_take(std::string key, economy::QuotaLimits limits) override;
    boost::asio::awaitable<bool> mark_exhausted(std::string key, std::chrono::milliseconds duration) override;

    // The same at a given time (microseconds since the Unix epoch) instead of Redis's: for tests. A key's
    // time never goes back, so a time before one already seen counts as that one.
    boost::asio::awaitable<std::optional<upstream::SharedQuotaAnswer>>
    try_take_at(std::string key, economy::QuotaLimits limits, std::optional<std::int64_t> now_us);
    boost::asio::awaitable<bool> mark_exhausted_at(std::string key, std::chrono::milliseconds duration,
                                                   std::optional<std::int64_t> now_us);

private:
    std::vector<std::string> keys_of(const std::string& key) const;

    redis::RedisClient& client_;
    const std::string prefix_;
    const redis::RedisScript take_;
    const redis::RedisScript mark_;
};

} // namespace shim::app
