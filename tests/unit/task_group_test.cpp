// net::TaskGroup: members on two io_contexts (a thread each), a bounded wait that reports what is left, the
// drain's two cancellations (total reaches only a member that lets it through, terminal reaches every one),
// and a wait that ends as the last member does.
#include "net/task_group.hpp"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using shim::net::TaskGroup;
using Time = std::chrono::steady_clock::time_point;

// Two io_contexts, each run by a thread of its own until the fixture ends.
struct TwoThreads {
    TwoThreads() {
        for (auto& ioc : contexts) {
            guards.push_back(asio::make_work_guard(ioc));
            threads.emplace_back([&ioc] { ioc.run(); });
        }
    }
    ~TwoThreads() {
        guards.clear();
        for (auto& t : threads)
            t.join();
    }
    template <typename T>
    T on(asio::io_context& ioc, asio::awaitable<T> task) {
        return asio::co_spawn(ioc, std::move(task), asio::use_future).get();
    }
    asio::io_context contexts[2];
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    std::vector<std::thread> threads;
};

// Waits far into the future; counts how it ended. `total` lets a total cancellation through, as a connection
// does while it waits for a request.
asio::awaitable<void> sleeper(std::atomic<int>& aborted, std::atomic<int>& running, bool total) {
    if (total) co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    asio::steady_timer timer(co_await asio::this_coro::executor, 1h);
    boost::system::error_code ec;
    ++running;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) ++aborted;
}

// Spins until `done` holds, for at most 30 s: for states another thread reaches, never a fixed wait.
template <typename Pred>
bool eventually(Pred done) {
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (!done()) {
        if (std::chrono::steady_clock::now() > give_up) return false;
        std::this_thread::yield();
    }
    return true;
}

asio::awaitable<void> quick() {
    asio::steady_timer timer(co_await asio::this_coro::executor, 1ms);
    co_await timer.async_wait(asio::use_awaitable);
}

} // namespace

BOOST_AUTO_TEST_SUITE(task_group)

BOOST_AUTO_TEST_CASE(an_empty_group_is_empty_at_once) {
    TwoThreads rig;
    TaskGroup group;
    BOOST_TEST(rig.on(rig.contexts[0], group.wait_empty(Time::min())));
}

BOOST_AUTO_TEST_CASE(the_wait_ends_when_the_last_member_does) {
    TwoThreads rig;
    TaskGroup group;
    for (int i = 0; i < 10; ++i)
        group.spawn(rig.contexts[i % 2].get_executor(), quick());
    BOOST_TEST(rig.on(rig.contexts[0], group.wait_empty(Time::max())));
    BOOST_TEST(group.size() == 0u);
}

BOOST_AUTO_TEST_CASE(total_reaches_only_who_lets_it_through_and_terminal_reaches_all) {
    TwoThreads rig;
    TaskGroup group;
    std::atomic<int> aborted{0}, running{0};
    for (int i = 0; i < 6; ++i)
        group.spawn(rig.contexts[i % 2].get_executor(), sleeper(aborted, running, i < 2));
    // Each member is waiting on its timer once it has counted itself: the spawns have run.
    BOOST_REQUIRE(eventually([&] { return running.load() == 6; }));

    // Past a deadline with members left: false, and the members are still there.
    BOOST_TEST(!rig.on(rig.contexts[0], group.wait_empty(std::chrono::steady_clock::now())));
    BOOST_TEST(group.size() == 6u);

    group.cancel(asio::cancellation_type::total);
    // The two that let total through end; the wait cannot tell four from two, so wait for the count.
    BOOST_REQUIRE(eventually([&] { return group.size() == 4; }));
    BOOST_TEST(aborted.load() == 2);
    BOOST_TEST(group.size() == 4u);

    group.cancel(asio::cancellation_type::terminal);
    BOOST_TEST(rig.on(rig.contexts[1], group.wait_empty(Time::max())));
    BOOST_TEST(aborted.load() == 6);
}

BOOST_AUTO_TEST_CASE(a_member_that_throws_is_reported_and_leaves_the_group) {
    TwoThreads rig;
    std::atomic<int> reported{0};
    TaskGroup group([&](std::exception_ptr e) { reported += e != nullptr; });
    group.spawn(rig.contexts[1].get_executor(), []() -> asio::awaitable<void> {
        co_await quick();
        throw std::runtime_error("a bug");
    }());
    BOOST_TEST(rig.on(rig.contexts[0], group.wait_empty(Time::max())));
    BOOST_TEST(reported.load() == 1);
}

BOOST_AUTO_TEST_SUITE_END()
