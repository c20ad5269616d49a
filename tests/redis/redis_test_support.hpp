#pragma once
// What the Redis test suites share: a client's options for a test server's URL, and a test's coroutine run to
// its end with every client it used stopped afterwards (so that nothing is left to ~io_context).
#include "redis/redis_client.hpp"

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace redis_test {

// Deadlines are generous (5 s) unless a test is about the deadline: a loaded machine must not fail a test.
shim::redis::RedisOptions options_for(const std::string& url,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Runs `body` on a fresh io_context of this thread, then stops each of `clients`, checking that their
// coroutines ended; rethrows what `body` threw.
void run_then_stop(std::vector<shim::redis::RedisClient*> clients,
                   std::function<boost::asio::awaitable<void>()> body);

} // namespace redis_test
