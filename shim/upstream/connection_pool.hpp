#pragma once
// Keep-alive connections to the one configured upstream, plain or TLS, shared by reconstruction fetches and
// pass-through. A connection belongs to the io_context it was opened on: it is kept idle there and reused
// only there, so one thread does all of its I/O (Beast's streams require their operations on one strand).
// The limit on connections in use is global. A connection in use is held by a ConnectionLease, which gives it
// back (or closes it) and frees its slot in its destructor, whatever path the holder leaves by.
#include "net/deadline_stream.hpp"
#include "ops/log.hpp"
#include "ops/metrics.hpp"
#include "upstream/proxy_health.hpp"
#include "upstream/proxy_settings.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

namespace shim::upstream {

using SteadyClock = std::chrono::steady_clock;

struct Connection {
    using Plain = net::DeadlineStream;
    using Tls = boost::beast::ssl_stream<net::DeadlineStream>;
    template <typename T, typename... Args>
    explicit Connection(std::in_place_type_t<T> type, Args&&... args)
        : stream(type, std::forward<Args>(args)...), thread(std::this_thread::get_id()) {}

    std::variant<Plain, Tls> stream;
    boost::beast::flat_buffer buffer; // bytes read ahead of the parser (empty between answers)
    bool reused = false;    // taken from the idle list: it may have been closed by the peer meanwhile
    std::thread::id thread; // the thread that opened it, the only one that may drive it

    // Runs `op` on the stream, plain or TLS: `op` takes either as `auto&`.
    template <typename Op>
    auto on_stream(Op&& op) {
        return std::visit(std::forward<Op>(op), stream);
    }

    net::DeadlineStream& tcp() {
        return std::visit([](auto& s) -> net::DeadlineStream& { return boost::beast::get_lowest_layer(s); },
                          stream);
    }
};

// Room for what one read from the upstream takes in. Not 64 KiB: reads of exactly the header limit (64 KiB)
// let Beast 1.81 miss an oversized header block (tests/faults: test_header_block_over_the_limit).
inline constexpr std::size_t read_buffer_bytes = 32 * 1024;

// Why a connection could not be had.
struct ConnectError {
    bool deadline = false;
    std::string detail;
    std::string message; // for the client, when there is more to say than "unreachable" (the proxy's part)
};

struct PoolOptions {
    bool tls = true;
    std::string host; // as in the Host header and SNI
    std::string port;
    std::string ca_file;         // extra trust anchors (PEM), added to the system store
    std::size_t max_in_use = 16; // connections in use at once, over every thread
    // Reached through this forward proxy: an https:// upstream through a CONNECT tunnel (the proxy sees only
    // the tunnel), an http:// one with absolute-form requests.
    std::optional<ProxyEndpoint> proxy;
};

class ConnectionPool;

// A connection taken from the pool. Empty when none could be had.
class ConnectionLease {
public:
    ConnectionLease() = default;
    ConnectionLease(ConnectionPool& pool, std::unique_ptr<Connection> connection)
        : pool_(&pool), connection_(std::move(connection)) {}
    ConnectionLease(ConnectionLease&& other) noexcept
        : pool_(other.pool_), connection_(std::move(other.connection_)), reusable_(other.reusable_) {}
    ConnectionLease& operator=(ConnectionLease&& other) noexcept;
    ConnectionLease(const ConnectionLease&) = delete;
    ConnectionLease& operator=(const ConnectionLease&) = delete;
    ~ConnectionLease() { give_back(); }

    explicit operator bool() const { return connection_ != nullptr; }
    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_.get(); }

    // The answer was read to its end and the upstream keeps the connection open: it may serve another
    // request. Without this, the connection is closed when the lease ends.
    void reusable(bool yes) { reusable_ = yes; }
    // Ends the lease now rather than at the end of the holder's scope.
    void give_back();

private:
    ConnectionPool* pool_ = nullptr;
    std::unique_ptr<Connection> connection_;
    bool reusable_ = false;
};

class ConnectionPool {
public:
    // Throws when the TLS context cannot be set up (a bad ca_file). `slots_executor` only hosts the slot
    // channel; connections are opened on their caller's executor. `log` (may be null) hears of the proxy's
    // changes of state.
    ConnectionPool(boost::asio::any_io_executor slots_executor, PoolOptions options, ops::Metrics& metrics,
                   ops::Logger* log = nullptr);
    ~ConnectionPool();
    ConnectionPool(const ConnectionPool&) = delete;
    ConnectionPool& operator=(const ConnectionPool&) = delete;

    // A connection for one exchange, on the caller's io_context: an idle one of that io_context unless
    // `fresh`, else a new one; waits for a free slot until `deadline`. An idle connection that the upstream
    // has closed, reset or sent anything on since its last answer is closed, not reused.
    boost::asio::awaitable<ConnectionLease> acquire(SteadyClock::time_point deadline, bool fresh,
                                                    ConnectError& error);

    // Has each io_context close its own idle connections, on its own thread: at the end of the drain, so that
    // no idle stream's deadline keeps its io_context running.
    void close_idle_on_their_threads();
    // Closes every idle connection. For the end of the process, when no thread runs the io_contexts any more.
    void close_idle();

    std::string host_header() const;

    // An http:// upstream behind a proxy takes absolute-form targets and the proxy's credentials on every
    // request: the prefix of the target ("http://host:port") and the Proxy-Authorization value, else "".
    std::string absolute_form_prefix() const;
    std::string request_proxy_authorization() const;
    // The proxy's say on an answer to such a request: its 407 is the proxy's refusal, not the upstream's
    // answer (the client-facing message, or "" when the answer is the upstream's).
    std::string proxy_refusal(unsigned status);

private:
    friend class ConnectionLease;
    void give_back(std::unique_ptr<Connection> connection, bool reusable);
    boost::asio::awaitable<std::unique_ptr<Connection>> connect(SteadyClock::time_point deadline,
                                                                ConnectError& error);
    // Through the proxy: fails `error` with the proxy as the cause, and tells the proxy's health.
    void proxy_failed(ConnectError& error, ProxyFailure failure, bool deadline, std::string message);
    bool proxied_plain() const { return options_.proxy && !options_.tls; }
    // Counts a use of `connection` from the running thread, and whether that thread is not its own.
    void note_use(const Connection& connection);

    PoolOptions options_;
    ops::Metrics& metrics_;
    std::optional<ProxyHealth> proxy_health_;
    boost::asio::ssl::context tls_;
    // One token per connection in use: sending blocks while all slots are taken.
    boost::asio::experimental::concurrent_channel<void(boost::system::error_code)> slots_;
    std::mutex mutex_;
    // Idle connections by the io_context they belong to.
    std::unordered_map<boost::asio::execution_context*, std::vector<std::unique_ptr<Connection>>> idle_;
};

} // namespace shim::upstream
