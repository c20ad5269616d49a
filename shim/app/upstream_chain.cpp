#include "app/upstream_chain.hpp"

#include "app/redis_quota_ledger.hpp"
#include "app/redis_shared_store.hpp"
#include "economy/byte_lru.hpp"
#include "net/task_group.hpp"
#include "redis/redis_client.hpp"
#include "redis/redis_observability.hpp"
#include "replay/demo_upstream.hpp"
#include "serve/legacy_handler.hpp"
#include "upstream/cache_upstream.hpp"
#include "upstream/clock.hpp"
#include "upstream/coalescing_upstream.hpp"
#include "upstream/connection_pool.hpp"
#include "upstream/exchange.hpp"
#include "upstream/http_upstream.hpp"
#include "upstream/quota_guard.hpp"
#include "upstream/recording_upstream.hpp"
#include "upstream/retry_upstream.hpp"
#include "upstream/shared_upstream.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <random>
#include <stdexcept>

namespace shim::app {
namespace {

namespace asio = boost::asio;

// This process's name in the locks it takes: random, so that two replicas (or a replica and its own
// restart) never take each other's lock for their own.
std::string random_owner() {
    std::random_device random;
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 4; ++i) {
        const auto word = random();
        for (int shift = 28; shift >= 0; shift -= 4)
            out.push_back(digits[(word >> shift) & 0xf]);
    }
    return out;
}

// Options of the shared layer from today's flags: what is shared lives as long as in the replica's own cache,
// and a lock outlives one fetch with its retries, so that only a dead owner's lock expires.
upstream::SharedOptions shared_options(const serve::ServeConfig& config) {
    upstream::SharedOptions o;
    o.ttl = config.cache_ttl;
    o.negative_ttl = config.negative_ttl;
    o.rule_ttl = config.rule_cache_ttl;
    o.failure_ttl = std::chrono::seconds(3);
    o.lock_ttl = config.upstream_timeout * (config.upstream_retries + 1) + std::chrono::seconds(5);
    o.max_entry_bytes = config.redis_max_entry_bytes;
    o.owner = random_owner();
    return o;
}

// Once Redis first answers, its eviction policy, logged: a policy that may evict any key may evict the
// quota's counters and the locks too, which the replicas rely on, so it is a warning. Redis may be absent at
// start-up: then this waits for it (the client backs off meanwhile), until the chain stops. A Redis that
// refuses CONFIG (a managed one) is left alone.
asio::awaitable<void> check_eviction_policy(redis::RedisClient& client, ops::Logger& log) {
    const std::vector<std::string> command{"CONFIG", "GET", "maxmemory-policy"};
    for (;;) {
        auto args = command;
        const auto r = co_await client.call(std::move(args));
        if (r.ok()) {
            const auto& v = r.value;
            if (v.type != redis::RedisValue::Type::array || v.elements.size() != 2) co_return;
            const auto& policy = v.elements[1].text;
            if (policy.starts_with("allkeys-"))
                log.write(ops::LogLevel::warn, "redis maxmemory-policy",
                          {{"maxmemory_policy", policy},
                           {"detail", "Redis may evict any key, quota counters and locks included, under "
                                      "memory pressure: use volatile-lru (or noeviction) for the replicas"}});
            else
                log.write(ops::LogLevel::info, "redis maxmemory-policy", {{"maxmemory_policy", policy}});
            co_return;
        }
        if (r.failure == redis::RedisFailure::reply || r.failure == redis::RedisFailure::cancelled) co_return;
        asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::seconds(1));
        boost::system::error_code ec;
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
    }
}

} // namespace

// Members in the order they are built: each layer holds a reference to the one below it.
struct UpstreamChain::Layers {
    upstream::SystemClock clock;
    std::unique_ptr<replay::DemoUpstream> demo;
    std::unique_ptr<upstream::ConnectionPool> pool;
    std::unique_ptr<redis::RedisClient> redis;
    std::optional<RedisSharedStore> store;
    std::optional<RedisQuotaLedger> ledger;
    net::TaskGroup checks; // the start-up look at Redis's eviction policy
    std::optional<upstream::QuotaGuard> quota;
    std::optional<upstream::Exchanger> exchanger;
    std::optional<upstream::HttpUpstream> client;
    std::optional<upstream::RecordingUpstream> recording;
    std::optional<upstream::RetryUpstream> retry;
    std::optional<upstream::SharedUpstream> shared;
    std::optional<economy::ByteLru> lru;
    std::optional<upstream::CacheUpstream> cache;
    std::optional<upstream::CoalescingUpstream> coalescing;
    std::optional<serve::AnswerMemo> memo;
    std::optional<serve::LegacyHandler> legacy;
};

UpstreamChain::UpstreamChain(boost::asio::io_context& ioc, serve::ServeConfig& config, ops::Metrics& metrics,
                             ops::Logger& log, std::function<unsigned(const std::string&)> client_limit)
    : layers_(std::make_unique<Layers>()) {
    auto& l = *layers_;
    if (config.upstream.demo) {
        try {
            l.demo = std::make_unique<replay::DemoUpstream>(ioc, config.upstream.dir);
        } catch (const std::exception& e) {
            throw std::runtime_error("--upstream " + config.upstream.origin + ": " + e.what());
        }
        config.upstream.host = "127.0.0.1";
        config.upstream.port = std::to_string(l.demo->listen());
    }
    try {
        l.pool = std::make_unique<upstream::ConnectionPool>(
            ioc.get_executor(),
            upstream::PoolOptions{config.upstream.tls, config.upstream.host, config.upstream.port,
                                  config.upstream_ca, config.upstream_connections,
                                  config.upstream_proxy.proxy},
            metrics, &log);
    } catch (const std::exception& e) {
        throw std::runtime_error("cannot set up TLS for the upstream (--upstream-ca " + config.upstream_ca +
                                 "): " + e.what());
    }
    if (config.redis) {
        redis::register_redis_metrics(metrics);
        redis::RedisOptions options;
        options.url = *config.redis;
        options.timeout = config.redis_timeout;
        options.on_state_change = redis::log_redis_state_changes(log);
        l.redis = std::make_unique<redis::RedisClient>(std::move(options), metrics);
        l.store.emplace(*l.redis);
        l.ledger.emplace(*l.redis);
    }
    l.quota.emplace(upstream::QuotaOptions{config.quota_per_minute, config.quota_per_day,
                                           config.quota_per_month, config.quota_wait, config.replicas,
                                           std::move(client_limit)},
                    l.clock, metrics, l.ledger ? &*l.ledger : nullptr);
    l.exchanger.emplace(*l.pool, &*l.quota, metrics, upstream::ExchangeOptions{config.upstream_timeout});
    l.client.emplace(*l.exchanger,
                     upstream::HttpUpstreamOptions{config.upstream_timeout, config.upstream_max_body_bytes});
    upstream::Upstream* below_retry = &*l.client;
    if (!config.record_dir.empty()) below_retry = &l.recording.emplace(*l.client, config.record_dir, log);
    l.retry.emplace(*below_retry, upstream::RetryOptions{.retries = config.upstream_retries}, metrics);
    upstream::Upstream* below_cache = &*l.retry;
    if (l.store) below_cache = &l.shared.emplace(*l.retry, *l.store, shared_options(config), metrics);
    l.lru.emplace(config.cache_bytes);
    l.cache.emplace(*below_cache,
                    upstream::CacheOptions{config.cache_bytes, config.cache_ttl, config.negative_ttl,
                                           config.rule_cache_ttl, config.stale_if_error},
                    l.clock, metrics, *l.lru);
    l.coalescing.emplace(*l.cache, metrics);
    l.memo.emplace(*l.lru, metrics);
    l.legacy.emplace(*l.coalescing, config, *l.memo, metrics);
    // Last, once nothing above can throw: a server started here must be stopped before it is destroyed.
    if (l.demo) l.demo->start();
    if (l.redis) l.checks.spawn(ioc.get_executor(), check_eviction_policy(*l.redis, log));
}

UpstreamChain::~UpstreamChain() = default;

upstream::Upstream& UpstreamChain::objects() {
    return *layers_->coalescing;
}
upstream::Upstream& UpstreamChain::uncached() {
    return *layers_->retry;
}
upstream::Exchanger& UpstreamChain::exchanger() {
    return *layers_->exchanger;
}
const economy::ByteLru& UpstreamChain::cache() const {
    return *layers_->lru;
}
serve::LegacyHandler& UpstreamChain::legacy() {
    return *layers_->legacy;
}

redis::RedisClient* UpstreamChain::redis() {
    return layers_->redis.get();
}

std::string UpstreamChain::redis_status() const {
    if (!layers_->redis) return {};
    const auto state = layers_->redis->state();
    if (!state) return "unknown";
    return *state == redis::RedisState::up ? "up" : "down";
}

boost::asio::awaitable<void> UpstreamChain::stop() {
    auto& l = *layers_;
    if (l.redis) {
        l.checks.cancel(asio::cancellation_type::terminal);
        co_await l.checks.wait_empty(std::chrono::steady_clock::time_point::max());
        co_await l.redis->stop();
    }
    if (l.demo) co_await l.demo->stop();
    l.pool->close_idle_on_their_threads();
}

void UpstreamChain::close_idle_connections() {
    layers_->pool->close_idle();
}

} // namespace shim::app
