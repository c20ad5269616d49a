#include "serve/server.hpp"

#include "net/head_text.hpp"
#include "net/listener_tls.hpp"
#include "serve/client_stream.hpp"
#include "serve/client_tokens.hpp"
#include "serve/http_answer.hpp"
#include "serve/migration_handler.hpp"
#include "serve/passthrough.hpp"
#include "serve/router.hpp"
#include "serve/shim_endpoints.hpp"
#include "util/gzip.hpp"
#include "util/key_hash.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <chrono>

namespace shim::serve {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using boost::system::error_code;

// A client's X-Request-Id is kept when it is short and plain; otherwise a new one is made.
std::string request_id_of(std::string_view given) {
    const bool plain =
        !given.empty() && given.size() <= 128 && std::all_of(given.begin(), given.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
        });
    return plain ? std::string(given) : util::new_request_id();
}

// The answer to a request that could not be parsed, or nothing (the peer left or was too slow).
std::optional<HttpAnswer> answer_for_read_error(const error_code& ec) {
    if (ec == http::error::header_limit) {
        return error_answer("RequestHeaderFieldsTooLargeError",
                            "the request header is larger than --max-header-bytes");
    }
    if (ec == http::error::body_limit) {
        return error_answer("PayloadTooLargeError", "the request body is larger than --max-body-bytes");
    }
    const error_code beast_http_error = http::error::end_of_stream;
    if (ec.category() == beast_http_error.category() && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
        return error_answer("InvalidArgumentError", "malformed HTTP request: " + ec.message());
    }
    return std::nullopt;
}

// A Transfer-Encoding that does not end in chunked leaves the body's length unknown (RFC 9112 6.3); Beast
// then reads the request as bodiless, or by a Content-Length beside it, while a peer that honours the coding
// would frame it otherwise: a smuggling gap. So is any Transfer-Encoding in HTTP/1.0 (RFC 9112 6.1). Such a
// request is refused and the connection closed, before anything reaches the upstream.
bool framing_is_ambiguous(const http::request_parser<http::empty_body>& parser) {
    const auto& req = parser.get();
    if (req.find(http::field::transfer_encoding) == req.end()) return false;
    return !parser.chunked() || req.version() < 11;
}

// The message for a pass-through that gave no upstream answer: the client's body is to blame for the 400 and
// 413 the relay reports, the upstream for the rest.
std::string_view relay_failure_message(std::string_view code) {
    if (code == "DeadlineExceededError") return "the upstream did not answer in time";
    if (code == "PayloadTooLargeError") return "the request body is larger than --max-body-bytes";
    if (code == "InvalidArgumentError") return "the request body is malformed or broke off";
    return "the upstream could not be reached";
}

class ConnectionGauge {
public:
    explicit ConnectionGauge(ops::Metrics& m) : m_(m) { m_.gauge_add("sigma_shim_open_connections", 1); }
    ~ConnectionGauge() { m_.gauge_add("sigma_shim_open_connections", -1); }
    ConnectionGauge(const ConnectionGauge&) = delete;
    ConnectionGauge& operator=(const ConnectionGauge&) = delete;

private:
    ops::Metrics& m_;
};

class InFlight {
public:
    explicit InFlight(ServerState& s) : s_(s) {
        ++s_.in_flight;
        s_.metrics.gauge_add("sigma_shim_in_flight_requests", 1);
    }
    ~InFlight() {
        s_.metrics.gauge_add("sigma_shim_in_flight_requests", -1);
        --s_.in_flight;
    }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

private:
    ServerState& s_;
};

struct RequestFacts {
    std::string method;
    std::string request_id;
    std::string key;
    std::string client; // the client token's name; "" without --client-tokens
    unsigned version = 11;
    bool accepts_gzip = false;
    bool keep_alive = true;
};

// The header block and the body leave in one write. A kept answer brings its header lines and gzip body
// ready made; only what differs per request (the id, the length, the connection) is added.
template <class Stream>
asio::awaitable<std::size_t> write_answer(Stream& stream, const HttpAnswer& answer, const RequestFacts& facts,
                                          bool keep_alive, const ServeConfig& config, std::string& head,
                                          error_code& ec) {
    const std::string& identity = answer.body_text();
    std::string gzipped;
    const std::string* body = &identity;
    const bool gzip = facts.accepts_gzip && !identity.empty();
    if (gzip) {
        if (answer.kept) {
            body = &answer.kept->gzip_body;
        } else {
            gzipped = util::gzip(identity);
            body = &gzipped;
        }
    }
    head.clear();
    net::head_text::append_status_line(head, facts.version, answer.status,
                                       http::obsolete_reason(static_cast<http::status>(answer.status)));
    if (answer.kept)
        head += answer.kept->header_lines;
    else
        head += header_lines(answer.headers);
    net::head_text::append_field(head, "X-Request-Id", facts.request_id);
    if (gzip) net::head_text::append_field(head, "Content-Encoding", "gzip");
    net::head_text::append_field(head, "Vary", "Accept-Encoding");
    net::head_text::append_connection_field(head, facts.version, keep_alive);
    net::head_text::append_number_field(head, "Content-Length", body->size());
    head += "\r\n";
    beast::get_lowest_layer(stream).expires_after(config.request_timeout);
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(*body)};
    co_return co_await write_all(stream, buffers, ec);
}

void log_request(ServerState& st, const RequestFacts& facts, const std::string& target_class, unsigned status,
                 std::chrono::steady_clock::duration took, std::size_t upstream_calls,
                 const std::string& note) {
    const std::chrono::duration<double> seconds = took;
    st.metrics.inc("sigma_shim_requests_total", {target_class, std::to_string(status)});
    st.metrics.observe("sigma_shim_request_duration_seconds", seconds.count(), {target_class});
    if (!facts.client.empty())
        st.metrics.inc("sigma_shim_client_requests_total", {facts.client, std::to_string(status)});
    if (!st.log.enabled(ops::LogLevel::info)) return;
    const std::string fingerprint = util::key_fingerprint(facts.key);
    std::array<ops::LogFieldView, 9> fields{{{"request_id", facts.request_id},
                                             {"method", facts.method},
                                             {"route", target_class},
                                             {"status", static_cast<std::int64_t>(status)},
                                             {"duration_ms", seconds.count() * 1000.0},
                                             {"upstream_calls", static_cast<std::int64_t>(upstream_calls)},
                                             {"key", fingerprint}}};
    std::size_t used = 7;
    if (!facts.client.empty()) fields[used++] = {"client", facts.client};
    if (!note.empty()) fields[used++] = {"note", note};
    st.log.write(ops::LogLevel::info, "request", std::span(fields.data(), used));
}

// Who sent a /api/v3/ request, when clients have tokens: the token's name, or the refusal. A known token is
// replaced by the server-side key, so nothing the client sent as x-apikey goes further.
struct ClientCheck {
    std::string client;
    std::optional<HttpAnswer> refusal;
};

ClientCheck check_client(ServerState& st, std::string_view presented) {
    const auto tokens = st.client_tokens->current();
    if (const auto* known = tokens->find(presented)) return {known->name, std::nullopt};
    const bool missing = presented.empty();
    st.metrics.inc("sigma_shim_client_auth_failures_total", {missing ? "missing" : "unknown"});
    return {{},
            error_answer("AuthenticationRequiredError",
                         missing ? "a client token is required: send the token you were given as x-apikey"
                                 : "the client token in x-apikey is not known to this sigma-shim")};
}

// `buffer` may hold bytes already read (what came after a TLS handshake).
template <class Stream>
asio::awaitable<void> serve_connection(Stream& stream, beast::flat_buffer& buffer, ServerState& st) {
    const auto& cfg = st.config;
    auto& socket_stream = beast::get_lowest_layer(stream);
    RelayScratch scratch;
    error_code ec;
    for (;;) {
        // Between requests the idle deadline applies; once a request has begun, the request deadline.
        if (buffer.size() == 0) {
            if (st.draining.load()) break;
            // Waiting for a request is the one place where the drain's first call (a total cancellation)
            // reaches a connection: it closes. In a request, only the terminal one at the drain deadline
            // does, so a request under way is finished, not dropped.
            co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
            socket_stream.expires_after(cfg.idle_timeout);
            const auto n = co_await stream.async_read_some(buffer.prepare(4096),
                                                           asio::redirect_error(asio::use_awaitable, ec));
            if (ec) break;
            co_await asio::this_coro::reset_cancellation_state();
            buffer.commit(n);
        }
        http::request_parser<http::empty_body> parser; // a fresh parser, with its limits, for every message
        parser.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
        parser.body_limit(cfg.max_body_bytes);
        socket_stream.expires_after(cfg.request_timeout);
        const auto header_bytes = co_await http::async_read_header(
            stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        const auto start = std::chrono::steady_clock::now();
        st.metrics.inc("sigma_shim_received_bytes_total", {}, static_cast<double>(header_bytes));
        if (ec) {
            if (auto answer = answer_for_read_error(ec)) {
                RequestFacts facts{"-", util::new_request_id(), {}, {}, 11, false, false};
                const auto sent = co_await write_answer(stream, *answer, facts, false, cfg, scratch.head, ec);
                st.metrics.inc("sigma_shim_sent_bytes_total", {}, static_cast<double>(sent));
                log_request(st, facts, "invalid", answer->status, std::chrono::steady_clock::now() - start, 0,
                            answer->note);
            }
            break;
        }
        InFlight in_flight(st);
        const auto& req = parser.get();
        RequestFacts facts;
        facts.method = req.method_string();
        facts.request_id = request_id_of(req["X-Request-Id"]);
        facts.version = req.version();
        facts.accepts_gzip = util::accepts_gzip(req[http::field::accept_encoding]);
        bool keep_alive = req.keep_alive() && !st.draining.load();
        const auto length = parser.content_length();
        const bool has_body = length ? *length > 0 : parser.chunked();
        const Route route = route_request(req.method_string(), req.target());
        const bool goes_upstream =
            route.route_class == RouteClass::legacy || route.route_class == RouteClass::passthrough;
        const bool needs_key = goes_upstream && !cfg.upstream.demo;
        facts.key = req["x-apikey"];
        std::optional<HttpAnswer> unauthenticated;
        if (st.client_tokens && (goes_upstream || req.target().starts_with("/api/v3/"))) {
            auto check = check_client(st, facts.key);
            facts.client = std::move(check.client);
            unauthenticated = std::move(check.refusal);
            facts.key = st.server_key;
        }
        if (facts.key.empty()) facts.key = st.server_key;

        HttpAnswer answer;
        std::string route_name(route_class_name(route.route_class));
        if (unauthenticated) {
            answer = std::move(*unauthenticated);
            if (has_body) keep_alive = false; // the body is not read
        } else if (framing_is_ambiguous(parser)) {
            answer =
                error_answer("InvalidArgumentError",
                             "Transfer-Encoding must end in chunked, without Content-Length, in HTTP/1.1");
            route_name = "invalid";
            keep_alive = false; // where this request ends is unknown: nothing after it can be trusted
        } else if (has_body && route.route_class != RouteClass::passthrough) {
            answer = error_answer("InvalidArgumentError",
                                  "request bodies are only accepted on pass-through routes");
            keep_alive = false; // the body is not read: the connection cannot carry another request
        } else if (route.route_class == RouteClass::invalid) {
            answer = error_answer("InvalidArgumentError", route.error);
        } else if (route.route_class == RouteClass::shim) {
            error_code peer_ec;
            const auto peer = socket_stream.socket().remote_endpoint(peer_ec);
            answer = answer_shim_endpoint(route, st, !peer_ec && peer.address().is_loopback());
        } else if (needs_key && facts.key.empty()) {
            answer =
                error_answer("AuthenticationRequiredError",
                             "an API key is required: send x-apikey, or configure one with --api-key-env");
            if (has_body) keep_alive = false;
        } else {
            bool relay_it = route.route_class == RouteClass::passthrough;
            if (route.route_class == RouteClass::legacy) {
                // Arguments are named, not temporaries: GCC 12 mishandles temporaries inside a co_await
                // expression.
                const LegacyRequest legacy_request{route, facts.key, facts.request_id,
                                                   std::string(req.target()), facts.client};
                const std::string mode_header(req["X-Sigma-Shim-Mode"]);
                auto outcome = co_await st.migration.handle(legacy_request, mode_header);
                relay_it = outcome.relay;
                answer = std::move(outcome.answer);
            }
            if (relay_it) {
                const RelayRequest relay_request{facts.key, facts.request_id, facts.client};
                auto outcome = co_await relay(stream, buffer, parser, relay_request, scratch, st);
                if (outcome.bytes_from_client) // most relayed requests have no body
                    st.metrics.inc("sigma_shim_received_bytes_total", {},
                                   static_cast<double>(outcome.bytes_from_client));
                st.metrics.inc("sigma_shim_sent_bytes_total", {},
                               static_cast<double>(outcome.bytes_to_client));
                if (outcome.answered) {
                    log_request(st, facts, route_name, outcome.status,
                                std::chrono::steady_clock::now() - start, 1, outcome.note);
                    if (!outcome.client_reusable) break;
                    continue;
                }
                if (outcome.refused) {
                    answer.status = outcome.refused->status;
                    answer.body = std::move(outcome.refused->body);
                    answer.set("Content-Type", "application/json; charset=utf-8");
                    answer.set("Retry-After", outcome.refused->retry_after);
                    answer.set("X-Sigma-Shim", local_answer); // the quota's: nothing went upstream
                    if (has_body) keep_alive = false;
                } else {
                    answer = error_answer(outcome.local_error_code,
                                          outcome.local_error_message.empty()
                                              ? relay_failure_message(outcome.local_error_code)
                                              : outcome.local_error_message);
                    answer.note = outcome.note;
                    keep_alive = false;
                }
            }
        }
        const auto sent = co_await write_answer(stream, answer, facts, keep_alive, cfg, scratch.head, ec);
        st.metrics.inc("sigma_shim_sent_bytes_total", {}, static_cast<double>(sent));
        log_request(st, facts, route_name, answer.status, std::chrono::steady_clock::now() - start,
                    answer.upstream_calls, answer.note);
        if (ec || !keep_alive) break;
    }
    if constexpr (std::is_same_v<Stream, TlsStream>) {
        // The shim ends the session, the peer did not: say so (close_notify), but wait only briefly for the
        // peer's reply.
        if (!ec) {
            socket_stream.expires_after(std::min<Duration>(cfg.idle_timeout, std::chrono::seconds(2)));
            co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
        }
    }
    socket_stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

// A failed handshake is counted, and logged a line per interval at most: a peer can fail them at will.
void handshake_failed(ServerState& st, std::string_view reason, const std::string& detail) {
    st.metrics.inc("sigma_shim_tls_handshakes_total", {std::string(reason)});
    std::uint64_t held_back = 0;
    if (!st.handshake_log.allow(ops::LogThrottle::Clock::now(), held_back)) return;
    ops::LogFields fields{{"reason", std::string(reason)},
                          {"detail", detail},
                          {"not_logged_since_last", static_cast<std::int64_t>(held_back)}};
    st.log.write(ops::LogLevel::warn,
                 reason == "plain_http"
                     ? "a plain HTTP request came to the TLS port: closed without an answer"
                     : "TLS handshake failed",
                 fields);
}

// A TLS connection: what the client sends first decides whether it is TLS at all, then the handshake, under
// the idle deadline until the first bytes and the request deadline after, as a plain request's header is.
asio::awaitable<void> serve_tls_connection(PlainStream& plain, ServerState& st) {
    const auto& cfg = st.config;
    beast::flat_buffer buffer;
    error_code ec;
    // Until the handshake is over, a drain closes the connection as it closes one between requests.
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    plain.expires_after(cfg.idle_timeout);
    std::string_view kind;
    for (;;) {
        const auto seen = buffer.data();
        kind =
            net::classify_first_bytes(std::span(static_cast<const unsigned char*>(seen.data()), seen.size()));
        if (!kind.empty()) break;
        const auto n = co_await plain.async_read_some(buffer.prepare(512),
                                                      asio::redirect_error(asio::use_awaitable, ec));
        if (ec == beast::error::timeout) handshake_failed(st, "timeout", "no TLS ClientHello in time");
        if (ec) co_return;
        // The request deadline runs from the first bytes, once: a client trickling them gains nothing.
        if (buffer.size() == 0) plain.expires_after(cfg.request_timeout);
        buffer.commit(n);
    }
    if (kind != "tls") {
        handshake_failed(st, kind == "http" ? "plain_http" : "not_tls",
                         kind == "http" ? "use https://" : "the first bytes are not a TLS record");
        plain.socket().shutdown(tcp::socket::shutdown_both, ec);
        co_return;
    }
    const auto context = st.tls->current();       // this connection keeps it, whatever a reload brings
    TlsStream stream(std::move(plain), *context); // the deadline moves with the socket
    const auto used = co_await stream.async_handshake(asio::ssl::stream_base::server, buffer.data(),
                                                      asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        handshake_failed(st, ec == beast::error::timeout ? "timeout" : "failed", ec.message());
        co_return;
    }
    st.metrics.inc("sigma_shim_tls_handshakes_total", {"ok"});
    buffer.consume(used);
    co_await asio::this_coro::reset_cancellation_state();
    co_await serve_connection(stream, buffer, st);
}

asio::awaitable<void> guarded(PlainStream stream, ServerState& st) {
    ConnectionGauge gauge(st.metrics);
    try {
        beast::flat_buffer buffer;
        if (st.tls)
            co_await serve_tls_connection(stream, st);
        else
            co_await serve_connection(stream, buffer, st);
    } catch (const boost::system::system_error& e) {
        // At the drain deadline every wait of a connection is cancelled, and the coroutine unwinds from
        // where it was by this exception.
        if (e.code() == asio::error::operation_aborted && st.draining.load()) {
            st.log.write(ops::LogLevel::warn, "connection cut off at the drain deadline");
        } else {
            st.log.write(ops::LogLevel::error, "connection failed", {{"error", std::string(e.what())}});
        }
    } catch (const std::exception& e) {
        // A bug must cost one connection, never the process.
        st.log.write(ops::LogLevel::error, "connection failed", {{"error", std::string(e.what())}});
    }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, asio::io_context& ioc,
                                  const std::vector<asio::io_context*>& contexts, ServerState& st,
                                  net::TaskGroup& connections) {
    for (std::size_t next = 0;; ++next) {
        error_code ec;
        // One thread runs each context, so a connection needs no strand.
        auto& context = *contexts[next % contexts.size()];
        tcp::socket socket =
            co_await acceptor.async_accept(context, asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) {
            // Out of descriptors, say: wait a little rather than spin.
            st.log.write(ops::LogLevel::warn, "accept failed", {{"error", ec.message()}});
            asio::steady_timer pause(ioc, std::chrono::milliseconds(50));
            co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        // Headers and bodies leave in separate writes: without this, Nagle and delayed ACKs add 40 ms.
        socket.set_option(tcp::no_delay(true), ec);
        auto executor = socket.get_executor();
        connections.spawn(executor, guarded(PlainStream(std::move(socket)), st));
    }
}

} // namespace

Server::Server(asio::io_context& ioc, std::vector<asio::io_context*> connection_contexts, ServerState& state)
    : ioc_(ioc), connection_contexts_(std::move(connection_contexts)), state_(state), acceptor_(ioc),
      connections_([&state](std::exception_ptr) {
          state.log.write(ops::LogLevel::error, "connection failed", {{"error", std::string("exception")}});
      }) {}

tcp::endpoint Server::listen() {
    const tcp::endpoint endpoint(asio::ip::make_address(state_.config.listen_host),
                                 state_.config.listen_port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    return acceptor_.local_endpoint();
}

void Server::start() {
    connections_.spawn(acceptor_.get_executor(),
                       accept_loop(acceptor_, ioc_, connection_contexts_, state_, connections_));
}

void Server::stop_accepting() {
    error_code ec;
    acceptor_.close(ec); // on ioc_, the acceptor's own thread
    connections_.cancel(asio::cancellation_type::total);
}

asio::awaitable<bool> Server::wait_closed(std::chrono::steady_clock::time_point deadline) {
    co_return co_await connections_.wait_empty(deadline);
}

asio::awaitable<void> Server::cut_off() {
    connections_.cancel(asio::cancellation_type::terminal);
    co_await connections_.wait_empty(std::chrono::steady_clock::time_point::max());
}

} // namespace shim::serve
