#pragma once
// What replicas of the shim share, seen from the upstream chain: a key-value store with expiry and owned
// locks (Redis, in shim/redis/, adapted in app/). Every call may find the store unavailable (down, slow,
// restarting): a layer that shares then carries on as a lone replica would, so an outage of the store costs
// sharing, never answers.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>

namespace shim::upstream {

enum class SharedStatus {
    ok,          // done; for get, `value` holds the value; for lock, the lock is ours
    absent,      // no such key; for lock, another owner holds it
    unavailable, // the store could not say in time
};

struct SharedResult {
    SharedStatus status = SharedStatus::unavailable;
    std::string value;
};

class SharedStore {
public:
    virtual ~SharedStore() = default;
    virtual boost::asio::awaitable<SharedResult> get(std::string key) = 0;
    virtual boost::asio::awaitable<SharedResult> put(std::string key, std::string value,
                                                     std::chrono::milliseconds ttl) = 0;
    // Takes `key` for `owner` unless someone holds it; it frees itself after `ttl`, so that a replica that
    // died holding it delays the others by `ttl` at most.
    virtual boost::asio::awaitable<SharedResult> lock(std::string key, std::string owner,
                                                      std::chrono::milliseconds ttl) = 0;
    // Frees `key` if `owner` still holds it (not if it expired and another took it since).
    virtual boost::asio::awaitable<SharedResult> unlock(std::string key, std::string owner) = 0;
};

} // namespace shim::upstream
