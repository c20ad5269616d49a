#pragma once
// What every connection shares: configuration, the upstream chain, logs, metrics and the drain flag.
#include "ops/log.hpp"
#include "ops/log_throttle.hpp"
#include "ops/metrics.hpp"
#include "serve/config.hpp"

#include <atomic>
#include <functional>
#include <string>

namespace shim::upstream {
class Exchanger;
} // namespace shim::upstream

namespace shim::net {
class ListenerTls;
} // namespace shim::net

namespace shim::economy {
class ByteLru;
} // namespace shim::economy

namespace shim::migrate {
class ComparisonStore;
} // namespace shim::migrate

namespace shim::serve {

class MigrationHandler;
class ClientTokenFile;

struct ServerState {
    const ServeConfig& config;
    ops::Logger& log;
    ops::Metrics& metrics;
    upstream::Exchanger& upstream;               // pass-through exchanges, with the quota and the pool
    MigrationHandler& migration;                 // legacy routes, in the configured mode
    const economy::ByteLru& cache;               // for /_shim/cache
    const migrate::ComparisonStore& comparisons; // for /_shim/comparisons
    std::string server_key;                      // from --api-key-env; used when a client sends no x-apikey
    std::atomic<bool> draining{false};
    std::atomic<long> in_flight{0};
    // The Redis the replicas share, for readyz: "URL up|down|unknown" (no password), or "" without one. Asked
    // of whoever owns the client, since the server knows routes and bytes, not Redis. Any thread.
    std::function<std::string()> redis_status = {};
    const net::ListenerTls* tls = nullptr;              // --tls-cert: every connection speaks TLS
    const ClientTokenFile* client_tokens = nullptr;     // --client-tokens: /api/v3/ needs a client's token
    ops::LogThrottle handshake_log{std::chrono::seconds(10)}; // failed handshakes are the peer's to repeat
};

// Registers every metric the server writes, so /_shim/metrics lists them from the start.
void register_server_metrics(ops::Metrics& metrics);

} // namespace shim::serve
