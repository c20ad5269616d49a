#include "redis_test_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

namespace redis_test {

shim::redis::RedisOptions options_for(const std::string& url, std::chrono::milliseconds timeout) {
    std::string error;
    auto parsed = shim::redis::parse_redis_url(url, error);
    BOOST_REQUIRE_MESSAGE(parsed, error);
    shim::redis::RedisOptions options;
    options.url = *parsed;
    options.timeout = timeout;
    return options;
}

void run_then_stop(std::vector<shim::redis::RedisClient*> clients,
                   std::function<boost::asio::awaitable<void>()> body) {
    boost::asio::io_context ioc;
    auto done = boost::asio::co_spawn(
        ioc,
        [&]() -> boost::asio::awaitable<void> {
            std::exception_ptr failure;
            try {
                co_await body();
            } catch (...) {
                failure = std::current_exception();
            }
            for (auto* client : clients) {
                const bool stopped = co_await client->stop();
                BOOST_CHECK_MESSAGE(stopped, "a client's coroutines did not end");
            }
            if (failure) std::rethrow_exception(failure);
        },
        boost::asio::use_future);
    ioc.run();
    done.get();
}

} // namespace redis_test
