#pragma once
// A Lua script run in Redis by its SHA-1 (EVALSHA), so that a call sends the digest rather than the source.
// Redis forgets its scripts on a restart or SCRIPT FLUSH; the answer is then NOSCRIPT, and the script is sent
// whole once (EVAL, which also caches it again), so a caller never sees NOSCRIPT.
#include "redis/redis_client.hpp"
#include "redis/redis_result.hpp"

#include <boost/asio/awaitable.hpp>
#include <string>
#include <vector>

namespace shim::redis {

class RedisScript {
public:
    explicit RedisScript(std::string source);

    // Runs the script with KEYS and ARGV; its reply, or why there is none (a Lua error is
    // RedisFailure::reply).
    boost::asio::awaitable<RedisResult> run(RedisClient& client, std::vector<std::string> keys,
                                            std::vector<std::string> args) const;

    const std::string& sha1() const { return sha1_; } // lower-case hex, as Redis names scripts
    const std::string& source() const { return source_; }

private:
    std::string source_;
    std::string sha1_;
};

} // namespace shim::redis
