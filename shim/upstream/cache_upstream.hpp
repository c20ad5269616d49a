#pragma once
// A layer of the upstream chain: answers from memory what was fetched before. Entries are partitioned by the
// SHA-256 of the API key (a premium key sees more than a public one), except sigma_rule objects, which are
// the same for every key. NotFoundError is kept for a shorter time; other errors are never kept. When the
// upstream fails (503, 504, 429, unreachable), a copy within its stale window is served instead.
#include "economy/byte_lru.hpp"
#include "ops/metrics.hpp"
#include "upstream/clock.hpp"
#include "upstream/upstream.hpp"

#include <chrono>
#include <cstddef>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace shim::upstream {

struct CacheOptions {
    std::size_t cache_bytes = 256u << 20; // 0: nothing is kept (the ByteLru's own budget bounds the rest)
    std::chrono::milliseconds ttl{std::chrono::hours(1)};             // a 200 answer is fresh this long
    std::chrono::milliseconds negative_ttl{std::chrono::minutes(10)}; // a NotFoundError is kept this long
    std::chrono::milliseconds rule_ttl{std::chrono::hours(24)};       // sigma_rule objects change rarely
    // After its TTL, a 200 answer may still stand in for a failed upstream this long.
    std::chrono::milliseconds stale_if_error{std::chrono::hours(24)};
};

class CacheUpstream final : public Upstream {
public:
    CacheUpstream(Upstream& next, CacheOptions options, const Clock& clock, ops::Metrics& metrics,
                  economy::ByteLru& lru)
        : next_(next), options_(options), clock_(clock), metrics_(metrics), lru_(lru) {}
    boost::asio::awaitable<UpstreamResponse> get(UpstreamRequest request) override;

private:
    // The cache key: partition, then the target with its id lower-cased and, once known, any MD5 or SHA-1 of
    // a file replaced by its SHA-256, so that one file's three ids share one entry.
    std::string cache_key(const std::string& partition, std::string_view target, std::string_view kind);
    // Records the MD5 and SHA-1 of a File answer as aliases of its SHA-256; returns them.
    std::vector<std::string> learn_aliases(const std::string& partition, const std::string& body);
    // Stores the answer; returns until when it is fresh, or nothing if it was too large to keep.
    std::optional<std::chrono::steady_clock::time_point>
    store(const std::string& key, const UpstreamResponse& response, std::string_view kind);
    void publish_sizes();

    Upstream& next_;
    const CacheOptions options_;
    const Clock& clock_;
    ops::Metrics& metrics_;
    economy::ByteLru& lru_;
    std::mutex alias_mutex_;
    std::unordered_map<std::string, std::string> sha256_of_; // partition + " " + md5|sha1 -> sha256
};

// "file", "behaviours", "sigma_rule" or "other", from an API target.
std::string_view object_kind(std::string_view target);

} // namespace shim::upstream
