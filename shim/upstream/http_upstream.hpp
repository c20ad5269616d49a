#pragma once
// The upstream over HTTP(S) for reconstruction fetches: a GET through the exchange (quota, pool, deadline,
// stale-connection retry, metrics), then the whole body, within a limit, gzip inflated.
#include "upstream/upstream.hpp"

#include <chrono>
#include <cstddef>

namespace shim::upstream {

class Exchanger;

struct HttpUpstreamOptions {
    std::chrono::milliseconds timeout{std::chrono::seconds(30)}; // the whole exchange, body included
    std::size_t max_body_bytes = 64u << 20;                      // inflated
};

class HttpUpstream final : public Upstream {
public:
    HttpUpstream(Exchanger& exchanger, HttpUpstreamOptions options)
        : exchanger_(exchanger), options_(options) {}
    boost::asio::awaitable<UpstreamResponse> get(UpstreamRequest request) override;

private:
    Exchanger& exchanger_;
    HttpUpstreamOptions options_;
};

// The User-Agent sent upstream: VirusTotal's front end compresses only for agents that mention gzip.
inline constexpr const char* user_agent = "sigma-shim/" SIGMA_SHIM_VERSION " (gzip)";

} // namespace shim::upstream
