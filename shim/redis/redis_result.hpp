#pragma once
// What a Redis call came to: its reply, or why there is none. A caller must tell these apart: an error
// reply (NOSCRIPT: load the script and call again) is Redis answering; a timeout, an unreachable server and a
// dropped connection are Redis not answering, and the caller falls back to what it can do alone.
#include "redis/redis_reply.hpp"

#include <string>
#include <string_view>

namespace shim::redis {

enum class RedisFailure {
    none,    // `value` is the reply
    reply,   // Redis answered with an error reply; `error` is its text ("NOSCRIPT No matching script...")
    timeout, // no reply before the call's deadline (or the connection was dropped because another did not)
    unreachable, // no connection: connect, AUTH or SELECT failed, or it failed a moment ago (backing off)
    closed,      // the connection ended before the reply came (server gone, reset, not the protocol, stopped)
    cancelled,   // the caller's own coroutine was cancelled while it waited
};

// "reply", "timeout", "unreachable", "closed", "cancelled"; "none" for none.
std::string_view to_string(RedisFailure);

struct RedisResult {
    RedisFailure failure = RedisFailure::none;
    RedisValue value;  // the reply when ok(); the error reply itself for RedisFailure::reply
    std::string error; // the error reply's text, or why there was no reply (the URL shown without password)

    bool ok() const { return failure == RedisFailure::none; }

    static RedisResult of(RedisValue reply) {
        if (reply.is_error()) {
            std::string text = reply.text;
            return {RedisFailure::reply, std::move(reply), std::move(text)};
        }
        return {RedisFailure::none, std::move(reply), {}};
    }
    static RedisResult failed(RedisFailure why, std::string detail) { return {why, {}, std::move(detail)}; }
};

} // namespace shim::redis
