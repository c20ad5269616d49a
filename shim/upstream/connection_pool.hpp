#pragma once
// Keep-alive connections to the one configured upstream, plain or TLS, shared by reconstruction and
// pass-through.
#include "serve/config.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <variant>
#include <vector>

namespace shim::upstream {

using SteadyClock = std::chrono::steady_clock;

struct Connection {
    using Plain = boost::beast::tcp_stream;
    using Tls = boost::beast::ssl_stream<boost::beast::tcp_stream>;
    template <typename T, typename... Args>
    explicit Connection(std::in_place_type_t<T> type, Args&&... args)
        : stream(type, std::forward<Args>(args)...) {}

    std::variant<Plain, Tls> stream;
    boost::beast::flat_buffer buffer; // bytes read ahead of the parser (empty between answers)
    bool reused = false; // taken from the idle list: it may have been closed by the peer meanwhile

    boost::beast::tcp_stream& tcp() {
        return std::visit(
            [](auto& s) -> boost::beast::tcp_stream& { return boost::beast::get_lowest_layer(s); }, stream);
    }
};

// Room for what one read from the upstream takes in. Not 64 KiB: reads of exactly the header limit (64 KiB)
// let Beast 1.81 miss an oversized header block (tests/faults: test_header_block_over_the_limit).
inline constexpr std::size_t read_buffer_bytes = 32 * 1024;

// 1xx answers other than 101: interim, the real answer follows on the same connection.
bool is_interim_status(unsigned status);
// How many interim answers one request may get before the upstream is deemed broken.
inline constexpr int max_interim_answers = 8;

// A reused connection that fails with this before any byte of the answer was probably closed by the peer
// while idle: the request may be sent once more on a fresh connection.
bool is_stale_connection_error(const boost::system::error_code& ec);

// Why a connection could not be had.
struct ConnectError {
    bool deadline = false;
    std::string detail;
};

class ConnectionPool {
public:
    ConnectionPool(boost::asio::any_io_executor executor, const serve::ServeConfig& config);
    ~ConnectionPool();

    // A connection, reused or new, within the deadline; at most --upstream-connections are open at once.
    // `fresh` skips the idle list (the retry after a stale connection). An idle connection on which the
    // upstream has closed, reset or sent anything since its last answer is closed, not reused.
    boost::asio::awaitable<std::unique_ptr<Connection>> acquire(SteadyClock::time_point deadline, bool fresh,
                                                                ConnectError& error);

    // Returns a connection: kept for reuse when `reusable` (and nothing was read past its answer), else
    // closed. Frees its slot either way.
    void release(std::unique_ptr<Connection> connection, bool reusable);

    const serve::UpstreamAddress& address() const { return address_; }
    std::string host_header() const;

private:
    boost::asio::awaitable<std::unique_ptr<Connection>> connect(SteadyClock::time_point deadline,
                                                                ConnectError& error);

    boost::asio::any_io_executor executor_;
    serve::UpstreamAddress address_;
    boost::asio::ssl::context tls_;
    // One token per open connection: sending blocks while all slots are taken.
    boost::asio::experimental::concurrent_channel<void(boost::system::error_code)> slots_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Connection>> idle_;
};

} // namespace shim::upstream
