#pragma once
// A layer of the upstream chain: answers from memory what was fetched before. Entries are partitioned by the
// SHA-256 of the API key (a premium key sees more than a public one), except sigma_rule objects, which are
// the same for every key. NotFoundError is kept for a shorter time; other errors are never kept. When the
// upstream fails (503, 504, 429, unreachable), a copy younger than --stale-if-error is served instead.
#include "economy/byte_lru.hpp"
#include "ops/metrics.hpp"
#include "serve/config.hpp"
#include "upstream/upstream.hpp"

#include <mutex>
#include <unordered_map>
#include <vector>

namespace shim::upstream {

class CacheUpstream final : public Upstream {
public:
    CacheUpstream(Upstream& next, const serve::ServeConfig& config, ops::Metrics& metrics,
                  economy::ByteLru& lru)
        : next_(next), config_(config), metrics_(metrics), lru_(lru) {}
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
    const serve::ServeConfig& config_;
    ops::Metrics& metrics_;
    economy::ByteLru& lru_;
    std::mutex alias_mutex_;
    std::unordered_map<std::string, std::string> sha256_of_; // partition + " " + md5|sha1 -> sha256
};

// "file", "behaviours", "sigma_rule" or "other", from an API target.
std::string_view object_kind(std::string_view target);

} // namespace shim::upstream
