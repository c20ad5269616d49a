#pragma once
// The upstream chain of `serve`, built from its configuration, one job per layer: coalescing > cache >
// [shared] > retry > [record] > client, the client's exchanges guarded by the quota and counted in the
// metrics, over the per-thread connection pool; with the in-process demo upstream behind it for demo and
// dir:DIR. The quota sits below the cache, so a cache hit spends none of it; pass-through exchanges go
// through the same exchanger. With --redis, the shared layer lets the replicas in front of one Redis fetch
// each object once between them (upstream/shared_upstream.hpp), and the quota is kept in Redis for all of
// them (app/redis_quota_ledger.hpp), over one Redis client for the process (one connection per io_context).
// `sigma-shim compare --upstream` builds the same.
#include "ops/log.hpp"
#include "ops/metrics.hpp"
#include "serve/config.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>

namespace shim::economy {
class ByteLru;
}
namespace shim::upstream {
class Upstream;
class Exchanger;
} // namespace shim::upstream
namespace shim::serve {
class LegacyHandler;
}
namespace shim::redis {
class RedisClient;
}

namespace shim::app {

class UpstreamChain {
public:
    // May set config.upstream's host and port (demo and dir: listen on a loopback port of `ioc`). Throws
    // std::runtime_error with a one-line message for the user when the upstream cannot be set up.
    // `client_limit` gives a client token's own quota-per-minute (see upstream::QuotaOptions).
    UpstreamChain(boost::asio::io_context& ioc, serve::ServeConfig& config, ops::Metrics& metrics,
                  ops::Logger& log, std::function<unsigned(const std::string&)> client_limit = {});
    ~UpstreamChain();
    UpstreamChain(const UpstreamChain&) = delete;
    UpstreamChain& operator=(const UpstreamChain&) = delete;

    upstream::Upstream& objects();    // the top of the chain: what reconstructions fetch through
    upstream::Upstream& uncached();   // retries and quota, no cache: for the upstream's own legacy answers
    upstream::Exchanger& exchanger(); // pass-through relays through it
    const economy::ByteLru& cache() const; // for /_shim/cache
    serve::LegacyHandler& legacy();        // the reconstruction of legacy routes, over objects()
    redis::RedisClient* redis();           // the client the replicas share through; nullptr without --redis
    // What Redis looks like from here, for readyz: "up", "down", "unknown" (before the first call ended),
    // "" without --redis. Any thread.
    std::string redis_status() const;

    // Ends the start-up check of Redis and the Redis client's connections, then the in-process upstream's
    // server, if there is one. On `ioc`, once nothing fetches any more.
    boost::asio::awaitable<void> stop();
    // Closes the idle upstream connections; for the end, when no thread runs the io_contexts any more.
    void close_idle_connections();

private:
    struct Layers;
    std::unique_ptr<Layers> layers_;
};

} // namespace shim::app
