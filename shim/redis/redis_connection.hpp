#pragma once
// One pipelined connection to Redis on one io_context, which its socket and timers belong to for their whole
// life (the server runs an io_context per thread; see RedisClient for the one connection per io_context).
// Callers' commands go out in the order they came, batched by one writer coroutine, and one reader coroutine
// hands each reply to the oldest caller still waiting for one. Every call has a deadline and returns by it:
// one that passes drops the connection, since the reply stream is then out of step with the callers, and
// every call still waiting on it fails. A failed connect (or a timeout) makes the connection back off:
// meanwhile calls fail at once, without touching the network.
#include "net/task_group.hpp"
#include "ops/metrics.hpp"
#include "redis/redis_result.hpp"
#include "redis/redis_url.hpp"

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace shim::redis {

using SteadyClock = std::chrono::steady_clock;

enum class RedisState { up, down };

struct RedisOptions {
    RedisUrl url;
    // Every call's deadline, connecting (and AUTH, SELECT) included when the call has to connect first.
    std::chrono::milliseconds timeout{250};
    // After a failed connect or a timeout, no new connection is tried for this long, doubling up to
    // backoff_max: Redis is back in use within about backoff_max of being back.
    std::chrono::milliseconds backoff_first{100};
    std::chrono::milliseconds backoff_max{1000};
    // Hears each change between up (a connection was opened or a reply came) and down (a connect failed or a
    // connection was dropped), not each call: one log line per change. Called from the thread that saw it,
    // under a lock that keeps the changes in order: it must be thread-safe and must not call the client.
    std::function<void(RedisState, const std::string& detail)> on_state_change;
};

// What the connections of one client share. Thread-safe.
class RedisShared {
public:
    RedisShared(RedisOptions options, ops::Metrics& metrics);

    const RedisOptions& options() const { return options_; }
    ops::Metrics& metrics() { return metrics_; }
    net::TaskGroup& group() { return group_; }
    bool stopped() const { return stopped_.load(); }
    void stop() { stopped_.store(true); }
    // The last state seen; nullopt before the first call ended.
    std::optional<RedisState> state() const;
    // Notes what a connection saw: the gauge and the callback move only on a change, and not once stopped.
    void report(RedisState state, const std::string& detail);

private:
    const RedisOptions options_;
    ops::Metrics& metrics_;
    net::TaskGroup group_;
    std::atomic<bool> stopped_{false};
    std::atomic<int> state_{0}; // 0: none yet, else 1 + RedisState
    std::mutex state_mutex_;
};

class RedisConnection {
public:
    // Opens no socket yet: the first call does.
    RedisConnection(boost::asio::any_io_executor executor, RedisShared& shared);
    ~RedisConnection();
    RedisConnection(const RedisConnection&) = delete;
    RedisConnection& operator=(const RedisConnection&) = delete;

    // Sends `commands` (each binary-safe, at least its name) together and returns their results in order,
    // by the deadline. From a coroutine on this connection's io_context. Throws std::invalid_argument for an
    // empty command.
    boost::asio::awaitable<std::vector<RedisResult>>
    exchange(const std::vector<std::vector<std::string>>& commands);

private:
    struct Session;
    struct Pending;

    // The session's life: connect, AUTH and SELECT, then read replies until it is dropped.
    boost::asio::awaitable<void> run(std::shared_ptr<Session> session);
    // Connects and says hello; empty when the connection is ready, else why not.
    boost::asio::awaitable<std::string> open(Session& session);
    boost::asio::awaitable<void> read_replies(std::shared_ptr<Session> session);
    boost::asio::awaitable<void> write_commands(std::shared_ptr<Session> session);
    // Hands a reply to the oldest waiting call; false when none was waiting.
    static bool deliver(Session& session, RedisValue reply);
    // Ends `session` (once): closes its socket, fails every call still waiting with `failure`, backs off
    // after a failed connect or a timeout.
    void drop(const std::shared_ptr<Session>& session, RedisFailure failure, const std::string& why);

    const boost::asio::any_io_executor executor_;
    RedisShared& shared_;
    std::shared_ptr<Session> session_; // the session new calls go to; none until a call needs one
    SteadyClock::time_point retry_at_{};
    std::chrono::milliseconds backoff_;
    std::string last_failure_;
};

} // namespace shim::redis
