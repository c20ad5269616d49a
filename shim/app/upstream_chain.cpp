#include "app/upstream_chain.hpp"

#include "economy/byte_lru.hpp"
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

#include <optional>
#include <stdexcept>

namespace shim::app {

// Members in the order they are built: each layer holds a reference to the one below it.
struct UpstreamChain::Layers {
    upstream::SystemClock clock;
    std::unique_ptr<replay::DemoUpstream> demo;
    std::unique_ptr<upstream::ConnectionPool> pool;
    std::optional<upstream::QuotaGuard> quota;
    std::optional<upstream::Exchanger> exchanger;
    std::optional<upstream::HttpUpstream> client;
    std::optional<upstream::RecordingUpstream> recording;
    std::optional<upstream::RetryUpstream> retry;
    std::optional<economy::ByteLru> lru;
    std::optional<upstream::CacheUpstream> cache;
    std::optional<upstream::CoalescingUpstream> coalescing;
    std::optional<serve::AnswerMemo> memo;
    std::optional<serve::LegacyHandler> legacy;
};

UpstreamChain::UpstreamChain(boost::asio::io_context& ioc, serve::ServeConfig& config, ops::Metrics& metrics,
                             ops::Logger& log)
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
    l.quota.emplace(upstream::QuotaOptions{config.quota_per_minute, config.quota_per_day,
                                           config.quota_per_month, config.quota_wait},
                    l.clock, metrics);
    l.exchanger.emplace(*l.pool, &*l.quota, metrics, upstream::ExchangeOptions{config.upstream_timeout});
    l.client.emplace(*l.exchanger,
                     upstream::HttpUpstreamOptions{config.upstream_timeout, config.upstream_max_body_bytes});
    upstream::Upstream* below_retry = &*l.client;
    if (!config.record_dir.empty()) below_retry = &l.recording.emplace(*l.client, config.record_dir, log);
    l.retry.emplace(*below_retry, upstream::RetryOptions{.retries = config.upstream_retries}, metrics);
    l.lru.emplace(config.cache_bytes);
    l.cache.emplace(*l.retry,
                    upstream::CacheOptions{config.cache_bytes, config.cache_ttl, config.negative_ttl,
                                           config.rule_cache_ttl, config.stale_if_error},
                    l.clock, metrics, *l.lru);
    l.coalescing.emplace(*l.cache, metrics);
    l.memo.emplace(*l.lru, metrics);
    l.legacy.emplace(*l.coalescing, config, *l.memo);
    // Last, once nothing above can throw: a server started here must be stopped before it is destroyed.
    if (l.demo) l.demo->start();
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

boost::asio::awaitable<void> UpstreamChain::stop() {
    if (layers_->demo) co_await layers_->demo->stop();
}

void UpstreamChain::close_idle_connections() {
    layers_->pool->close_idle();
}

} // namespace shim::app
