#include "upstream/http_upstream.hpp"

#include "upstream/connection_pool.hpp"
#include "util/gzip.hpp"

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <optional>
#include <sys/socket.h>

namespace shim::upstream {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;
using namespace asio::experimental::awaitable_operators;

ssl::context make_tls_context(const serve::ServeConfig& config) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_default_verify_paths();
    if (!config.upstream_ca.empty()) ctx.load_verify_file(config.upstream_ca);
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

UpstreamResponse failed(Failure failure, std::string detail) {
    UpstreamResponse r;
    r.failure = failure;
    r.failure_detail = std::move(detail);
    return r;
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

} // namespace

bool is_interim_status(unsigned status) {
    return status >= 100 && status < 200 && status != 101;
}

bool is_stale_connection_error(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == ssl::error::stream_truncated;
}

ConnectionPool::ConnectionPool(asio::any_io_executor executor, const serve::ServeConfig& config)
    : executor_(executor), address_(config.upstream), tls_(make_tls_context(config)),
      slots_(executor, config.upstream_connections) {}

ConnectionPool::~ConnectionPool() = default;

std::string ConnectionPool::host_header() const {
    const bool default_port = address_.port == (address_.tls ? "443" : "80");
    const std::string host =
        address_.host.find(':') != std::string::npos ? "[" + address_.host + "]" : address_.host;
    return default_port ? host : host + ":" + address_.port;
}

asio::awaitable<std::unique_ptr<Connection>> ConnectionPool::acquire(SteadyClock::time_point deadline, bool fresh,
                                                                     ConnectError& error) {
    if (!slots_.try_send(error_code{})) {
        asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
        error_code send_ec, timer_ec;
        const auto first =
            co_await (slots_.async_send(error_code{}, asio::redirect_error(asio::use_awaitable, send_ec)) ||
                      timer.async_wait(asio::redirect_error(asio::use_awaitable, timer_ec)));
        if (first.index() == 1 || send_ec) {
            error = {true, "no upstream connection became free before the deadline"};
            co_return nullptr;
        }
    }
    const auto executor = co_await asio::this_coro::executor;
    while (!fresh) {
        std::unique_ptr<Connection> conn;
        {
            std::lock_guard lock(mutex_);
            if (idle_.empty()) break;
            // Preferably one on the caller's io_context, whose thread then does all of the request's I/O.
            auto it = std::find_if(idle_.rbegin(), idle_.rend(),
                                   [&](const auto& c) { return c->tcp().get_executor() == executor; });
            auto taken = it == idle_.rend() ? std::prev(idle_.end()) : std::prev(it.base());
            conn = std::move(*taken);
            idle_.erase(taken);
        }
        if (!idle_connection_is_clean(*conn)) continue; // closed; the slot taken above goes to the next
        conn->reused = true;
        co_return conn;
    }
    auto conn = co_await connect(deadline, error);
    if (!conn) slots_.try_receive([](error_code) {});
    co_return conn;
}

asio::awaitable<std::unique_ptr<Connection>> ConnectionPool::connect(SteadyClock::time_point deadline,
                                                                     ConnectError& error) {
    // On the caller's io_context: the request that opens a connection does its I/O without a thread
    // hand-over.
    const auto executor = co_await asio::this_coro::executor;
    std::unique_ptr<Connection> conn;
    if (address_.tls)
        conn = std::make_unique<Connection>(std::in_place_type<Connection::Tls>, executor, tls_);
    else
        conn = std::make_unique<Connection>(std::in_place_type<Connection::Plain>, executor);

    error_code ec, timer_ec;
    tcp::resolver resolver(executor);
    asio::steady_timer timer(executor, deadline);
    tcp::resolver::results_type endpoints;
    const auto resolved = co_await (
        resolver.async_resolve(address_.host, address_.port, asio::redirect_error(asio::use_awaitable, ec)) ||
        timer.async_wait(asio::redirect_error(asio::use_awaitable, timer_ec)));
    if (resolved.index() == 1) {
        error = {true, "resolving the upstream host timed out"};
        co_return nullptr;
    }
    if (ec) {
        error = {false, "cannot resolve the upstream host: " + ec.message()};
        co_return nullptr;
    }
    endpoints = std::get<0>(resolved);

    conn->tcp().expires_at(deadline);
    co_await conn->tcp().async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        error = {ec == beast::error::timeout, "cannot connect to the upstream: " + ec.message()};
        co_return nullptr;
    }
    conn->tcp().socket().set_option(tcp::no_delay(true), ec); // requests go out as header, then body
    // Beast reads as much as the buffer has room for, and at least 512 bytes: a buffer left to grow by itself
    // stays small, and a 60 KB answer took ~120 reads, each with its own timer and wake-up.
    conn->buffer.reserve(read_buffer_bytes);
    if (auto* tls = std::get_if<Connection::Tls>(&conn->stream)) {
        SSL* ssl = tls->native_handle();
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        if (is_ip_literal(address_.host)) {
            X509_VERIFY_PARAM_set1_ip_asc(param, address_.host.c_str());
        } else {
            SSL_set_tlsext_host_name(ssl, address_.host.c_str());
            X509_VERIFY_PARAM_set1_host(param, address_.host.c_str(), 0);
        }
        co_await tls->async_handshake(ssl::stream_base::client,
                                      asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            error = {ec == beast::error::timeout, "TLS handshake with the upstream failed: " + ec.message()};
            co_return nullptr;
        }
    }
    co_return conn;
}

void ConnectionPool::release(std::unique_ptr<Connection> connection, bool reusable) {
    // Bytes read past the answer's end were never asked for (we send one request at a time): a connection
    // with any is out of step with its peer and is closed rather than kept.
    if (connection && reusable && connection->buffer.size() == 0) {
        std::lock_guard lock(mutex_);
        idle_.push_back(std::move(connection));
    }
    slots_.try_receive([](error_code) {});
}

HttpUpstream::HttpUpstream(ConnectionPool& pool, std::chrono::milliseconds timeout,
                           std::size_t max_body_bytes)
    : pool_(pool), timeout_(timeout), max_body_bytes_(max_body_bytes) {}

asio::awaitable<UpstreamResponse> HttpUpstream::get(UpstreamRequest request) {
    const auto deadline = SteadyClock::now() + timeout_;
    http::request<http::empty_body> req{http::verb::get, request.target, 11};
    req.set(http::field::host, pool_.host_header());
    req.set(http::field::user_agent, user_agent);
    req.set(http::field::accept, "application/json");
    req.set(http::field::accept_encoding, "gzip");
    req.set("x-apikey", request.api_key);
    if (!request.request_id.empty()) req.set("X-Request-Id", request.request_id);
    req.keep_alive(true);

    for (int attempt = 0; attempt < 2; ++attempt) {
        ConnectError connect_error;
        auto conn = co_await pool_.acquire(deadline, attempt > 0, connect_error);
        if (!conn) {
            co_return failed(connect_error.deadline ? Failure::deadline : Failure::transient,
                             connect_error.detail);
        }
        conn->tcp().expires_at(deadline);
        error_code ec;
        co_await std::visit(
            [&](auto& s) { return http::async_write(s, req, asio::redirect_error(asio::use_awaitable, ec)); },
            conn->stream);
        std::optional<http::response_parser<http::string_body>> parser;
        for (int interim = 0;; ++interim) {
            parser.emplace();
            parser->header_limit(64 * 1024);
            parser->body_limit(max_body_bytes_);
            if (ec) break;
            co_await std::visit(
                [&](auto& s) {
                    return http::async_read(s, conn->buffer, *parser,
                                            asio::redirect_error(asio::use_awaitable, ec));
                },
                conn->stream);
            if (ec) break;
            const unsigned status = parser->get().result_int();
            // 101 was never asked for; a flood of interim answers is no answer.
            if (status == 101 || (is_interim_status(status) && interim == max_interim_answers)) {
                ec = http::error::bad_status;
                break;
            }
            // An interim answer (103 Early Hints, an unasked 100 Continue) comes before the real one (RFC
            // 9110 15.2): read past it. Taken for the answer, it would leave the real one on the connection,
            // to be read as the next request's answer, maybe another key's.
            if (!is_interim_status(status)) break;
        }
        if (ec) {
            const bool retry =
                attempt == 0 && conn->reused && !parser->got_some() && is_stale_connection_error(ec);
            pool_.release(std::move(conn), false);
            if (retry) continue;
            if (ec == beast::error::timeout)
                co_return failed(Failure::deadline, "the upstream did not answer in time");
            if (ec == http::error::body_limit) {
                co_return failed(Failure::transient,
                                 "the upstream answer is larger than --upstream-max-body-bytes");
            }
            co_return failed(Failure::transient, "upstream request failed: " + ec.message());
        }
        auto res = parser->release();
        pool_.release(std::move(conn), res.keep_alive());

        UpstreamResponse out;
        out.status = res.result_int();
        out.content_type = res[http::field::content_type];
        out.retry_after = res[http::field::retry_after];
        const auto encoding = res[http::field::content_encoding];
        if (encoding.empty() || beast::iequals(encoding, "identity")) {
            out.body = std::move(res.body());
        } else if (beast::iequals(encoding, "gzip") || beast::iequals(encoding, "x-gzip")) {
            std::string error;
            auto inflated = util::gunzip(res.body(), max_body_bytes_, error);
            if (!inflated)
                co_return failed(Failure::transient, "the upstream's gzip body is invalid: " + error);
            out.body = std::move(*inflated);
        } else {
            co_return failed(Failure::transient,
                             "the upstream answered with an unsupported Content-Encoding");
        }
        co_return out;
    }
    co_return failed(Failure::transient, "upstream request failed");
}

} // namespace shim::upstream
