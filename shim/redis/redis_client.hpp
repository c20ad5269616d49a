#pragma once
// The shim's Redis client. The server runs several threads, each with an io_context of its own, and a socket
// or timer must stay on one io_context for its whole life: so the client keeps one pipelined RedisConnection
// per io_context, opened by the first call made from it, and a call always goes out on its caller's own.
// Concurrent calls from one io_context share its connection (pipelined, replies matched in order).
//
// Commands are request-reply only: no SUBSCRIBE or MONITOR (their pushes would be taken for replies; pub/sub
// needs a connection of its own), and a blocking command (BLPOP) holds up every call queued behind it on the
// connection.
//
// Every call returns by its deadline (RedisOptions::timeout) with a reply or a RedisFailure saying why
// not; see redis_connection.hpp for what a timeout or a failed connect does to later calls. The coroutines
// the client starts belong to its task group: stop() ends them, and must have completed before the client is
// destroyed (or its io_contexts are).
#include "ops/metrics.hpp"
#include "redis/redis_connection.hpp"
#include "redis/redis_result.hpp"
#include "redis/redis_url.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution_context.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace shim::redis {

class RedisClient {
public:
    // Connects to nothing yet. `metrics` must hold register_redis_metrics's metrics
    // (redis_observability.hpp).
    RedisClient(RedisOptions options, ops::Metrics& metrics);
    // After stop() has completed.
    ~RedisClient();
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    // One command (its name, then its arguments, each any bytes), from a coroutine on any of the server's
    // io_contexts. An error reply is RedisFailure::reply with Redis's text in `error`.
    boost::asio::awaitable<RedisResult> call(std::vector<std::string> args);
    // Several commands sent together, their results in order, under one deadline. No transaction: wrap them
    // in MULTI/EXEC for that.
    boost::asio::awaitable<std::vector<RedisResult>> pipeline(std::vector<std::vector<std::string>> commands);

    // Fails every later call with RedisFailure::closed, ends every connection (their waiting calls fail with
    // closed) and waits up to `grace` for the client's coroutines to end; true when they all did. Any thread.
    boost::asio::awaitable<bool> stop(std::chrono::steady_clock::duration grace = std::chrono::seconds(5));

    const RedisOptions& options() const { return shared_.options(); }
    // The last state seen (up or down), nullopt before the first call ended.
    std::optional<RedisState> state() const { return shared_.state(); }

private:
    RedisConnection& connection_for(const boost::asio::any_io_executor& executor);

    RedisShared shared_;
    std::mutex mutex_;
    std::unordered_map<boost::asio::execution_context*, std::unique_ptr<RedisConnection>> connections_;
};

} // namespace shim::redis
