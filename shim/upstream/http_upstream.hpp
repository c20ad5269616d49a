#pragma once
// The upstream over HTTP(S): GET with deadlines, a body limit, gzip, and one retry of a stale pooled
// connection.
#include "upstream/upstream.hpp"

#include <chrono>
#include <cstddef>

namespace shim::upstream {

class ConnectionPool;

class HttpUpstream final : public Upstream {
public:
    HttpUpstream(ConnectionPool& pool, std::chrono::milliseconds timeout, std::size_t max_body_bytes);
    boost::asio::awaitable<UpstreamResponse> get(UpstreamRequest request) override;

private:
    ConnectionPool& pool_;
    std::chrono::milliseconds timeout_;
    std::size_t max_body_bytes_;
};

// The User-Agent sent upstream: VirusTotal's front end compresses only for agents that mention gzip.
inline constexpr const char* user_agent = "sigma-shim/" SIGMA_SHIM_VERSION " (gzip)";

} // namespace shim::upstream
