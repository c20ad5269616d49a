#pragma once
// The upstream as the reconstruction sees it: GET a VirusTotal API target, get the status and the JSON bytes.
// One job per implementation (the HTTP client now; cache, coalescing and quota layers wrap the same
// interface).
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>

namespace shim::upstream {

struct UpstreamRequest {
    std::string target;     // origin-form: /api/v3/files/{id}?...
    std::string api_key;    // sent as x-apikey; never logged
    std::string request_id; // sent as X-Request-Id
    std::string client;     // the client token's name, for that client's own quota ("" without tokens)
};

// What the cache layers did for an answer, best first: a reconstruction reports the worst of its fetches.
enum class CacheStatus { bypass, hit, coalesced, miss, stale };

std::string_view cache_status_name(CacheStatus status);

enum class Failure {
    none,
    transient, // unreachable, reset, TLS refused, malformed or oversized answer: 503 TransientError
    deadline,  // too slow: 504 DeadlineExceededError
};

struct UpstreamResponse {
    unsigned status = 0; // the upstream's status when it answered
    std::string body;    // decoded (gzip inflated)
    std::string content_type;
    std::string retry_after; // the upstream's Retry-After, if any
    Failure failure = Failure::none;
    std::string failure_detail;  // for logs; never holds the key
    std::string failure_message; // for the client when the cause is worth naming (the proxy); else ""
    bool local = false;          // made by the shim (the quota's refusal): the upstream never saw the request
    CacheStatus cache = CacheStatus::miss;
    // Set by the cache on an answer it holds: until when it will give this same answer as fresh.
    std::optional<std::chrono::steady_clock::time_point> fresh_until;
};

// VirusTotal's answer that the object does not exist: a 404 whose error code is NotFoundError (a 404 without
// it may be a proxy's or a load balancer's, and is not cached as the object's absence).
bool is_not_found_error(const UpstreamResponse& r);

class Upstream {
public:
    virtual ~Upstream() = default;
    virtual boost::asio::awaitable<UpstreamResponse> get(UpstreamRequest request) = 0;
};

} // namespace shim::upstream
