// RedisClient against a real redis-server that each test starts for itself (redis_server.hpp): round trips,
// pipelining on one connection, one connection per io_context, AUTH and SELECT, and what the client does
// when Redis is paused, killed, restarted or absent. Deadlines are generous (5 s) except where a timeout is
// the point, so that a loaded machine cannot fail a test by chance.
#include "ops/log.hpp"
#include "ops/metrics.hpp"
#include "redis/redis_client.hpp"
#include "redis/redis_observability.hpp"
#include "redis/redis_script.hpp"
#include "redis_server.hpp"
#include "redis_test_support.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>
#include <functional>
#include <mutex>
#include <netinet/in.h>
#include <set>
#include <sstream>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace std::string_literals;
using redis_test::options_for;
using redis_test::RedisServer;
using shim::redis::RedisClient;
using shim::redis::RedisFailure;
using shim::redis::RedisOptions;
using shim::redis::RedisResult;
using shim::redis::RedisState;
using shim::redis::RedisValue;

// A client with its own registry, and the state changes it reported.
struct Client {
    explicit Client(RedisOptions options) {
        shim::redis::register_redis_metrics(metrics);
        options.on_state_change = [this](RedisState state, const std::string& detail) {
            std::lock_guard lock(mutex);
            changes.push_back(state);
            details.push_back(detail);
        };
        client = std::make_unique<RedisClient>(std::move(options), metrics);
    }
    std::vector<RedisState> state_changes() {
        std::lock_guard lock(mutex);
        return changes;
    }
    std::string rendered() const { return metrics.render(); }

    shim::ops::Metrics metrics;
    std::mutex mutex;
    std::vector<RedisState> changes;
    std::vector<std::string> details;
    std::unique_ptr<RedisClient> client;
};

RedisServer::Options with_password(std::string password) {
    RedisServer::Options options;
    options.requirepass = std::move(password);
    return options;
}

RedisServer::Options with_args(std::vector<std::string> args) {
    RedisServer::Options options;
    options.extra = std::move(args);
    return options;
}

RedisServer::Options with_unix_socket() {
    RedisServer::Options options;
    options.unix_socket = true;
    return options;
}

// Runs `body` on a fresh io_context of this thread, then stops the client (which must end every coroutine it
// started: run() returns only when nothing is left on the io_context).
void run(Client& c, std::function<asio::awaitable<void>(RedisClient&)> body) {
    redis_test::run_then_stop({c.client.get()}, [&]() { return body(*c.client); });
}

asio::awaitable<void> pause(std::chrono::milliseconds d) {
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    co_await timer.async_wait(asio::use_awaitable);
}

// Calls `args` until it succeeds or `limit` passes; the last result. For states reached by themselves
// (a pause ending, a restarted server taken back after the backoff), never a fixed wait.
asio::awaitable<RedisResult> until_ok(RedisClient& client, std::vector<std::string> args,
                                      std::chrono::seconds limit = 20s) {
    const auto give_up = std::chrono::steady_clock::now() + limit;
    for (;;) {
        auto result = co_await client.call(args);
        if (result.ok() || std::chrono::steady_clock::now() > give_up) co_return result;
        co_await pause(10ms); // the poll's pace
    }
}

std::string describe(const RedisResult& r) {
    return std::string(shim::redis::to_string(r.failure)) + ": " + r.error;
}

// A command's arguments, built outside the coroutine: GCC 12 miscompiles a braced list of string literals
// in a co_await expression ("array used as initializer").
template <typename... Args>
std::vector<std::string> cmd(Args&&... args) {
    return {std::string(std::forward<Args>(args))...};
}

#define REQUIRE_OK(result) BOOST_REQUIRE_MESSAGE((result).ok(), describe(result))

bool has_line(const std::string& text, const std::string& line) {
    return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(redis_client)

BOOST_AUTO_TEST_CASE(set_get_incr_eval_round_trips_binary_safe) {
    RedisServer server;
    Client c(options_for(server.url()));
    const std::string binary = "a\0b\r\n\xff\x01 end"s;
    run(c, [&](RedisClient& client) -> asio::awaitable<void> {
        auto set = co_await client.call(cmd("SET", "bin\0key"s, binary));
        REQUIRE_OK(set);
        BOOST_TEST((set.value == RedisValue::of_status("OK")));
        auto get = co_await client.call(cmd("GET", "bin\0key"s));
        REQUIRE_OK(get);
        BOOST_TEST((get.value == RedisValue::of_string(binary)));
        auto missing = co_await client.call(cmd("GET", "no such key"));
        REQUIRE_OK(missing);
        BOOST_TEST(missing.value.is_nil());
        auto incr = co_await client.call(cmd("INCR", "counter"));
        REQUIRE_OK(incr);
        BOOST_TEST((incr.value == RedisValue::of_integer(1)));
        auto eval =
            co_await client.call(cmd("EVAL", "return {KEYS[1], ARGV[1], 42, redis.call('INCR', KEYS[2])}",
                                     "2", "k", "counter", "a\0z"s));
        REQUIRE_OK(eval);
        BOOST_TEST(
            (eval.value == RedisValue::of_array({RedisValue::of_string("k"), RedisValue::of_string("a\0z"s),
                                                 RedisValue::of_integer(42), RedisValue::of_integer(2)})));
        auto wrong = co_await client.call(cmd("INCR", "bin\0key"s));
        BOOST_TEST((wrong.failure == RedisFailure::reply));
        BOOST_TEST(wrong.error.rfind("ERR", 0) == 0, wrong.error);
    });
    BOOST_TEST((server.command(cmd("GET", "bin\0key"s)) == RedisValue::of_string(binary)));
    BOOST_TEST(has_line(c.rendered(), "sigma_shim_redis_up 1"));
    BOOST_TEST(has_line(c.rendered(), "sigma_shim_redis_errors_total{reason=\"reply\"} 1"));
    BOOST_TEST(has_line(c.rendered(), "sigma_shim_redis_duration_seconds_count 6"));
}

BOOST_AUTO_TEST_CASE(a_pipeline_answers_in_order) {
    RedisServer server;
    Client c(options_for(server.url()));
    run(c, [&](RedisClient& client) -> asio::awaitable<void> {
        std::vector<std::vector<std::string>> batch{
            {"SET", "p", "10"}, {"INCRBY", "p", "5"}, {"NO-SUCH-COMMAND"}, {"GET", "p"}};
        const auto results = co_await client.pipeline(std::move(batch));
        BOOST_REQUIRE_EQUAL(results.size(), 4u);
        BOOST_TEST((results[0].value == RedisValue::of_status("OK")));
        BOOST_TEST((results[1].value == RedisValue::of_integer(15)));
        BOOST_TEST((results[2].failure == RedisFailure::reply));
        BOOST_TEST((results[3].value == RedisValue::of_string("15")));
        const auto none = co_await client.pipeline(std::vector<std::vector<std::string>>{});
        BOOST_TEST(none.empty());
    });
}

BOOST_AUTO_TEST_CASE(a_thousand_concurrent_calls_share_one_connection_and_each_gets_its_own_reply) {
    RedisServer server;
    Client c(options_for(server.url()));
    constexpr int callers = 1000;
    std::vector<RedisResult> echoes(callers);
    std::vector<RedisResult> ids(callers);
    run(c, [&](RedisClient& client) -> asio::awaitable<void> {
        const auto executor = co_await asio::this_coro::executor;
        std::atomic<int> left = callers;
        asio::steady_timer all_done(executor, std::chrono::steady_clock::time_point::max());
        for (int i = 0; i < callers; ++i) {
            asio::co_spawn(
                executor,
                [&, i]() -> asio::awaitable<void> {
                    // Half single calls, half two-command pipelines: both kinds interleave on the connection.
                    if (i % 2 == 0) {
                        echoes[i] = co_await client.call(cmd("ECHO", "caller " + std::to_string(i)));
                        ids[i] = co_await client.call(cmd("CLIENT", "ID"));
                    } else {
                        std::vector<std::vector<std::string>> batch{{"CLIENT", "ID"},
                                                                    {"ECHO", "caller " + std::to_string(i)}};
                        auto both = co_await client.pipeline(std::move(batch));
                        ids[i] = std::move(both[0]);
                        echoes[i] = std::move(both[1]);
                    }
                    if (--left == 0) all_done.cancel();
                },
                asio::detached);
        }
        boost::system::error_code ec;
        co_await all_done.async_wait(boost::asio::redirect_error(asio::use_awaitable, ec));
    });
    std::set<std::int64_t> connections;
    for (int i = 0; i < callers; ++i) {
        BOOST_REQUIRE_MESSAGE(echoes[i].ok() && ids[i].ok(), describe(echoes[i])
                                                                 << " / " << describe(ids[i]));
        BOOST_TEST((echoes[i].value == RedisValue::of_string("caller " + std::to_string(i))));
        connections.insert(ids[i].value.integer);
    }
    BOOST_TEST(connections.size() == 1u);
}

BOOST_AUTO_TEST_CASE(each_io_context_gets_its_own_connection) {
    RedisServer server;
    Client c(options_for(server.url()));
    asio::io_context contexts[2];
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    std::vector<std::thread> threads;
    for (auto& ioc : contexts) {
        guards.push_back(asio::make_work_guard(ioc));
        threads.emplace_back([&ioc] { ioc.run(); });
    }
    // Two calls on each io_context: the same connection twice on one, a different one on the other.
    auto ids_on = [&](asio::io_context& ioc) {
        return asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<std::vector<std::int64_t>> {
                std::vector<std::int64_t> ids;
                for (int i = 0; i < 2; ++i) {
                    auto id = co_await c.client->call(cmd("CLIENT", "ID"));
                    ids.push_back(id.ok() ? id.value.integer : -1);
                }
                co_return ids;
            },
            asio::use_future);
    };
    auto first = ids_on(contexts[0]);
    auto second = ids_on(contexts[1]);
    const auto a = first.get();
    const auto b = second.get();
    const bool stopped = asio::co_spawn(contexts[0], c.client->stop(), asio::use_future).get();
    guards.clear();
    for (auto& t : threads)
        t.join();
    BOOST_TEST(stopped);
    BOOST_TEST(a[0] > 0);
    BOOST_TEST(b[0] > 0);
    BOOST_TEST(a[0] == a[1]);
    BOOST_TEST(b[0] == b[1]);
    BOOST_TEST(a[0] != b[0]);
}

BOOST_AUTO_TEST_CASE(auth_with_a_password_right_and_wrong) {
    RedisServer server(with_password("open sesame"));
    {
        Client c(options_for(server.url(":open%20sesame")));
        run(c, [&](RedisClient& client) -> asio::awaitable<void> {
            REQUIRE_OK(co_await client.call(cmd("SET", "authed", "yes")));
        });
        BOOST_TEST((server.command(cmd("GET", "authed")) == RedisValue::of_string("yes")));
    }
    for (const std::string auth : {":hunter2", ""}) {
        Client c(options_for(server.url(auth)));
        run(c, [&](RedisClient& client) -> asio::awaitable<void> {
            const auto result = co_await client.call(cmd("SET", "authed", "no"));
            BOOST_TEST((result.failure == RedisFailure::unreachable), describe(result));
            // The server's reason (WRONGPASS, NOAUTH), never the password.
            BOOST_TEST((result.error.find("WRONGPASS") != std::string::npos ||
                        result.error.find("NOAUTH") != std::string::npos),
                       result.error);
            BOOST_TEST(result.error.find("hunter2") == std::string::npos, result.error);
        });
        BOOST_TEST((c.state_changes() == std::vector<RedisState>{RedisState::down}));
    }
    BOOST_TEST((server.command(cmd("GET", "authed")) == RedisValue::of_string("yes")));
}

BOOST_AUTO_TEST_CASE(auth_as_an_acl_user) {
    RedisServer server(with_args({"--user", "shim", "on", ">pa:ss", "~*", "&*", "+@all"}));
    Client c(options_for(server.url("shim:pa%3Ass")));
    run(c, [&](RedisClient& client) -> asio::awaitable<void> {
        const auto whoami = co_await client.call(cmd("ACL", "WHOAMI"));
        REQUIRE_OK(whoami);
        BOOST_TEST((whoami.value == RedisValue::of_string("shim")));
    });
    Client wrong(options_for(server.url("shim:nope")));
    run(wrong, [&](RedisClient& client) -> asio::awaitable<void> {
        const auto result = co_await client.call(cmd("PING"));
        BOOST_TEST((result.failure == RedisFailure::unreachable), describe(result));
        BOOST_TEST(result.error.find("WRONGPASS") != std::string::npos, result.error);
    });
}

BOOST_AUTO_TEST_CASE(keys_land_in_the_selected_database) {
    RedisServer server;
    Client c(options_for(server.url({}, "5")));
    run(c, [&](RedisClient& client) -> asio::awaitable<void> {
        REQUIRE_OK(co_await client.call(cmd("SET", "where", "db5")));
    });
    const auto replies = server.commands({{"GET", "where"}, {"SELECT", "5"}, {"GET", "where"}});
    BOOST_TEST(replies[0].is_nil());
    BOOST_TEST((replies[2] == RedisValue::of_string("db5")));
}

BOOST_AUTO_TEST_CASE(a_unix_socket_with_a_database) {
    RedisServer server(with_unix_socket());
    Client c(options_for("unix://" + server.socket_path() + "?db=2"));
    run(c, [&](RedisClient& client) -> asio::awaitable<void> {
        REQUIRE_OK(co_await client.call(cmd("SET", "via", "unix")));
        const auto info = co_await client.call(cmd("CLIENT", "INFO"));
        REQUIRE_OK(info);
        BOOST_TEST(info.value.text.find("laddr=" + server.socket_path()) != std::string::npos,
                   info.value.text);
    });
    const auto replies = server.commands({{"SELECT", "2"}, {"GET", "via"}});
    BOOST_TEST((replies[1] == RedisValue::of_string("unix")));
}

BOOST_AUTO_TEST_CASE(a_paused_server_makes_calls_time_out_then_they_work_again) {
    RedisServer server;
    Client c(options_for(server.url(), 250ms));
    run(c, [&](RedisClient& client) -> asio::awaitable<void> {
        REQUIRE_OK(co_await client.call(cmd("SET", "k", "v")));
        // Pipelined behind each other on the connection; the pause holds every reply.
        BOOST_TEST((server.command(cmd("CLIENT", "PAUSE", "2000", "ALL")) == RedisValue::of_status("OK")));
        std::vector<std::vector<std::string>> two_gets{{"GET", "k"}, {"GET", "k"}};
        const auto results = co_await client.pipeline(std::move(two_gets));
        BOOST_TEST((results[0].failure == RedisFailure::timeout), describe(results[0]));
        BOOST_TEST((results[1].failure == RedisFailure::timeout), describe(results[1]));
        const auto after = co_await until_ok(client, cmd("GET", "k"));
        REQUIRE_OK(after);
        BOOST_TEST((after.value == RedisValue::of_string("v")));
    });
    BOOST_TEST(c.rendered().find("sigma_shim_redis_errors_total{reason=\"timeout\"} ") != std::string::npos);
    BOOST_TEST(has_line(c.rendered(), "sigma_shim_redis_up 1"));
    const auto changes = c.state_changes();
    BOOST_REQUIRE(changes.size() >= 3u);
    BOOST_TEST((changes.front() == RedisState::up));
    BOOST_TEST((changes[1] == RedisState::down));
    BOOST_TEST((changes.back() == RedisState::up));
}

BOOST_AUTO_TEST_CASE(a_killed_server_fails_calls_in_flight_and_a_restarted_one_is_used_again) {
    RedisServer server;
    Client c(options_for(server.url()));
    run(c, [&](RedisClient& client) -> asio::awaitable<void> {
        REQUIRE_OK(co_await client.call(cmd("SET", "k", "v")));
        // A call the server holds (BLPOP with no timeout) is in flight when the server dies.
        std::optional<RedisResult> blocked;
        asio::steady_timer ended(co_await asio::this_coro::executor,
                                 std::chrono::steady_clock::time_point::max());
        asio::co_spawn(
            co_await asio::this_coro::executor,
            [&]() -> asio::awaitable<void> {
                blocked = co_await client.call(cmd("BLPOP", "never", "0"));
                ended.cancel();
            },
            asio::detached);
        const auto give_up = std::chrono::steady_clock::now() + 20s;
        while (server.command(cmd("CLIENT", "LIST")).text.find("cmd=blpop") == std::string::npos) {
            BOOST_REQUIRE(std::chrono::steady_clock::now() < give_up);
            co_await pause(5ms);
        }
        server.kill();
        boost::system::error_code ec;
        if (!blocked) co_await ended.async_wait(boost::asio::redirect_error(asio::use_awaitable, ec));
        BOOST_REQUIRE(blocked);
        BOOST_TEST((blocked->failure == RedisFailure::closed), describe(*blocked));
        for (int i = 0; i < 3; ++i) {
            const auto down = co_await client.call(cmd("GET", "k"));
            BOOST_TEST((down.failure == RedisFailure::closed || down.failure == RedisFailure::unreachable),
                       describe(down));
        }
        server.restart();
        REQUIRE_OK(co_await until_ok(client, cmd("SET", "k", "again")));
    });
    BOOST_TEST((server.command(cmd("GET", "k")) == RedisValue::of_string("again")));
    // One line per change, however many calls failed meanwhile.
    BOOST_TEST(
        (c.state_changes() == std::vector<RedisState>{RedisState::up, RedisState::down, RedisState::up}));
}

BOOST_AUTO_TEST_CASE(a_cancelled_call_leaves_the_connection_in_step) {
    RedisServer server;
    Client c(options_for(server.url()));
    run(c, [&](RedisClient& client) -> asio::awaitable<void> {
        REQUIRE_OK(co_await client.call(cmd("SET", "k", "v")));
        const auto executor = co_await asio::this_coro::executor;
        asio::cancellation_signal signal;
        std::optional<RedisResult> abandoned;
        asio::co_spawn(
            executor, [&]() -> asio::awaitable<void> { abandoned = co_await client.call(cmd("GET", "k")); },
            asio::bind_cancellation_slot(signal.slot(), asio::detached));
        co_await asio::post(executor, asio::use_awaitable); // it has sent GET and waits for the reply
        signal.emit(asio::cancellation_type::terminal);
        // GET's reply still comes first on the connection; it must not be taken for ECHO's.
        const auto next = co_await client.call(cmd("ECHO", "mine"));
        BOOST_REQUIRE(abandoned);
        BOOST_TEST((abandoned->failure == RedisFailure::cancelled), describe(*abandoned));
        REQUIRE_OK(next);
        BOOST_TEST((next.value == RedisValue::of_string("mine")));
    });
    BOOST_TEST((c.state_changes() == std::vector<RedisState>{RedisState::up}));
}

BOOST_AUTO_TEST_CASE(noscript_surfaces_as_a_redis_error) {
    RedisServer server;
    Client c(options_for(server.url()));
    run(c, [&](RedisClient& client) -> asio::awaitable<void> {
        const std::string script = "return ARGV[1]";
        const auto sha = co_await client.call(cmd("SCRIPT", "LOAD", script));
        REQUIRE_OK(sha);
        REQUIRE_OK(co_await client.call(cmd("SCRIPT", "FLUSH")));
        const auto missing = co_await client.call(cmd("EVALSHA", sha.value.text, "0", "x"));
        BOOST_TEST((missing.failure == RedisFailure::reply), describe(missing));
        BOOST_TEST(missing.error.rfind("NOSCRIPT", 0) == 0, missing.error);
        BOOST_TEST(missing.value.is_error());
        REQUIRE_OK(co_await client.call(cmd("SCRIPT", "LOAD", script)));
        const auto again = co_await client.call(cmd("EVALSHA", sha.value.text, "0", "x"));
        REQUIRE_OK(again);
        BOOST_TEST((again.value == RedisValue::of_string("x")));
    });
}

BOOST_AUTO_TEST_CASE(a_script_runs_by_digest_and_is_sent_again_after_a_flush) {
    RedisServer server;
    Client c(options_for(server.url()));
    run(c, [&](RedisClient& client) -> asio::awaitable<void> {
        const shim::redis::RedisScript script("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}");
        const auto loaded = co_await client.call(cmd("SCRIPT", "LOAD", script.source()));
        REQUIRE_OK(loaded);
        BOOST_TEST(loaded.value.text == script.sha1()); // the digest Redis itself computes
        REQUIRE_OK(co_await client.call(cmd("SCRIPT", "FLUSH")));
        for (std::int64_t expected = 1; expected <= 2; ++expected) { // after the flush: EVAL, then EVALSHA
            std::vector<std::string> keys{"counter"}, args{"arg"};
            const auto ran = co_await script.run(client, std::move(keys), std::move(args));
            REQUIRE_OK(ran);
            BOOST_REQUIRE_EQUAL(ran.value.elements.size(), 3u);
            BOOST_TEST(ran.value.elements[0].text == "counter");
            BOOST_TEST(ran.value.elements[1].text == "arg");
            BOOST_TEST(ran.value.elements[2].integer == expected);
        }
        const auto cached = co_await client.call(cmd("SCRIPT", "EXISTS", script.sha1()));
        REQUIRE_OK(cached);
        BOOST_TEST(cached.value.elements.at(0).integer == 1);
        const shim::redis::RedisScript broken("return redis.call('NOSUCHCOMMAND')");
        std::vector<std::string> none;
        const auto failed = co_await broken.run(client, none, none);
        BOOST_TEST((failed.failure == RedisFailure::reply), describe(failed));
    });
}

BOOST_AUTO_TEST_CASE(an_absent_server_fails_calls_fast_and_backs_off) {
    const redis_test::RefusingPort absent;
    auto options = options_for(absent.url());
    options.backoff_first = 60s; // the second call certainly comes within it
    Client c(std::move(options));
    run(c, [&](RedisClient& client) -> asio::awaitable<void> {
        const auto first = co_await client.call(cmd("PING"));
        BOOST_TEST((first.failure == RedisFailure::unreachable), describe(first));
        BOOST_TEST(first.error.find("refused") != std::string::npos, first.error);
        // Within the backoff: failed without a connect.
        const auto second = co_await client.call(cmd("PING"));
        BOOST_TEST((second.failure == RedisFailure::unreachable), describe(second));
        BOOST_TEST(second.error.find("not trying again yet") != std::string::npos, second.error);
    });
    BOOST_TEST(has_line(c.rendered(), "sigma_shim_redis_errors_total{reason=\"unreachable\"} 2"));
    BOOST_TEST(has_line(c.rendered(), "sigma_shim_redis_up 0"));
    BOOST_TEST((c.client->state() == RedisState::down));
}

BOOST_AUTO_TEST_CASE(state_changes_are_logged_once_not_per_call) {
    const redis_test::RefusingPort absent;
    const auto port = absent.port();
    std::ostringstream log;
    shim::ops::Logger logger(log, shim::ops::LogLevel::info);
    auto options = options_for("redis://:hunter2@127.0.0.1:" + std::to_string(port));
    options.on_state_change = shim::redis::log_redis_state_changes(logger);
    shim::ops::Metrics metrics;
    shim::redis::register_redis_metrics(metrics);
    RedisClient client(std::move(options), metrics);
    asio::io_context ioc;
    auto done = asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<bool> {
            for (int i = 0; i < 3; ++i)
                BOOST_TEST(!(co_await client.call(cmd("PING"))).ok());
            co_return co_await client.stop();
        },
        asio::use_future);
    ioc.run();
    BOOST_TEST(done.get());
    const std::string lines = log.str();
    BOOST_TEST(std::count(lines.begin(), lines.end(), '\n') == 1, lines);
    BOOST_TEST(lines.find("\"level\":\"warn\",\"msg\":\"redis down\"") != std::string::npos, lines);
    BOOST_TEST(lines.find("refused") != std::string::npos, lines);
    BOOST_TEST(lines.find("redis://:***@127.0.0.1:" + std::to_string(port) + "/0") != std::string::npos,
               lines);
    BOOST_TEST(lines.find("hunter2") == std::string::npos, lines);
}

BOOST_AUTO_TEST_CASE(a_server_that_never_answers_cannot_hold_a_call_past_its_deadline) {
    // A listening socket nobody accepts on: the connect succeeds (the kernel's backlog), no reply ever comes.
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    BOOST_REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    BOOST_REQUIRE(::listen(listener, 16) == 0);
    BOOST_REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    Client c(options_for("redis://127.0.0.1:" + std::to_string(ntohs(address.sin_port)), 200ms));
    run(c, [&](RedisClient& client) -> asio::awaitable<void> {
        const auto result = co_await client.call(cmd("PING"));
        BOOST_TEST((result.failure == RedisFailure::timeout || result.failure == RedisFailure::unreachable),
                   describe(result));
    });
    ::close(listener);
}

BOOST_AUTO_TEST_CASE(stop_with_calls_in_flight_completes_and_fails_them) {
    RedisServer server;
    Client c(options_for(server.url(), 30s));
    constexpr int callers = 10;
    std::vector<std::optional<RedisResult>> results(callers);
    run(c, [&](RedisClient& client) -> asio::awaitable<void> {
        REQUIRE_OK(co_await client.call(cmd("PING")));
        const auto executor = co_await asio::this_coro::executor;
        for (int i = 0; i < callers; ++i) {
            asio::co_spawn(
                executor,
                [&, i]() -> asio::awaitable<void> {
                    results[i] = co_await client.call(cmd("BLPOP", "never " + std::to_string(i), "0"));
                },
                asio::detached);
        }
        co_await pause(1ms); // let them queue; run() then stops the client with all of them waiting
    });
    for (const auto& result : results) {
        BOOST_REQUIRE(result);
        BOOST_TEST((result->failure == RedisFailure::closed), describe(*result));
    }
}

BOOST_AUTO_TEST_CASE(a_stopped_client_fails_calls_at_once) {
    RedisServer server;
    Client c(options_for(server.url()));
    run(c, [&](RedisClient& client) -> asio::awaitable<void> {
        REQUIRE_OK(co_await client.call(cmd("PING")));
        BOOST_TEST(co_await client.stop());
        const auto after = co_await client.call(cmd("PING"));
        BOOST_TEST((after.failure == RedisFailure::closed), describe(after));
    });
}

BOOST_AUTO_TEST_SUITE_END()
