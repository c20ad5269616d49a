// The upstream connection pool against a loopback listener that never accepts (the kernel completes the
// connections from its backlog, which is all a plain connection needs here): a lease frees its slot when it
// ends, whatever way; the limit holds until then; a connection given back for reuse comes back only on its
// own io_context; every use is counted, none from a foreign thread.
#include "fake_upstream.hpp"
#include "ops/metrics.hpp"
#include "upstream/connection_pool.hpp"
#include "upstream/upstream_metrics.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using shim::upstream::ConnectError;
using shim::upstream::ConnectionLease;
using shim::upstream::ConnectionPool;
using shim::upstream::PoolOptions;
using shim::upstream::SteadyClock;

double metric(const shim::ops::Metrics& metrics, const std::string& name) {
    const std::string text = metrics.render();
    const auto at = text.find("\n" + name + " ");
    BOOST_REQUIRE(at != std::string::npos);
    return std::stod(text.substr(at + name.size() + 2));
}

struct Rig {
    explicit Rig(std::size_t max_in_use) : listener(ioc, {asio::ip::make_address("127.0.0.1"), 0}) {
        shim::upstream::register_upstream_metrics(metrics);
        pool.emplace(
            ioc.get_executor(),
            PoolOptions{
                false, "127.0.0.1", std::to_string(listener.local_endpoint().port()), "", max_in_use, {}},
            metrics);
    }
    ConnectionLease acquire(asio::io_context& on, std::chrono::milliseconds within = 5s, bool fresh = false) {
        ConnectError error;
        auto lease = test_support::run_to_end(on, pool->acquire(SteadyClock::now() + within, fresh, error));
        last_error = error;
        return lease;
    }

    asio::io_context ioc;
    asio::ip::tcp::acceptor listener;
    shim::ops::Metrics metrics;
    std::optional<ConnectionPool> pool;
    ConnectError last_error;
};

} // namespace

BOOST_AUTO_TEST_SUITE(connection_pool)

BOOST_AUTO_TEST_CASE(a_lease_frees_its_slot_when_it_ends) {
    Rig rig(2);
    auto first = rig.acquire(rig.ioc);
    auto second = rig.acquire(rig.ioc);
    BOOST_REQUIRE(first);
    BOOST_REQUIRE(second);
    // Both slots taken: a third waits for one until its deadline, then gives up.
    BOOST_TEST(!rig.acquire(rig.ioc, 50ms));
    BOOST_TEST(rig.last_error.deadline);
    // A lease that ends without a word closes its connection and frees its slot.
    second = ConnectionLease{};
    auto third = rig.acquire(rig.ioc, 50ms);
    BOOST_TEST(static_cast<bool>(third));
    BOOST_TEST(!third->reused); // the one given back was not marked reusable: it was closed
}

BOOST_AUTO_TEST_CASE(a_reusable_connection_comes_back_on_its_own_io_context_only) {
    Rig rig(4);
    asio::io_context other;
    auto lease = rig.acquire(rig.ioc);
    BOOST_REQUIRE(lease);
    const auto port = lease->tcp().socket().local_endpoint().port();
    lease.reusable(true);
    lease.give_back();
    BOOST_TEST(!lease);

    // Another io_context has no idle connection of its own: it opens one.
    auto elsewhere = rig.acquire(other);
    BOOST_REQUIRE(elsewhere);
    BOOST_TEST(!elsewhere->reused);
    BOOST_TEST(elsewhere->tcp().socket().local_endpoint().port() != port);

    // The connection's own io_context gets it back.
    auto again = rig.acquire(rig.ioc);
    BOOST_REQUIRE(again);
    BOOST_TEST(again->reused);
    BOOST_TEST(again->tcp().socket().local_endpoint().port() == port);

    // Unless a fresh one is asked for.
    again.reusable(true);
    again.give_back();
    auto fresh = rig.acquire(rig.ioc, 5s, true);
    BOOST_REQUIRE(fresh);
    BOOST_TEST(!fresh->reused);
}

BOOST_AUTO_TEST_CASE(a_connection_with_bytes_left_over_is_not_kept) {
    Rig rig(1);
    auto lease = rig.acquire(rig.ioc);
    BOOST_REQUIRE(lease);
    const auto port = lease->tcp().socket().local_endpoint().port();
    // Bytes read past an answer's end: out of step with its peer, whatever the holder says.
    const char extra[] = "HTTP/1.1 408";
    lease->buffer.commit(asio::buffer_copy(lease->buffer.prepare(sizeof extra), asio::buffer(extra)));
    lease.reusable(true);
    lease.give_back();
    auto next = rig.acquire(rig.ioc);
    BOOST_REQUIRE(next);
    BOOST_TEST(!next->reused);
    BOOST_TEST(next->tcp().socket().local_endpoint().port() != port);
}

BOOST_AUTO_TEST_CASE(every_use_is_counted_and_none_from_a_foreign_thread) {
    Rig rig(2);
    {
        auto lease = rig.acquire(rig.ioc); // opened: one use
        lease.reusable(true);
    }                                  // given back: two
    auto lease = rig.acquire(rig.ioc); // taken from the idle list: three
    BOOST_TEST(lease->reused);
    BOOST_TEST(metric(rig.metrics, "sigma_shim_upstream_connection_uses_total") == 3);
    BOOST_TEST(metric(rig.metrics, "sigma_shim_upstream_connection_thread_switches_total") == 0);
}

BOOST_AUTO_TEST_CASE(an_unreachable_upstream_is_a_connect_error_and_frees_the_slot) {
    Rig rig(1);
    rig.listener.close(); // nothing listens there any more: refused
    ConnectError error;
    auto lease = test_support::run_to_end(rig.ioc, rig.pool->acquire(SteadyClock::now() + 5s, false, error));
    BOOST_TEST(!lease);
    BOOST_TEST(!error.deadline);
    BOOST_TEST(error.detail.find("cannot connect to the upstream") != std::string::npos);
    // The failed attempt's slot is free again: the next attempt fails the same way, not by waiting.
    auto again = test_support::run_to_end(rig.ioc, rig.pool->acquire(SteadyClock::now() + 5s, false, error));
    BOOST_TEST(!again);
    BOOST_TEST(!error.deadline);
}

BOOST_AUTO_TEST_SUITE_END()
