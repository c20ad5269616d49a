// A client token's own upstream quota (shim/upstream/client_quota.hpp), with time passed in by hand: the
// sliding minute and its exact wait, clients kept apart, no limit, and what it remembers.
#include "upstream/client_quota.hpp"

#include <boost/test/unit_test.hpp>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using shim::upstream::ClientQuota;
using Time = shim::upstream::Clock::SteadyTime;

const Time t0{std::chrono::hours(1)};

bool admitted(ClientQuota& quota, const std::string& client, unsigned per_minute, Time now) {
    return !quota.take(client, per_minute, now).has_value();
}

} // namespace

BOOST_AUTO_TEST_SUITE(client_quota)

BOOST_AUTO_TEST_CASE(admits_the_limit_then_refuses_until_the_oldest_leaves) {
    ClientQuota quota;
    BOOST_TEST(admitted(quota, "alice", 3, t0));
    BOOST_TEST(admitted(quota, "alice", 3, t0 + 10s));
    BOOST_TEST(admitted(quota, "alice", 3, t0 + 20s));
    BOOST_TEST((quota.take("alice", 3, t0 + 30s) == std::chrono::milliseconds(30s)));
    BOOST_TEST((quota.take("alice", 3, t0 + 59999ms) == 1ms));
    // A request admitted at t has left the window at exactly t + 60 s.
    BOOST_TEST(admitted(quota, "alice", 3, t0 + 60s));
    BOOST_TEST((quota.take("alice", 3, t0 + 60s) == 10000ms));
    BOOST_TEST(quota.logged("alice") == 3u);
}

BOOST_AUTO_TEST_CASE(the_wait_is_rounded_up_to_whole_milliseconds) {
    ClientQuota quota;
    BOOST_TEST(admitted(quota, "alice", 1, t0));
    BOOST_TEST((quota.take("alice", 1, t0 + 30s + 500us) == 30000ms));
    BOOST_TEST((quota.take("alice", 1, t0 + 60s - 1ns) == 1ms));
    BOOST_TEST(admitted(quota, "alice", 1, t0 + 60s));
}

BOOST_AUTO_TEST_CASE(a_refused_request_is_not_counted) {
    ClientQuota quota;
    BOOST_TEST(admitted(quota, "alice", 1, t0));
    for (int i = 0; i < 10; ++i)
        BOOST_TEST(!admitted(quota, "alice", 1, t0 + 1s));
    BOOST_TEST(quota.logged("alice") == 1u);
    BOOST_TEST(admitted(quota, "alice", 1, t0 + 60s));
}

BOOST_AUTO_TEST_CASE(clients_have_windows_of_their_own) {
    ClientQuota quota;
    BOOST_TEST(admitted(quota, "alice", 2, t0));
    BOOST_TEST(admitted(quota, "alice", 2, t0));
    BOOST_TEST(!admitted(quota, "alice", 2, t0));
    BOOST_TEST(admitted(quota, "bob", 2, t0));
    BOOST_TEST(admitted(quota, "bob", 2, t0));
    BOOST_TEST(!admitted(quota, "bob", 2, t0));
    BOOST_TEST(admitted(quota, "carol", 1, t0));
    BOOST_TEST(quota.logged("alice") == 2u);
    BOOST_TEST(quota.logged("carol") == 1u);
}

BOOST_AUTO_TEST_CASE(no_limit_or_no_client_is_always_admitted_and_not_logged) {
    ClientQuota quota;
    for (int i = 0; i < 1000; ++i) {
        BOOST_TEST_REQUIRE(admitted(quota, "alice", 0, t0));
        BOOST_TEST_REQUIRE(admitted(quota, "", 5, t0));
    }
    BOOST_TEST(quota.tracked_clients() == 0u);
    BOOST_TEST(quota.logged("alice") == 0u);
}

BOOST_AUTO_TEST_CASE(a_lowered_limit_waits_for_enough_to_leave) {
    ClientQuota quota;
    for (const auto at : {t0, t0 + 10s, t0 + 20s})
        BOOST_TEST(admitted(quota, "alice", 3, at));
    // A reload lowered the limit to 1: room comes back once all three have left, not the first.
    BOOST_TEST((quota.take("alice", 1, t0 + 30s) == 50000ms));
    BOOST_TEST(admitted(quota, "alice", 1, t0 + 80s));
}

BOOST_AUTO_TEST_CASE(a_clock_read_late_does_not_take_time_back) {
    ClientQuota quota;
    BOOST_TEST(admitted(quota, "alice", 1, t0 + 10s));
    // Read before the first request's clock: counted as at t0 + 10 s, a whole window to wait.
    BOOST_TEST((quota.take("alice", 1, t0 + 5s) == 60000ms));
}

BOOST_AUTO_TEST_CASE(entries_and_idle_clients_go_after_the_window) {
    ClientQuota quota;
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(admitted(quota, "alice", 5, t0));
    BOOST_TEST(quota.logged("alice") == 3u);
    BOOST_TEST(quota.tracked_clients() == 1u);
    // The client's own next request drops what has left.
    BOOST_TEST(admitted(quota, "alice", 5, t0 + 60s));
    BOOST_TEST(quota.logged("alice") == 1u);
    // A client that stops calling is forgotten on another's request once its window is empty.
    BOOST_TEST(admitted(quota, "bob", 5, t0 + 61s));
    BOOST_TEST(quota.tracked_clients() == 2u);
    BOOST_TEST(admitted(quota, "bob", 5, t0 + 120500ms));
    BOOST_TEST(quota.tracked_clients() == 1u);
    BOOST_TEST(quota.logged("alice") == 0u);
    BOOST_TEST(quota.logged("bob") == 2u);
}

BOOST_AUTO_TEST_CASE(threads_together_get_exactly_the_limit) {
    ClientQuota quota;
    constexpr unsigned limit = 100;
    std::vector<unsigned> admitted_by(4, 0);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < admitted_by.size(); ++t) {
        threads.emplace_back([&quota, &admitted_by, t] {
            for (int i = 0; i < 1000; ++i)
                if (!quota.take("shared", limit, t0 + std::chrono::microseconds(i))) ++admitted_by[t];
        });
    }
    for (auto& thread : threads)
        thread.join();
    unsigned total = 0;
    for (const auto n : admitted_by)
        total += n;
    BOOST_TEST(total == limit);
    BOOST_TEST(quota.logged("shared") == limit);
}

BOOST_AUTO_TEST_SUITE_END()
