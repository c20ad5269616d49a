#include "redis/redis_client.hpp"

#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/this_coro.hpp>

namespace shim::redis {

namespace asio = boost::asio;

std::string_view to_string(RedisFailure failure) {
    switch (failure) {
    case RedisFailure::none:
        return "none";
    case RedisFailure::reply:
        return "reply";
    case RedisFailure::timeout:
        return "timeout";
    case RedisFailure::unreachable:
        return "unreachable";
    case RedisFailure::closed:
        return "closed";
    case RedisFailure::cancelled:
        return "cancelled";
    }
    return "unknown";
}

RedisClient::RedisClient(RedisOptions options, ops::Metrics& metrics)
    : shared_(std::move(options), metrics) {}

RedisClient::~RedisClient() = default;

RedisConnection& RedisClient::connection_for(const asio::any_io_executor& executor) {
    auto* context = &asio::query(executor, asio::execution::context);
    std::lock_guard lock(mutex_);
    auto& connection = connections_[context];
    if (!connection) connection = std::make_unique<RedisConnection>(executor, shared_);
    return *connection;
}

asio::awaitable<RedisResult> RedisClient::call(std::vector<std::string> args) {
    std::vector<std::vector<std::string>> one;
    one.push_back(std::move(args));
    auto results = co_await pipeline(std::move(one));
    co_return std::move(results.front());
}

asio::awaitable<std::vector<RedisResult>>
RedisClient::pipeline(std::vector<std::vector<std::string>> commands) {
    const auto start = SteadyClock::now();
    auto& connection = connection_for(co_await asio::this_coro::executor);
    auto results = co_await connection.exchange(commands);
    auto& metrics = shared_.metrics();
    const std::chrono::duration<double> took = SteadyClock::now() - start;
    metrics.observe("sigma_shim_redis_duration_seconds", took.count());
    for (const auto& result : results) {
        // A cancelled call says nothing about Redis.
        if (!result.ok() && result.failure != RedisFailure::cancelled)
            metrics.inc("sigma_shim_redis_errors_total", {std::string(to_string(result.failure))});
    }
    co_return results;
}

asio::awaitable<bool> RedisClient::stop(std::chrono::steady_clock::duration grace) {
    shared_.stop();
    // Terminal: a connection's coroutines end on it whatever they wait for (their sockets close, and the
    // calls waiting on them fail with closed).
    shared_.group().cancel(asio::cancellation_type::terminal);
    co_return co_await shared_.group().wait_empty(SteadyClock::now() + grace);
}

} // namespace shim::redis
