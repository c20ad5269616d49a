#include "serve/passthrough.hpp"

#include "upstream/connection_pool.hpp"

#include <array>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <limits>
#include <optional>

namespace shim::serve {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using upstream::SteadyClock;
using upstream::Connection;

constexpr std::size_t chunk_bytes = 64 * 1024;

// Hop-by-hop headers (RFC 9110 7.6.1) and those the relay sets itself.
bool is_hop_by_hop(std::string_view name, std::string_view connection_tokens) {
    static constexpr std::string_view fixed[] = {"connection",
                                                 "keep-alive",
                                                 "te",
                                                 "trailer",
                                                 "transfer-encoding",
                                                 "upgrade",
                                                 "proxy-connection",
                                                 "proxy-authenticate",
                                                 "proxy-authorization",
                                                 "host",
                                                 "expect",
                                                 "content-length"};
    for (auto f : fixed) {
        if (beast::iequals(name, f)) return true;
    }
    if (name.size() >= 6 && beast::iequals(name.substr(0, 6), "proxy-")) return true;
    // Headers that the Connection header names are hop-by-hop too.
    while (!connection_tokens.empty()) {
        const auto comma = connection_tokens.find(',');
        auto token = connection_tokens.substr(0, comma);
        while (!token.empty() && token.front() == ' ')
            token.remove_prefix(1);
        while (!token.empty() && token.back() == ' ')
            token.remove_suffix(1);
        if (!token.empty() && beast::iequals(name, token)) return true;
        connection_tokens =
            comma == std::string_view::npos ? std::string_view() : connection_tokens.substr(comma + 1);
    }
    return false;
}

template <bool isRequest, typename From, typename To>
void copy_end_to_end(const http::message<isRequest, From>& from, http::message<isRequest, To>& to) {
    const std::string_view connection = from[http::field::connection];
    for (const auto& field : from) {
        if (!is_hop_by_hop(field.name_string(), connection)) to.insert(field.name_string(), field.value());
    }
}

template <typename Op>
auto on_stream(Connection& c, Op&& op) {
    return std::visit(std::forward<Op>(op), c.stream);
}

bool idempotent(http::verb v) {
    return v == http::verb::get || v == http::verb::head || v == http::verb::options ||
           v == http::verb::put || v == http::verb::delete_;
}

} // namespace

asio::awaitable<RelayOutcome> relay(beast::tcp_stream& client, beast::flat_buffer& client_buffer,
                                    http::request_parser<http::empty_body>& header,
                                    const RelayRequest& request, ServerState& state) {
    const auto& cfg = state.config;
    auto& pool = state.pool;
    RelayOutcome out;
    const auto& in = header.get();
    const auto length = header.content_length();
    const bool has_body = length ? *length > 0 : header.chunked();
    const bool client_keep_alive = in.keep_alive();
    const auto method = in.method();
    const unsigned version = in.version();

    http::request<http::buffer_body> up;
    if (in.method() == http::verb::unknown)
        up.method_string(in.method_string());
    else
        up.method(in.method());
    up.target(in.target());
    up.version(11);
    copy_end_to_end(in, up);
    up.set(http::field::host, pool.host_header());
    up.set("x-apikey", request.api_key);
    up.set("X-Request-Id", request.request_id);
    if (has_body) {
        if (length)
            up.content_length(*length);
        else
            up.chunked(true);
    }

    error_code ec;
    if (has_body && beast::iequals(in[http::field::expect], "100-continue")) {
        http::response<http::empty_body> go_on{http::status::continue_, 11};
        client.expires_after(cfg.request_timeout);
        co_await http::async_write(client, go_on, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return out;
    }

    std::array<char, chunk_bytes> buf;
    std::unique_ptr<Connection> conn;
    std::optional<http::response_parser<http::buffer_body>> answer;
    const bool may_retry = !has_body && idempotent(method);
    http::request_parser<http::buffer_body> body{std::move(header)};
    body.body_limit(cfg.max_body_bytes);
    // Else Beast reads the body 512 bytes at a time.
    if (has_body) client_buffer.reserve(upstream::read_buffer_bytes);

    auto fail = [&](std::string code, std::string note) {
        if (conn) pool.release(std::move(conn), false);
        out.local_error_code = std::move(code);
        out.note = std::move(note);
        out.client_reusable = false;
        return out;
    };

    for (int attempt = 0;; ++attempt) {
        answer.emplace();
        upstream::ConnectError connect_error;
        conn = co_await pool.acquire(SteadyClock::now() + cfg.upstream_timeout, attempt > 0, connect_error);
        if (!conn) {
            co_return fail(connect_error.deadline ? "DeadlineExceededError" : "TransientError",
                           connect_error.detail);
        }
        http::request_serializer<http::buffer_body> sr{up};
        up.body().data = nullptr;
        up.body().size = 0;
        up.body().more = has_body;
        conn->tcp().expires_after(cfg.upstream_timeout);
        co_await on_stream(*conn, [&](auto& s) {
            return http::async_write_header(s, sr, asio::redirect_error(asio::use_awaitable, ec));
        });
        // The request body, a chunk at a time: never held whole.
        while (!ec && has_body && !body.is_done()) {
            body.get().body().data = buf.data();
            body.get().body().size = buf.size();
            client.expires_after(cfg.request_timeout);
            co_await http::async_read(client, client_buffer, body,
                                      asio::redirect_error(asio::use_awaitable, ec));
            if (ec == http::error::need_buffer) ec = {};
            if (ec) {
                // The client's body broke off or grew past the limit: the upstream gets an incomplete request
                // and is dropped; the client gets no answer it could mistake for the upstream's.
                co_return fail(ec == http::error::body_limit ? "PayloadTooLargeError"
                                                             : "InvalidArgumentError",
                               "client body: " + ec.message());
            }
            up.body().data = buf.data();
            up.body().size = buf.size() - body.get().body().size;
            up.body().more = !body.is_done();
            out.bytes_from_client += up.body().size;
            conn->tcp().expires_after(cfg.upstream_timeout);
            co_await on_stream(*conn, [&](auto& s) {
                return http::async_write(s, sr, asio::redirect_error(asio::use_awaitable, ec));
            });
            if (ec == http::error::need_buffer) ec = {};
        }
        if (!ec && !has_body) {
            co_await on_stream(*conn, [&](auto& s) {
                return http::async_write(s, sr, asio::redirect_error(asio::use_awaitable, ec));
            });
        }
        if (!ec) conn->tcp().expires_after(cfg.upstream_timeout); // one deadline for every header below
        for (int interim = 0; !ec; ++interim) {
            answer->body_limit(std::numeric_limits<std::uint64_t>::max());
            answer->header_limit(64 * 1024);
            if (method == http::verb::head) answer->skip(true);
            co_await on_stream(*conn, [&](auto& s) {
                return http::async_read_header(s, conn->buffer, *answer,
                                               asio::redirect_error(asio::use_awaitable, ec));
            });
            if (ec) break;
            const unsigned status = answer->get().result_int();
            const bool interim_answer = upstream::is_interim_status(status);
            // Upgrade is hop-by-hop and never forwarded, so a 101 was never asked for; a flood of interim
            // answers is no answer.
            if (status == 101 || (interim_answer && interim == upstream::max_interim_answers)) {
                ec = http::error::bad_status;
                break;
            }
            if (!interim_answer) break;
            // An interim answer (103 Early Hints, an unasked 100 Continue) precedes the real one (RFC 9110
            // 15.2). Relayed as the answer, it would leave the real one on the pooled connection for the next
            // request to take as its own. It is dropped, not forwarded: API clients have no use for it and
            // several (Python's http.client among them) take any 1xx but 100 for the final answer.
            answer.emplace();
        }
        if (!ec) break;
        const bool retry = attempt == 0 && may_retry && conn->reused && !answer->got_some() &&
                           upstream::is_stale_connection_error(ec);
        pool.release(std::move(conn), false);
        if (retry) continue;
        co_return fail(ec == beast::error::timeout ? "DeadlineExceededError" : "TransientError",
                       "upstream: " + ec.message());
    }

    // The answer, relayed as it comes: status, end-to-end headers and body bytes (compressed stays
    // compressed).
    const auto& upstream_answer = answer->get();
    const unsigned status = upstream_answer.result_int();
    out.retry_after = upstream_answer[http::field::retry_after];
    const bool body_expected =
        method != http::verb::head && status != 204 && status != 304 && (status < 100 || status >= 200);
    http::response<http::buffer_body> res;
    res.result(status);
    res.reason(upstream_answer.reason());
    res.version(version);
    copy_end_to_end(upstream_answer, res);
    if (!body_expected && upstream_answer.has_content_length()) {
        res.set(http::field::content_length, upstream_answer[http::field::content_length]);
    }
    res.set("X-Sigma-Shim", "passthrough");
    res.set("X-Sigma-Shim-Cache", "bypass");
    res.set("X-Request-Id", request.request_id);
    bool keep_alive = client_keep_alive && !state.draining.load();
    if (body_expected) {
        if (const auto n = answer->content_length())
            res.content_length(*n);
        else if (version >= 11)
            res.chunked(true);
        else
            keep_alive = false; // HTTP/1.0 without a length: the end of the body is the end of the connection
    }
    res.keep_alive(keep_alive);

    http::response_serializer<http::buffer_body> rs{res};
    res.body().data = nullptr;
    res.body().size = 0;
    res.body().more = body_expected;
    out.answered = true;
    out.status = status;
    client.expires_after(cfg.request_timeout);
    out.bytes_to_client +=
        co_await http::async_write_header(client, rs, asio::redirect_error(asio::use_awaitable, ec));
    bool complete = !ec && !body_expected;
    while (!ec && body_expected) {
        answer->get().body().data = buf.data();
        answer->get().body().size = buf.size();
        conn->tcp().expires_after(cfg.upstream_timeout);
        co_await on_stream(*conn, [&](auto& s) {
            return http::async_read(s, conn->buffer, *answer, asio::redirect_error(asio::use_awaitable, ec));
        });
        if (ec == http::error::need_buffer) ec = {};
        if (ec) {
            out.note = "upstream body broke off: " + ec.message();
            break;
        }
        res.body().data = buf.data();
        res.body().size = buf.size() - answer->get().body().size;
        res.body().more = !answer->is_done();
        out.bytes_to_client += res.body().size;
        client.expires_after(cfg.request_timeout);
        co_await http::async_write(client, rs, asio::redirect_error(asio::use_awaitable, ec));
        if (ec == http::error::need_buffer) ec = {};
        if (!ec && answer->is_done()) {
            complete = true;
            break;
        }
    }
    if (ec && out.note.empty()) out.note = "client write: " + ec.message();
    pool.release(std::move(conn), complete && answer->get().keep_alive());
    out.client_reusable = complete && keep_alive;
    co_return out;
}

} // namespace shim::serve
