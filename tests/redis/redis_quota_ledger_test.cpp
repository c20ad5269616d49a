// The shared quota ledger against a real redis-server: the Lua script decides as economy::QuotaBook does
// (the same decisions, waits and remaining counts over a long random walk across minute, day and month
// boundaries with upstream marks), replicas with clients of their own share one ledger, the ledger's keys
// expire and hold only the fingerprint, and an unreachable Redis is "no answer", never a decision.
#include "app/redis_quota_ledger.hpp"
#include "economy/quota_book.hpp"
#include "ops/metrics.hpp"
#include "redis/redis_client.hpp"
#include "redis/redis_observability.hpp"
#include "redis_server.hpp"
#include "redis_test_support.hpp"

#include <boost/test/unit_test.hpp>
#include <functional>
#include <random>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using shim::app::RedisQuotaLedger;
using shim::economy::QuotaBook;
using shim::economy::QuotaLimits;
using shim::upstream::SharedQuotaAnswer;

constexpr std::int64_t second_us = 1'000'000;

// A Redis client of its own (a replica's), its coroutines ended before it goes.
struct Replica {
    explicit Replica(const std::string& url) {
        shim::redis::register_redis_metrics(metrics);
        client = std::make_unique<shim::redis::RedisClient>(redis_test::options_for(url), metrics);
        ledger = std::make_unique<RedisQuotaLedger>(*client);
    }
    shim::ops::Metrics metrics;
    std::unique_ptr<shim::redis::RedisClient> client;
    std::unique_ptr<RedisQuotaLedger> ledger;
};

void run(std::vector<Replica*> replicas, std::function<asio::awaitable<void>()> body) {
    std::vector<shim::redis::RedisClient*> clients;
    for (auto* replica : replicas)
        clients.push_back(replica->client.get());
    redis_test::run_then_stop(std::move(clients), std::move(body));
}

std::string describe(const shim::economy::QuotaDecision& d) {
    return (d.allowed ? std::string("allowed")
                      : "refused " + d.window + " " + std::to_string(d.wait.count()) + " ms");
}

} // namespace

BOOST_AUTO_TEST_SUITE(redis_quota_ledger)

BOOST_AUTO_TEST_CASE(decides_as_the_quota_book_over_a_long_random_walk) {
    redis_test::RedisServer server;
    Replica replica(server.url());
    const QuotaLimits limits{3, 7, 20};
    QuotaBook book(limits);
    const std::string key = "0123456789abcdef";
    std::mt19937_64 random(20261201);
    // 2026-01-31 23:58:00 UTC: the first steps cross a day and a month at once.
    std::int64_t now = std::int64_t{1'769'903'880} * second_us;
    const auto steady = [](std::int64_t us) {
        return shim::economy::SteadyTime(std::chrono::microseconds(us));
    };
    const auto wall = [](std::int64_t us) {
        return shim::economy::SystemTime(std::chrono::microseconds(us));
    };
    int admitted = 0, refused = 0, marks = 0;
    run({&replica}, [&]() -> asio::awaitable<void> {
        for (int step = 0; step < 2000; ++step) {
            // Mostly a few seconds apart, some exactly on a window's edge, now and then hours or days.
            const auto roll = random() % 100;
            if (roll < 70)
                now += static_cast<std::int64_t>(random() % (25 * second_us));
            else if (roll < 80)
                now += 60 * second_us;
            else if (roll < 95)
                now += static_cast<std::int64_t>(random() % 1000);
            else
                now += static_cast<std::int64_t>(random() % (3 * 86400 * second_us));
            if (random() % 40 == 0) {
                const std::chrono::milliseconds length{static_cast<std::int64_t>(random() % 90'000)};
                book.mark_exhausted(key, steady(now) + length);
                const bool marked = co_await replica.ledger->mark_exhausted_at(key, length, now);
                BOOST_REQUIRE(marked);
                ++marks;
            }
            const auto expected = book.try_take(key, steady(now), wall(now));
            const auto left = book.remaining(key, steady(now), wall(now));
            const auto got = co_await replica.ledger->try_take_at(key, limits, now);
            BOOST_REQUIRE_MESSAGE(got, "no answer from Redis at step " << step);
            BOOST_REQUIRE_MESSAGE(got->decision.allowed == expected.allowed &&
                                      got->decision.wait == expected.wait &&
                                      got->decision.window == expected.window,
                                  "step " << step << ": the ledger " << describe(got->decision)
                                          << ", the book " << describe(expected));
            BOOST_REQUIRE(got->remaining.minute == left.minute);
            BOOST_REQUIRE(got->remaining.day == left.day);
            BOOST_REQUIRE(got->remaining.month == left.month);
            (expected.allowed ? admitted : refused) += 1;
        }
    });
    // The walk saw both answers and the marks, or it proved little.
    BOOST_TEST(admitted > 100);
    BOOST_TEST(refused > 100);
    BOOST_TEST(marks > 10);
}

BOOST_AUTO_TEST_CASE(replicas_with_clients_of_their_own_share_one_ledger_on_redis_time) {
    redis_test::RedisServer server;
    Replica a(server.url()), b(server.url()), c(server.url());
    const QuotaLimits limits{4, 0, 0};
    const std::string key = "feedfacecafebeef";
    run({&a, &b, &c}, [&]() -> asio::awaitable<void> {
        std::vector<RedisQuotaLedger*> turns{a.ledger.get(), b.ledger.get(), c.ledger.get(),
                                             a.ledger.get(), b.ledger.get(), c.ledger.get()};
        std::vector<SharedQuotaAnswer> answers;
        for (auto* ledger : turns) {
            auto answer = co_await ledger->try_take(key, limits);
            BOOST_REQUIRE(answer);
            answers.push_back(std::move(*answer));
        }
        for (int i = 0; i < 4; ++i)
            BOOST_TEST(answers[i].decision.allowed, "request " << i);
        BOOST_TEST((answers[3].remaining.minute == std::optional<unsigned>(0)));
        for (int i = 4; i < 6; ++i) {
            BOOST_TEST(!answers[i].decision.allowed, "request " << i);
            BOOST_TEST(answers[i].decision.window == "minute");
            // The oldest of the four leaves the window 60 s after it came, a moment ago.
            BOOST_TEST(answers[i].decision.wait > 55s);
            BOOST_TEST(answers[i].decision.wait <= 60s);
        }
        // An upstream 429 seen by one replica stops the key for the others.
        const std::string other = "0000111122223333";
        const bool marked = co_await a.ledger->mark_exhausted(other, 30s);
        BOOST_REQUIRE(marked);
        const auto blocked = co_await c.ledger->try_take(other, limits);
        BOOST_REQUIRE(blocked);
        BOOST_TEST(!blocked->decision.allowed);
        BOOST_TEST(blocked->decision.window == "upstream");
        BOOST_TEST(blocked->decision.wait > 25s);
        BOOST_TEST(blocked->decision.wait <= 30s);
    });
    // Two keys per API key, named by the fingerprint, without an expiry: a volatile-* eviction policy never
    // takes the quota.
    const auto keys = server.command({"KEYS", "*"});
    BOOST_TEST(keys.elements.size() == 3u); // the first key's log and state, the second's state
    for (const auto& name : keys.elements) {
        BOOST_TEST(name.text.starts_with("sigma-shim:quota:{"), name.text);
        const auto ttl = server.command({"PTTL", name.text});
        BOOST_TEST(ttl.integer == -1, name.text << " expires");
    }
}

BOOST_AUTO_TEST_CASE(a_restarted_redis_forgets_the_script_and_the_ledger_loads_it_again) {
    redis_test::RedisServer server;
    Replica replica(server.url());
    const QuotaLimits limits{2, 0, 0};
    run({&replica}, [&]() -> asio::awaitable<void> {
        const std::string key = "k";
        const auto first = co_await replica.ledger->try_take(key, limits);
        BOOST_TEST(first.has_value());
        const std::vector<std::string> flush{"SCRIPT", "FLUSH"};
        server.command(flush);
        const auto again = co_await replica.ledger->try_take(key, limits);
        BOOST_REQUIRE(again);
        BOOST_TEST(again->decision.allowed);
        BOOST_TEST((again->remaining.minute == std::optional<unsigned>(0)));
    });
}

BOOST_AUTO_TEST_CASE(an_unreachable_redis_gives_no_answer) {
    const redis_test::RefusingPort absent;
    Replica replica(absent.url());
    run({&replica}, [&]() -> asio::awaitable<void> {
        const QuotaLimits limits{4, 0, 0};
        const std::string key = "k";
        const auto taken = co_await replica.ledger->try_take(key, limits);
        BOOST_TEST(!taken.has_value());
        const bool marked = co_await replica.ledger->mark_exhausted(key, 10s);
        BOOST_TEST(!marked);
    });
}

BOOST_AUTO_TEST_SUITE_END()
