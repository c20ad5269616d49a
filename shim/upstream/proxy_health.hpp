#pragma once
// How the forward proxy is doing, as the connections through it find it: every failure is counted in
// sigma_shim_upstream_proxy_errors_total{reason}, but logged only when the state changes (a proxy that is
// down fails every request; one line says so, and one more when it works again).
#include "ops/log.hpp"
#include "ops/metrics.hpp"

#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace shim::upstream {

enum class ProxyFailure {
    unreachable,   // no TCP connection to the proxy (refused, unresolvable, unroutable)
    refused,       // it answered the CONNECT with a status other than 2xx and 407
    auth_required, // 407: credentials missing or wrong
    closed,        // it closed the connection before or instead of the tunnel
    timeout,       // no tunnel before the deadline
};

std::string_view proxy_failure_name(ProxyFailure failure);

class ProxyHealth {
public:
    // `log` may be null (no log lines, metrics only). `proxy` is the display form, password masked.
    ProxyHealth(ops::Metrics& metrics, ops::Logger* log, std::string proxy)
        : metrics_(metrics), log_(log), proxy_(std::move(proxy)) {}

    void failed(ProxyFailure failure, const std::string& detail);
    void worked();

private:
    ops::Metrics& metrics_;
    ops::Logger* log_;
    const std::string proxy_;
    std::mutex mutex_;
    std::optional<ProxyFailure> failing_; // the failure last logged, while no tunnel has opened since
};

} // namespace shim::upstream
