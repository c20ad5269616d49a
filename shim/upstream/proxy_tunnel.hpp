#pragma once
// The CONNECT exchange that turns a TCP connection to a forward proxy into a tunnel to the upstream
// (RFC 9110 9.3.6), before the TLS handshake with the upstream runs inside it.
#include "net/deadline_stream.hpp"
#include "upstream/proxy_health.hpp"
#include "upstream/proxy_settings.hpp"

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>

namespace shim::upstream {

struct TunnelResult {
    std::optional<ProxyFailure> failure; // none: the tunnel is open
    bool deadline = false;               // the stream's deadline passed
    std::string message;                 // why not, in words fit for the client (no credentials)
};

// Asks `proxy` over `stream` (connected to it, its deadline armed) for a tunnel to `target` (host:port).
boost::asio::awaitable<TunnelResult> open_tunnel(net::DeadlineStream& stream, const ProxyEndpoint& proxy,
                                                 const std::string& target);

} // namespace shim::upstream
