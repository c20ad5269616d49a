// The store replicas share objects through (app/redis_shared_store.hpp) against a real redis-server: values
// with their TTL, locks taken once and freed by their owner only, `unavailable` within the deadline when
// Redis is absent, paused or answers an error, and the shared layer over it as two replicas would use it.
#include "app/redis_shared_store.hpp"
#include "fake_upstream.hpp"
#include "ops/metrics.hpp"
#include "redis/redis_client.hpp"
#include "redis/redis_observability.hpp"
#include "redis_server.hpp"
#include "redis_test_support.hpp"
#include "upstream/shared_upstream.hpp"
#include "upstream/upstream_metrics.hpp"
#include "util/key_hash.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>
#include <functional>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using redis_test::RedisServer;
using shim::app::RedisSharedStore;
using shim::redis::RedisClient;
using shim::redis::RedisValue;
using shim::upstream::SharedResult;
using shim::upstream::SharedStatus;

// A client on its own registry; generous deadlines unless a test is about the deadline.
struct Store {
    explicit Store(const std::string& url, std::chrono::milliseconds timeout = 5s) {
        shim::redis::register_redis_metrics(metrics);
        shim::upstream::register_upstream_metrics(metrics);
        client = std::make_unique<RedisClient>(redis_test::options_for(url, timeout), metrics);
        store = std::make_unique<RedisSharedStore>(*client);
    }
    shim::ops::Metrics metrics;
    std::unique_ptr<RedisClient> client;
    std::unique_ptr<RedisSharedStore> store;
};

void run(std::vector<Store*> stores, std::function<asio::awaitable<void>()> body) {
    std::vector<RedisClient*> clients;
    for (auto* s : stores)
        clients.push_back(s->client.get());
    redis_test::run_then_stop(std::move(clients), std::move(body));
}

asio::awaitable<void> pause(std::chrono::milliseconds d) {
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    co_await timer.async_wait(asio::use_awaitable);
}

std::string status_name(SharedStatus s) {
    switch (s) {
    case SharedStatus::ok:
        return "ok";
    case SharedStatus::absent:
        return "absent";
    case SharedStatus::unavailable:
        return "unavailable";
    }
    return "?";
}

// The awaited result is named first: no co_await inside Boost.Test's macros.
#define CHECK_STATUS(result, want)                                                                           \
    do {                                                                                                     \
        const SharedResult checked_ = result;                                                                \
        BOOST_TEST(status_name(checked_.status) == status_name(want));                                       \
    } while (false)

std::vector<std::string> cmd(std::initializer_list<std::string> args) {
    return args;
}

// Keys and owners named outside the coroutines: GCC 12 miscompiles a string literal converted to std::string
// inside a co_await expression.
const std::string obj_k = "sigma-shim:obj:k";
const std::string obj_short = "sigma-shim:obj:short";
const std::string obj_list = "sigma-shim:obj:list";
const std::string lock_k = "sigma-shim:lock:k";
const std::string lock_e = "sigma-shim:lock:e";
const std::string one = "one";
const std::string two = "two";
const std::string v = "v";

} // namespace

BOOST_AUTO_TEST_SUITE(redis_shared_store)

BOOST_AUTO_TEST_CASE(values_round_trip_binary_safe_and_expire) {
    RedisServer server;
    Store s(server.url());
    const std::string value = std::string("sigma-shim/1 200 0\n\0\xff body", 24);
    run({&s}, [&]() -> asio::awaitable<void> {
        CHECK_STATUS(co_await s.store->get(obj_k), SharedStatus::absent);
        CHECK_STATUS(co_await s.store->put(obj_k, value, 60s), SharedStatus::ok);
        const auto got = co_await s.store->get(obj_k);
        CHECK_STATUS(got, SharedStatus::ok);
        BOOST_TEST(got.value == value);
        const auto pttl = server.command(cmd({"PTTL", "sigma-shim:obj:k"}));
        BOOST_TEST((pttl.integer > 50'000 && pttl.integer <= 60'000), pttl.integer);
        // A short TTL: gone by itself (polled, with a deadline).
        CHECK_STATUS(co_await s.store->put(obj_short, value, 50ms), SharedStatus::ok);
        const auto give_up = std::chrono::steady_clock::now() + 10s;
        SharedResult later;
        do {
            co_await pause(10ms);
            later = co_await s.store->get(obj_short);
        } while (later.status == SharedStatus::ok && std::chrono::steady_clock::now() < give_up);
        CHECK_STATUS(later, SharedStatus::absent);
    });
}

BOOST_AUTO_TEST_CASE(a_lock_is_taken_once_and_freed_by_its_owner_only) {
    RedisServer server;
    Store s(server.url());
    run({&s}, [&]() -> asio::awaitable<void> {
        CHECK_STATUS(co_await s.store->lock(lock_k, one, 30s), SharedStatus::ok);
        CHECK_STATUS(co_await s.store->lock(lock_k, two, 30s), SharedStatus::absent);
        BOOST_TEST(server.command(cmd({"GET", "sigma-shim:lock:k"})).text == "one");
        const auto pttl = server.command(cmd({"PTTL", "sigma-shim:lock:k"}));
        BOOST_TEST((pttl.integer > 20'000 && pttl.integer <= 30'000), pttl.integer);
        // Not the owner: the lock stays.
        CHECK_STATUS(co_await s.store->unlock(lock_k, two), SharedStatus::absent);
        BOOST_TEST(server.command(cmd({"GET", "sigma-shim:lock:k"})).text == "one");
        // Redis forgot the script (a restart, SCRIPT FLUSH): sent whole again, and the owner frees it.
        server.command(cmd({"SCRIPT", "FLUSH"}));
        CHECK_STATUS(co_await s.store->unlock(lock_k, one), SharedStatus::ok);
        BOOST_TEST(server.command(cmd({"EXISTS", "sigma-shim:lock:k"})).integer == 0);
        CHECK_STATUS(co_await s.store->lock(lock_k, two, 30s), SharedStatus::ok);
        // A lock that expired and was taken by another is not freed by its first owner.
        CHECK_STATUS(co_await s.store->lock(lock_e, one, 20ms), SharedStatus::ok);
        const auto give_up = std::chrono::steady_clock::now() + 10s;
        SharedResult taken;
        do {
            co_await pause(10ms);
            taken = co_await s.store->lock(lock_e, two, 30s);
        } while (taken.status == SharedStatus::absent && std::chrono::steady_clock::now() < give_up);
        CHECK_STATUS(taken, SharedStatus::ok);
        CHECK_STATUS(co_await s.store->unlock(lock_e, one), SharedStatus::absent);
        BOOST_TEST(server.command(cmd({"GET", "sigma-shim:lock:e"})).text == "two");
    });
}

BOOST_AUTO_TEST_CASE(an_error_reply_is_unavailable) {
    RedisServer server;
    Store s(server.url());
    server.command(cmd({"LPUSH", "sigma-shim:obj:list", "x"}));
    run({&s}, [&]() -> asio::awaitable<void> {
        CHECK_STATUS(co_await s.store->get(obj_list), SharedStatus::unavailable);
        CHECK_STATUS(co_await s.store->unlock(obj_list, one), SharedStatus::unavailable);
    });
}

BOOST_AUTO_TEST_CASE(an_absent_redis_is_unavailable_at_once) {
    const redis_test::RefusingPort absent;
    Store s(absent.url(), 250ms);
    run({&s}, [&]() -> asio::awaitable<void> {
        const auto start = std::chrono::steady_clock::now();
        CHECK_STATUS(co_await s.store->get(obj_k), SharedStatus::unavailable);
        CHECK_STATUS(co_await s.store->put(obj_k, v, 1s), SharedStatus::unavailable);
        CHECK_STATUS(co_await s.store->lock(lock_k, one, 1s), SharedStatus::unavailable);
        CHECK_STATUS(co_await s.store->unlock(lock_k, one), SharedStatus::unavailable);
        // Each within the deadline (a refused connect is immediate; the backoff fails the others at once).
        BOOST_TEST((std::chrono::steady_clock::now() - start < 4 * 250ms));
    });
}

BOOST_AUTO_TEST_CASE(a_paused_redis_is_unavailable_within_the_deadline) {
    RedisServer server;
    Store s(server.url(), 200ms);
    run({&s}, [&]() -> asio::awaitable<void> {
        CHECK_STATUS(co_await s.store->put(obj_k, v, 60s), SharedStatus::ok);
        BOOST_TEST((server.command(cmd({"CLIENT", "PAUSE", "3000", "ALL"})) == RedisValue::of_status("OK")));
        const auto start = std::chrono::steady_clock::now();
        CHECK_STATUS(co_await s.store->get(obj_k), SharedStatus::unavailable);
        const auto took = std::chrono::steady_clock::now() - start;
        // The deadline, and a margin for a loaded machine; well short of the pause.
        BOOST_TEST((took >= 150ms && took < 1500ms),
                   std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    });
}

BOOST_AUTO_TEST_CASE(two_replicas_share_an_object_through_redis) {
    RedisServer server;
    Store a(server.url());
    Store b(server.url());
    test_support::FakeUpstream upstream;
    const std::string target =
        "/api/v3/files/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const std::string key = "Secret-Key-Never-In-Redis";
    upstream.always(target, test_support::json_answer(200, R"({"data": {"type": "file"}})"));
    shim::upstream::SharedOptions options;
    options.owner = "a";
    shim::upstream::SharedUpstream replica_a(upstream, *a.store, options, a.metrics);
    options.owner = "b";
    shim::upstream::SharedUpstream replica_b(upstream, *b.store, options, b.metrics);
    const shim::upstream::UpstreamRequest request{target, key, "r1", {}};
    run({&a, &b}, [&]() -> asio::awaitable<void> {
        const auto first = co_await replica_a.get(request);
        BOOST_TEST(first.status == 200u);
        const auto second = co_await replica_b.get(request);
        BOOST_TEST(second.status == 200u);
        BOOST_TEST(second.body == first.body);
        BOOST_TEST((second.cache == shim::upstream::CacheStatus::hit));
    });
    BOOST_TEST(upstream.requests.size() == 1u);
    // One object, its lock freed; named by the key's SHA-256, the key nowhere.
    const auto keys = server.command(cmd({"KEYS", "*"}));
    BOOST_REQUIRE(keys.elements.size() == 1u);
    const auto& name = keys.elements.front().text;
    BOOST_TEST(name.starts_with("sigma-shim:obj:"), name);
    BOOST_TEST(name.find(shim::util::sha256_hex(key)) != std::string::npos, name);
    BOOST_TEST(name.find(key) == std::string::npos, name);
    BOOST_TEST(server.command(cmd({"GET", name})).text.find(key) == std::string::npos);
    const auto pttl = server.command(cmd({"PTTL", name}));
    BOOST_TEST((pttl.integer > 3'500'000 && pttl.integer <= 3'600'000), pttl.integer);
}

BOOST_AUTO_TEST_SUITE_END()
