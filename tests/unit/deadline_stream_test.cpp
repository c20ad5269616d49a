// net::DeadlineStream on a real loopback connection: the deadline cuts off what is under way as a timeout,
// moving it later keeps the stream going, an earlier one still cuts off in time, and a cancellation stays a
// cancellation. Each test ends its stream in the last completion, so the io_context runs out of work there.
#include "net/deadline_stream.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <optional>
#include <string>

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using shim::net::DeadlineStream;
using namespace std::chrono_literals;

namespace {

struct ReadResult {
    bool done = false;
    error_code ec;
    std::size_t bytes = 0;
};

// A DeadlineStream connected to a plain socket, its peer, and the outcome of one read on the stream.
struct Pair {
    asio::io_context ioc;
    tcp::socket peer{ioc};
    std::optional<DeadlineStream> stream;
    char into[16] = {};
    ReadResult read;

    Pair() {
        tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
        stream.emplace(ioc.get_executor());
        stream->socket().connect(acceptor.local_endpoint());
        acceptor.accept(peer);
    }

    void peer_sends_a_byte() { asio::write(peer, asio::buffer("x", 1)); }

    // The read's completion: records the outcome and ends the stream, so the io_context runs out of work.
    auto record_read() {
        return [this](error_code ec, std::size_t n) {
            read = {true, ec, n};
            stream.reset();
        };
    }

    void start_read() { stream->async_read_some(asio::buffer(into), record_read()); }
};

} // namespace

BOOST_AUTO_TEST_SUITE(deadline_stream)

BOOST_AUTO_TEST_CASE(a_read_that_outlasts_the_deadline_times_out) {
    Pair p;
    p.stream->expires_after(30ms);
    p.start_read();
    p.ioc.run();
    BOOST_TEST(p.read.done);
    BOOST_TEST((p.read.ec == boost::beast::error::timeout), p.read.ec.message());
}

BOOST_AUTO_TEST_CASE(a_deadline_moved_later_while_a_read_waits_keeps_the_read) {
    Pair p;
    p.stream->expires_after(20ms); // the watchdog is set for this one when the read begins
    p.start_read();
    p.stream->expires_after(60s); // moved by a store: the watchdog wakes at 20 ms and sleeps again
    asio::steady_timer later(p.ioc, 100ms);
    later.async_wait([&](error_code) { p.peer_sends_a_byte(); });
    p.ioc.run();
    BOOST_TEST(p.read.done);
    BOOST_TEST(!p.read.ec, p.read.ec.message());
    BOOST_TEST(p.read.bytes == 1u);
}

BOOST_AUTO_TEST_CASE(an_earlier_deadline_cuts_off_the_read_under_way) {
    Pair p;
    p.stream->expires_after(60s);
    p.start_read();
    p.stream->expires_after(30ms);
    p.ioc.run();
    BOOST_TEST(p.read.done);
    BOOST_TEST((p.read.ec == boost::beast::error::timeout), p.read.ec.message());
}

BOOST_AUTO_TEST_CASE(a_read_begun_after_the_deadline_times_out_at_once) {
    Pair p;
    p.peer_sends_a_byte(); // there is something to read: only the deadline refuses it
    p.stream->expires_after(1ms);
    asio::steady_timer later(p.ioc, 50ms);
    later.async_wait([&](error_code) { p.start_read(); });
    p.ioc.run();
    BOOST_TEST(p.read.done);
    BOOST_TEST((p.read.ec == boost::beast::error::timeout), p.read.ec.message());
}

BOOST_AUTO_TEST_CASE(a_deadline_that_passed_with_nothing_under_way_can_be_moved_on) {
    Pair p;
    p.peer_sends_a_byte();
    p.stream->expires_after(1ms);
    asio::steady_timer later(p.ioc, 50ms);
    later.async_wait([&](error_code) {
        p.stream->expires_after(60s);
        p.start_read();
    });
    p.ioc.run();
    BOOST_TEST(p.read.done);
    BOOST_TEST(!p.read.ec, p.read.ec.message());
    BOOST_TEST(p.read.bytes == 1u);
}

BOOST_AUTO_TEST_CASE(a_timeout_too_long_for_the_clock_is_no_deadline) {
    Pair p;
    p.peer_sends_a_byte();
    p.stream->expires_after(DeadlineStream::Clock::duration::max());
    p.start_read();
    p.ioc.run();
    BOOST_TEST(p.read.done);
    BOOST_TEST(!p.read.ec, p.read.ec.message());
    BOOST_TEST(p.read.bytes == 1u);
}

BOOST_AUTO_TEST_CASE(a_cancelled_read_ends_cancelled_not_timed_out) {
    Pair p;
    asio::cancellation_signal cancel;
    p.stream->expires_after(60s);
    p.stream->async_read_some(asio::buffer(p.into),
                              asio::bind_cancellation_slot(cancel.slot(), p.record_read()));
    cancel.emit(asio::cancellation_type::terminal); // reaches the socket's read through the completion
    p.ioc.run();
    BOOST_TEST(p.read.done);
    BOOST_TEST((p.read.ec == asio::error::operation_aborted), p.read.ec.message());
}

BOOST_AUTO_TEST_CASE(a_connect_runs_under_the_deadline_and_writes_go_through) {
    asio::io_context ioc;
    tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    tcp::resolver resolver(ioc);
    const auto endpoints = resolver.resolve("127.0.0.1", std::to_string(acceptor.local_endpoint().port()));
    std::optional<DeadlineStream> stream(std::in_place, ioc.get_executor());
    stream->expires_after(60s);
    error_code connect_ec, write_ec;
    stream->async_connect(endpoints, [&](error_code ec, const tcp::endpoint&) {
        connect_ec = ec;
        asio::async_write(*stream, asio::buffer("hello", 5), [&](error_code wec, std::size_t) {
            write_ec = wec;
            stream.reset();
        });
    });
    tcp::socket peer(ioc);
    acceptor.async_accept(peer, [](error_code) {});
    ioc.run();
    BOOST_TEST(!connect_ec, connect_ec.message());
    BOOST_TEST(!write_ec, write_ec.message());
    char got[5];
    asio::read(peer, asio::buffer(got));
    BOOST_TEST(std::string(got, 5) == "hello");
}

BOOST_AUTO_TEST_SUITE_END()
