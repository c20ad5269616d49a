#include "upstream/connection_pool.hpp"

#include "upstream/proxy_tunnel.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/assert.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

namespace shim::upstream {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;
using namespace asio::experimental::awaitable_operators;

ssl::context make_tls_context(const PoolOptions& options) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_default_verify_paths();
    if (!options.ca_file.empty()) ctx.load_verify_file(options.ca_file);
    // Verification is always on: no flag or variable turns it off.
    ctx.set_verify_mode(ssl::verify_peer);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    return ctx;
}

bool is_ip_literal(const std::string& host) {
    error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

// An idle keep-alive connection is fit for another request only when the upstream has sent nothing on it
// since its last answer: no EOF (closed while idle), no reset, no byte (such as the "408 Request Timeout"
// some servers send before closing an idle connection). Without this check a stray 408 would be taken for the
// next request's answer, and a request with a body, which cannot be retried, would fail on a connection
// closed long before. Checked without reading: a peek that must find nothing, and nothing waiting in OpenSSL.
bool idle_connection_is_clean(Connection& c) {
    if (auto* tls = std::get_if<Connection::Tls>(&c.stream); tls && SSL_pending(tls->native_handle()) > 0)
        return false;
    char byte;
    const auto n = ::recv(c.tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// A host as it is written before ":port": IPv6 addresses in brackets.
std::string bracketed(const std::string& host) {
    return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

asio::execution_context* context_of(const asio::any_io_executor& executor) {
    return &asio::query(executor, asio::execution::context);
}

} // namespace

ConnectionLease& ConnectionLease::operator=(ConnectionLease&& other) noexcept {
    if (this != &other) {
        give_back();
        pool_ = other.pool_;
        connection_ = std::move(other.connection_);
        reusable_ = other.reusable_;
    }
    return *this;
}

void ConnectionLease::give_back() {
    if (connection_) pool_->give_back(std::move(connection_), reusable_);
    reusable_ = false;
}

ConnectionPool::ConnectionPool(asio::any_io_executor slots_executor, PoolOptions options,
                               ops::Metrics& metrics, ops::Logger* log)
    : options_(std::move(options)), metrics_(metrics), tls_(make_tls_context(options_)),
      slots_(slots_executor, options_.max_in_use) {
    if (options_.proxy) proxy_health_.emplace(metrics_, log, options_.proxy->display());
}

ConnectionPool::~ConnectionPool() = default;

std::string ConnectionPool::host_header() const {
    const bool default_port = options_.port == (options_.tls ? "443" : "80");
    return default_port ? bracketed(options_.host) : bracketed(options_.host) + ":" + options_.port;
}

void ConnectionPool::note_use(const Connection& connection) {
    metrics_.inc("sigma_shim_upstream_connection_uses_total");
    if (connection.thread != std::this_thread::get_id()) {
        metrics_.inc("sigma_shim_upstream_connection_thread_switches_total");
        BOOST_ASSERT_MSG(false, "an upstream connection is used from a thread not its own");
    }
}

asio::awaitable<ConnectionLease> ConnectionPool::acquire(SteadyClock::time_point deadline, bool fresh,
                                                         ConnectError& error) {
    const auto executor = co_await asio::this_coro::executor;
    if (!slots_.try_send(error_code{})) {
        asio::steady_timer timer(executor, deadline);
        error_code send_ec, timer_ec;
        const auto first =
            co_await (slots_.async_send(error_code{}, asio::redirect_error(asio::use_awaitable, send_ec)) ||
                      timer.async_wait(asio::redirect_error(asio::use_awaitable, timer_ec)));
        if (first.index() == 1 || send_ec) {
            error = {true, "no upstream connection became free before the deadline", {}};
            co_return ConnectionLease{};
        }
    }
    // From here the slot is ours: a lease frees it when it ends, and so does every way out without one.
    while (!fresh) {
        std::unique_ptr<Connection> conn;
        {
            std::lock_guard lock(mutex_);
            auto& idle = idle_[context_of(executor)];
            if (idle.empty()) break;
            conn = std::move(idle.back());
            idle.pop_back();
        }
        note_use(*conn);
        if (!idle_connection_is_clean(*conn)) continue; // closed; the slot taken above goes to the next
        conn->reused = true;
        co_return ConnectionLease(*this, std::move(conn));
    }
    auto conn = co_await connect(deadline, error);
    if (!conn) {
        slots_.try_receive([](error_code) {});
        co_return ConnectionLease{};
    }
    co_return ConnectionLease(*this, std::move(conn));
}

asio::awaitable<std::unique_ptr<Connection>> ConnectionPool::connect(SteadyClock::time_point deadline,
                                                                     ConnectError& error) {
    // On the caller's io_context, which the connection then belongs to for good.
    const auto executor = co_await asio::this_coro::executor;
    std::unique_ptr<Connection> conn;
    if (options_.tls)
        conn = std::make_unique<Connection>(std::in_place_type<Connection::Tls>, executor, tls_);
    else
        conn = std::make_unique<Connection>(std::in_place_type<Connection::Plain>, executor);

    // The first hop: the proxy when there is one, else the upstream itself.
    const auto& proxy = options_.proxy;
    auto cannot_reach = [&](bool too_late, const std::string& what, const error_code& ec) {
        if (proxy) {
            proxy_failed(
                error, too_late ? ProxyFailure::timeout : ProxyFailure::unreachable, too_late,
                "the upstream proxy " + proxy->authority() +
                    (too_late ? " could not be reached in time" : " cannot be reached: " + ec.message()));
        } else {
            error = {too_late, what + (ec ? ": " + ec.message() : std::string()), {}};
        }
    };
    error_code ec, timer_ec;
    tcp::resolver resolver(executor);
    asio::steady_timer timer(executor, deadline);
    const auto& host = proxy ? proxy->host : options_.host;
    const auto& port = proxy ? proxy->port : options_.port;
    const auto resolved =
        co_await (resolver.async_resolve(host, port, asio::redirect_error(asio::use_awaitable, ec)) ||
                  timer.async_wait(asio::redirect_error(asio::use_awaitable, timer_ec)));
    if (resolved.index() == 1) {
        cannot_reach(true, "resolving the upstream host timed out", {});
        co_return nullptr;
    }
    if (ec) {
        cannot_reach(false, "cannot resolve the upstream host", ec);
        co_return nullptr;
    }
    const auto endpoints = std::get<0>(resolved);

    conn->tcp().expires_at(deadline);
    co_await conn->tcp().async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        cannot_reach(ec == beast::error::timeout, "cannot connect to the upstream", ec);
        co_return nullptr;
    }
    conn->tcp().socket().set_option(tcp::no_delay(true), ec); // requests go out as header, then body
    // Beast reads as much as the buffer has room for, and at least 512 bytes: a buffer left to grow by itself
    // stays small, and a 60 KB answer took ~120 reads, each with its own timer and wake-up.
    conn->buffer.reserve(read_buffer_bytes);
    if (auto* tls = std::get_if<Connection::Tls>(&conn->stream)) {
        const std::string target = bracketed(options_.host) + ":" + options_.port;
        if (proxy) {
            const auto tunnel = co_await open_tunnel(conn->tcp(), *proxy, target);
            if (tunnel.failure) {
                proxy_failed(error, *tunnel.failure, tunnel.deadline, tunnel.message);
                co_return nullptr;
            }
        }
        SSL* ssl = tls->native_handle();
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        if (is_ip_literal(options_.host)) {
            X509_VERIFY_PARAM_set1_ip_asc(param, options_.host.c_str());
        } else {
            SSL_set_tlsext_host_name(ssl, options_.host.c_str());
            X509_VERIFY_PARAM_set1_host(param, options_.host.c_str(), 0);
        }
        co_await tls->async_handshake(ssl::stream_base::client,
                                      asio::redirect_error(asio::use_awaitable, ec));
        // An end of stream before the handshake is done: the proxy gave up the tunnel (the upstream itself
        // would have sent an alert).
        if (proxy && (ec == asio::error::eof || ec == ssl::error::stream_truncated)) {
            proxy_failed(error, ProxyFailure::closed, false,
                         "the upstream proxy " + proxy->authority() + " closed the tunnel to " + target +
                             " during the TLS handshake");
            co_return nullptr;
        }
        if (ec) {
            error = {
                ec == beast::error::timeout, "TLS handshake with the upstream failed: " + ec.message(), {}};
            co_return nullptr;
        }
        if (proxy_health_) proxy_health_->worked();
    }
    note_use(*conn);
    co_return conn;
}

void ConnectionPool::proxy_failed(ConnectError& error, ProxyFailure failure, bool deadline,
                                  std::string message) {
    proxy_health_->failed(failure, message);
    error.deadline = deadline;
    error.detail = message;
    error.message = std::move(message);
}

std::string ConnectionPool::absolute_form_prefix() const {
    return proxied_plain() ? "http://" + host_header() : std::string();
}

std::string ConnectionPool::request_proxy_authorization() const {
    return proxied_plain() ? options_.proxy->authorization() : std::string();
}

std::string ConnectionPool::proxy_refusal(unsigned status) {
    if (!proxied_plain()) return {};
    if (status != 407) {
        proxy_health_->worked();
        return {};
    }
    std::string message = "the upstream proxy " + options_.proxy->authority() +
                          (options_.proxy->user.empty() ? " asks for credentials: 407"
                                                        : " did not accept the credentials: 407");
    proxy_health_->failed(ProxyFailure::auth_required, message);
    return message;
}

void ConnectionPool::give_back(std::unique_ptr<Connection> connection, bool reusable) {
    note_use(*connection);
    // Bytes read past the answer's end were never asked for (we send one request at a time): a connection
    // with any is out of step with its peer and is closed rather than kept.
    if (reusable && connection->buffer.size() == 0) {
        // Its own io_context's list: the executor it was opened on.
        auto* context = context_of(connection->tcp().get_executor());
        std::lock_guard lock(mutex_);
        idle_[context].push_back(std::move(connection));
    }
    connection.reset(); // closed here, on its own thread, unless kept
    slots_.try_receive([](error_code) {});
}

void ConnectionPool::close_idle_on_their_threads() {
    std::lock_guard lock(mutex_);
    for (auto& [context, idle] : idle_) {
        if (idle.empty()) continue;
        const auto owner = idle.front()->tcp().get_executor();
        asio::post(owner, [connections = std::move(idle)]() mutable { connections.clear(); });
        idle.clear();
    }
}

void ConnectionPool::close_idle() {
    std::lock_guard lock(mutex_);
    idle_.clear();
}

} // namespace shim::upstream
