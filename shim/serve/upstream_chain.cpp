#include "serve/upstream_chain.hpp"

#include "economy/byte_lru.hpp"
#include "serve/demo_upstream.hpp"
#include "serve/legacy_handler.hpp"
#include "serve/metered_upstream.hpp"
#include "upstream/cache_upstream.hpp"
#include "upstream/clock.hpp"
#include "upstream/coalescing_upstream.hpp"
#include "upstream/connection_pool.hpp"
#include "upstream/http_upstream.hpp"
#include "upstream/quota_upstream.hpp"
#include "upstream/recording_upstream.hpp"
#include "upstream/retry_upstream.hpp"

#include <optional>
#include <stdexcept>

namespace shim::serve {

// Members in the order they are built: each layer holds a reference to the one below it.
struct UpstreamChain::Layers {
    upstream::SystemClock clock;
    std::unique_ptr<DemoUpstream> demo;
    std::unique_ptr<upstream::ConnectionPool> pool;
    std::optional<upstream::HttpUpstream> client;
    std::optional<MeteredUpstream> metered;
    std::optional<upstream::RecordingUpstream> recording;
    std::optional<upstream::QuotaUpstream> quota;
    std::optional<upstream::RetryUpstream> retry;
    std::optional<economy::ByteLru> lru;
    std::optional<upstream::CacheUpstream> cache;
    std::optional<upstream::CoalescingUpstream> coalescing;
    std::optional<AnswerMemo> memo;
    std::optional<LegacyHandler> legacy;
};

UpstreamChain::UpstreamChain(boost::asio::io_context& ioc, ServeConfig& config, ops::Metrics& metrics,
                             ops::Logger& log)
    : layers_(std::make_unique<Layers>()) {
    auto& l = *layers_;
    if (config.upstream.demo) {
        try {
            l.demo = std::make_unique<DemoUpstream>(ioc, config.upstream.dir);
        } catch (const std::exception& e) {
            throw std::runtime_error("--upstream " + config.upstream.origin + ": " + e.what());
        }
        config.upstream.host = "127.0.0.1";
        config.upstream.port = std::to_string(l.demo->start());
    }
    try {
        l.pool = std::make_unique<upstream::ConnectionPool>(ioc.get_executor(), config);
    } catch (const std::exception& e) {
        throw std::runtime_error("cannot set up TLS for the upstream (--upstream-ca " + config.upstream_ca +
                                 "): " + e.what());
    }
    l.client.emplace(*l.pool, config.upstream_timeout, config.upstream_max_body_bytes);
    l.metered.emplace(*l.client, metrics);
    upstream::Upstream* below_quota = &*l.metered;
    if (!config.record_dir.empty()) below_quota = &l.recording.emplace(*l.metered, config.record_dir, log);
    l.quota.emplace(*below_quota,
                    upstream::QuotaOptions{config.quota_per_minute, config.quota_per_day, config.quota_wait},
                    l.clock, metrics);
    l.retry.emplace(*l.quota, upstream::RetryOptions{.retries = config.upstream_retries}, metrics);
    l.lru.emplace(config.cache_bytes);
    l.cache.emplace(*l.retry,
                    upstream::CacheOptions{config.cache_bytes, config.cache_ttl, config.negative_ttl,
                                           config.rule_cache_ttl, config.stale_if_error},
                    l.clock, metrics, *l.lru);
    l.coalescing.emplace(*l.cache, metrics);
    l.memo.emplace(*l.lru, metrics);
    l.legacy.emplace(*l.coalescing, config, *l.memo);
}

UpstreamChain::~UpstreamChain() = default;

upstream::Upstream& UpstreamChain::objects() {
    return *layers_->coalescing;
}
upstream::Upstream& UpstreamChain::uncached() {
    return *layers_->retry;
}
upstream::QuotaUpstream& UpstreamChain::quota() {
    return *layers_->quota;
}
upstream::ConnectionPool& UpstreamChain::pool() {
    return *layers_->pool;
}
const economy::ByteLru& UpstreamChain::cache() const {
    return *layers_->lru;
}
LegacyHandler& UpstreamChain::legacy() {
    return *layers_->legacy;
}

} // namespace shim::serve
