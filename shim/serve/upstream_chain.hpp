#pragma once
// The upstream chain of `serve`, built from its configuration, one job per layer: coalescing > cache > retry
// > quota > [record] > metrics > client (with the in-process demo upstream behind it for demo and dir:DIR).
// The quota sits below the cache, so a cache hit spends none of it. `sigma-shim compare --upstream` builds
// the same.
#include "ops/log.hpp"
#include "ops/metrics.hpp"
#include "serve/config.hpp"

#include <boost/asio/io_context.hpp>
#include <memory>

namespace shim::economy {
class ByteLru;
}
namespace shim::upstream {
class Upstream;
class ConnectionPool;
class QuotaUpstream;
} // namespace shim::upstream

namespace shim::serve {

class LegacyHandler;

class UpstreamChain {
public:
    // May set config.upstream's host and port (demo and dir: listen on a loopback port). Throws
    // std::runtime_error with a one-line message for the user when the upstream cannot be set up.
    UpstreamChain(boost::asio::io_context& ioc, ServeConfig& config, ops::Metrics& metrics, ops::Logger& log);
    ~UpstreamChain();
    UpstreamChain(const UpstreamChain&) = delete;
    UpstreamChain& operator=(const UpstreamChain&) = delete;

    upstream::Upstream& objects();    // the top of the chain: what reconstructions fetch through
    upstream::Upstream& uncached();   // retries and quota, no cache: for the upstream's own legacy answers
    upstream::QuotaUpstream& quota(); // pass-through spends quota too
    upstream::ConnectionPool& pool(); // pass-through relays over it
    const economy::ByteLru& cache() const; // for /_shim/cache
    LegacyHandler& legacy();               // the reconstruction of legacy routes, over objects()

private:
    struct Layers;
    std::unique_ptr<Layers> layers_;
};

} // namespace shim::serve
