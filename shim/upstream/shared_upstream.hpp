#pragma once
// A layer of the upstream chain, below the replica's own cache: shares fetched objects with the other
// replicas through a SharedStore (Redis), and lets only one replica fetch an object at a time. A request
// looks in the store; on a miss it takes the object's lock and fetches (then stores what it got and frees the
// lock), or, when another replica holds the lock, waits for that replica's result, polling with jitter; a
// lock whose owner died expires and is taken over. A failed fetch is stored for a few seconds so that the
// waiters do not all ask VirusTotal in turn. Keys hold the SHA-256 of the API key, never the key. When the
// store is unavailable the request simply goes on below, as it would on a lone replica.
#include "ops/metrics.hpp"
#include "upstream/shared_store.hpp"
#include "upstream/upstream.hpp"

#include <chrono>
#include <mutex>
#include <optional>
#include <random>
#include <string>

namespace shim::upstream {

struct SharedOptions {
    std::chrono::milliseconds ttl{std::chrono::hours(1)};             // a 200 File or behaviour answer
    std::chrono::milliseconds negative_ttl{std::chrono::minutes(10)}; // a NotFoundError
    std::chrono::milliseconds rule_ttl{std::chrono::hours(24)};       // a sigma_rule object
    std::chrono::milliseconds failure_ttl{std::chrono::seconds(3)};   // a failed fetch, for the waiters
    // How long a fetch may hold an object's lock, and so how long a dead owner can delay the others: longer
    // than one fetch with its retries.
    std::chrono::milliseconds lock_ttl{std::chrono::seconds(35)};
    std::chrono::milliseconds poll{std::chrono::milliseconds(50)}; // between looks while waiting (jittered)
    std::size_t max_entry_bytes = 4u << 20;                        // larger answers are served, not shared
    std::string owner; // this replica's name in the locks it holds (random per process)
};

class SharedUpstream final : public Upstream {
public:
    SharedUpstream(Upstream& next, SharedStore& store, SharedOptions options, ops::Metrics& metrics);
    boost::asio::awaitable<UpstreamResponse> get(UpstreamRequest request) override;

private:
    boost::asio::awaitable<UpstreamResponse> fetch_and_share(UpstreamRequest request, const std::string& key,
                                                             const std::string& lock_key);
    std::chrono::milliseconds jittered_poll();
    void count(const char* result);

    Upstream& next_;
    SharedStore& store_;
    const SharedOptions options_;
    ops::Metrics& metrics_;
    std::mutex random_mutex_;
    std::minstd_rand random_;
};

// The stored form of an answer, versioned: an entry of another version reads as a miss, so replicas of two
// versions can share one store during a rolling upgrade.
std::string encode_shared_entry(const UpstreamResponse& response);
std::optional<UpstreamResponse> decode_shared_entry(std::string_view entry);

} // namespace shim::upstream
