#include "serve/server.hpp"

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
    unsigned version = 11;
    bool accepts_gzip = false;
    bool keep_alive = true;
};

asio::awaitable<std::size_t> write_answer(beast::tcp_stream& stream, HttpAnswer& answer,
                                          const RequestFacts& facts, bool keep_alive,
                                          const ServeConfig& config, error_code& ec) {
    http::response<http::string_body> res{static_cast<http::status>(answer.status), facts.version};
    for (auto& [name, value] : answer.headers)
        res.insert(name, value);
    res.set("X-Request-Id", facts.request_id);
    if (res.find("X-Sigma-Shim-Cache") == res.end()) res.set("X-Sigma-Shim-Cache", "bypass");
    // Every answer says who made it; one that says nothing was made here (a /_shim/ endpoint, say).
    if (res.find("X-Sigma-Shim") == res.end()) res.set("X-Sigma-Shim", local_answer);
    if (facts.accepts_gzip && !answer.body.empty()) {
        res.body() = util::gzip(answer.body);
        res.set(http::field::content_encoding, "gzip");
    } else {
        res.body() = std::move(answer.body);
    }
    res.set(http::field::vary, "Accept-Encoding");
    res.keep_alive(keep_alive);
    res.prepare_payload();
    stream.expires_after(config.request_timeout);
    const auto n = co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    co_return n;
}

void log_request(ServerState& st, const RequestFacts& facts, const std::string& target_class, unsigned status,
                 std::chrono::steady_clock::duration took, std::size_t upstream_calls,
                 const std::string& note) {
    const std::chrono::duration<double> seconds = took;
    st.metrics.inc("sigma_shim_requests_total", {target_class, std::to_string(status)});
    st.metrics.observe("sigma_shim_request_duration_seconds", seconds.count(), {target_class});
    if (!st.log.enabled(ops::LogLevel::info)) return;
    ops::LogFields fields{{"request_id", facts.request_id},
                          {"method", facts.method},
                          {"route", target_class},
                          {"status", static_cast<std::int64_t>(status)},
                          {"duration_ms", seconds.count() * 1000.0},
                          {"upstream_calls", static_cast<std::int64_t>(upstream_calls)},
                          {"key", util::key_fingerprint(facts.key)}};
    if (!note.empty()) fields.emplace_back("note", note);
    st.log.write(ops::LogLevel::info, "request", fields);
}

asio::awaitable<void> serve_connection(beast::tcp_stream stream, ServerState& st) {
    const auto& cfg = st.config;
    ConnectionGauge gauge(st.metrics);
    beast::flat_buffer buffer;
    error_code ec;
    for (;;) {
        // Between requests the idle deadline applies; once a request has begun, the request deadline.
        if (buffer.size() == 0) {
            if (st.draining.load()) break;
            // Waiting for a request is the one place where the drain's first call (a total cancellation)
            // reaches a connection: it closes. In a request, only the terminal one at the drain deadline
            // does, so a request under way is finished, not dropped.
            co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
            stream.expires_after(cfg.idle_timeout);
            const auto n = co_await stream.async_read_some(buffer.prepare(4096),
                                                           asio::redirect_error(asio::use_awaitable, ec));
            if (ec) break;
            co_await asio::this_coro::reset_cancellation_state();
            buffer.commit(n);
        }
        http::request_parser<http::empty_body> parser; // a fresh parser, with its limits, for every message
        parser.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
        parser.body_limit(cfg.max_body_bytes);
        stream.expires_after(cfg.request_timeout);
        const auto header_bytes = co_await http::async_read_header(
            stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        const auto start = std::chrono::steady_clock::now();
        st.metrics.inc("sigma_shim_received_bytes_total", {}, static_cast<double>(header_bytes));
        if (ec) {
            if (auto answer = answer_for_read_error(ec)) {
                RequestFacts facts{"-", util::new_request_id(), {}, 11, false, false};
                const auto sent = co_await write_answer(stream, *answer, facts, false, cfg, ec);
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
        facts.key = req["x-apikey"];
        if (facts.key.empty()) facts.key = st.server_key;
        bool keep_alive = req.keep_alive() && !st.draining.load();
        const auto length = parser.content_length();
        const bool has_body = length ? *length > 0 : parser.chunked();
        const Route route = route_request(req.method_string(), req.target());
        const bool needs_key =
            (route.route_class == RouteClass::legacy || route.route_class == RouteClass::passthrough) &&
            !cfg.upstream.demo;

        HttpAnswer answer;
        std::string route_name(route_class_name(route.route_class));
        if (framing_is_ambiguous(parser)) {
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
            const auto peer = stream.socket().remote_endpoint(peer_ec);
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
                                                   std::string(req.target())};
                const std::string mode_header(req["X-Sigma-Shim-Mode"]);
                auto outcome = co_await st.migration.handle(legacy_request, mode_header);
                relay_it = outcome.relay;
                answer = std::move(outcome.answer);
            }
            if (relay_it) {
                const RelayRequest relay_request{facts.key, facts.request_id};
                auto outcome = co_await relay(stream, buffer, parser, relay_request, st);
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
        const auto sent = co_await write_answer(stream, answer, facts, keep_alive, cfg, ec);
        st.metrics.inc("sigma_shim_sent_bytes_total", {}, static_cast<double>(sent));
        log_request(st, facts, route_name, answer.status, std::chrono::steady_clock::now() - start,
                    answer.upstream_calls, answer.note);
        if (ec || !keep_alive) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

asio::awaitable<void> guarded(beast::tcp_stream stream, ServerState& st) {
    try {
        co_await serve_connection(std::move(stream), st);
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
        connections.spawn(executor, guarded(beast::tcp_stream(std::move(socket)), st));
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
