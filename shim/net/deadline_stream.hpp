#pragma once
// A TCP stream with one deadline that is moved by a store. Beast's tcp_stream arms and cancels a timer around
// every read and write: a timer operation, a second completion and a clock read each, about a tenth of the
// shim's user time per relayed request. Here one watchdog timer per connection sleeps until the deadline;
// moving the deadline later costs nothing, and the watchdog, waking before it, sleeps again until it. When
// the deadline passes with an operation under way, the socket is closed and the operation ends with
// beast::error::timeout, as with tcp_stream (and an operation started after it passed ends the same way), so
// callers and the errors they map are unchanged. A stream with nothing under way holds no wait once its
// watchdog has woken, so an idle pooled connection does not keep its io_context running.
#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

namespace shim::net {

// Shared by the stream, its watchdog's wait and its operations under way: a completion that arrives after
// the stream is gone (the io_context runs it later) still finds it.
struct DeadlineState {
    using Clock = std::chrono::steady_clock;
    explicit DeadlineState(boost::asio::ip::tcp::socket s)
        : socket(std::move(s)), watchdog(socket.get_executor()) {}

    boost::asio::ip::tcp::socket socket;
    boost::asio::steady_timer watchdog;
    Clock::time_point deadline = Clock::time_point::max();
    Clock::time_point wakes_at = Clock::time_point::max(); // max: the watchdog is not waiting
    std::uint64_t wait_id = 0; // the watchdog's current wait: an older one's wake-up is ignored
    unsigned pending = 0;      // reads, writes and connects under way
    bool expired = false;      // the deadline passed: what is under way or starts now ends in a timeout
};

// An operation's completion: counts it done and reports a failure after the deadline as the timeout.
template <class Handler>
struct DeadlineCompletion {
    Handler handler;
    std::shared_ptr<DeadlineState> state;

    template <class... Args>
    void operator()(boost::system::error_code ec, Args&&... args) {
        --state->pending;
        if (ec && state->expired) ec = boost::beast::error::timeout;
        std::move(handler)(ec, std::forward<Args>(args)...);
    }
};

class DeadlineStream {
public:
    using executor_type = boost::asio::any_io_executor;
    using Clock = DeadlineState::Clock;

    explicit DeadlineStream(boost::asio::ip::tcp::socket socket);
    explicit DeadlineStream(const executor_type& executor);
    DeadlineStream(DeadlineStream&&) noexcept = default;
    DeadlineStream& operator=(DeadlineStream&&) = delete;
    ~DeadlineStream(); // closes the socket: operations under way end, the watchdog's wait is dropped

    executor_type get_executor() const noexcept { return state_->socket.get_executor(); }
    boost::asio::ip::tcp::socket& socket() noexcept { return state_->socket; }
    // What Asio's ssl::stream reaches through its next layer.
    using lowest_layer_type = boost::asio::ip::tcp::socket;
    lowest_layer_type& lowest_layer() noexcept { return state_->socket; }

    void expires_at(Clock::time_point deadline);
    // Saturates, as Asio's timers do: a timeout too long for the clock means no deadline, not one long past.
    void expires_after(Clock::duration timeout) {
        const auto now = Clock::now();
        expires_at(timeout >= Clock::time_point::max() - now ? Clock::time_point::max() : now + timeout);
    }

    template <class Buffers, class Token>
    auto async_read_some(const Buffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const Buffers& b) {
                begin();
                state_->socket.async_read_some(b, complete(std::move(handler)));
            },
            token, buffers);
    }

    template <class Buffers, class Token>
    auto async_write_some(const Buffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const Buffers& b) {
                begin();
                state_->socket.async_write_some(b, complete(std::move(handler)));
            },
            token, buffers);
    }

    // Tries each endpoint in turn, all under the one deadline.
    template <class Endpoints, class Token>
    auto async_connect(const Endpoints& endpoints, Token&& token) {
        using Endpoint = typename Endpoints::endpoint_type;
        return boost::asio::async_initiate<Token, void(boost::system::error_code, Endpoint)>(
            [this](auto handler, const Endpoints& e) {
                begin();
                boost::asio::async_connect(state_->socket, e, complete(std::move(handler)));
            },
            token, endpoints);
    }

private:
    void begin();

    template <class Handler>
    DeadlineCompletion<Handler> complete(Handler handler) {
        return {std::move(handler), state_};
    }

    std::shared_ptr<DeadlineState> state_;
};

} // namespace shim::net

// The completion runs where its handler would, with the handler's allocator and cancellation slot: a
// cancelled coroutine still cancels the socket operation.
namespace boost::asio {
template <template <typename, typename> class Associator, typename Handler, typename DefaultCandidate>
struct associator<Associator, shim::net::DeadlineCompletion<Handler>, DefaultCandidate> {
    using type = typename Associator<Handler, DefaultCandidate>::type;

    static type get(const shim::net::DeadlineCompletion<Handler>& c) noexcept {
        return Associator<Handler, DefaultCandidate>::get(c.handler);
    }
    static auto get(const shim::net::DeadlineCompletion<Handler>& c, const DefaultCandidate& d) noexcept
        -> decltype(Associator<Handler, DefaultCandidate>::get(c.handler, d)) {
        return Associator<Handler, DefaultCandidate>::get(c.handler, d);
    }
};
} // namespace boost::asio
