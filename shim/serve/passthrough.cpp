#include "serve/passthrough.hpp"

#include "upstream/exchange.hpp"

#include <array>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <span>

namespace shim::serve {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

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

bool idempotent(http::verb v) {
    return v == http::verb::get || v == http::verb::head || v == http::verb::options ||
           v == http::verb::put || v == http::verb::delete_;
}

// The client's request body, read a chunk at a time into the relay buffer as the exchange sends it on. A
// client that waits for "100 Continue" is told to go on only when the body is wanted: after the quota let the
// request through and the upstream took its header.
template <class Stream>
class ClientBody final : public upstream::BodySource {
public:
    ClientBody(Stream& client, beast::flat_buffer& client_buffer,
               http::request_parser<http::buffer_body>& parser, std::span<char> buffer,
               std::chrono::milliseconds timeout, bool expects_continue)
        : client_(client), client_buffer_(client_buffer), parser_(parser), buffer_(buffer), timeout_(timeout),
          expects_continue_(expects_continue) {}

    asio::awaitable<std::span<const char>> next(bool& last, error_code& ec) override {
        beast::get_lowest_layer(client_).expires_after(timeout_);
        if (std::exchange(expects_continue_, false)) {
            http::response<http::empty_body> go_on{http::status::continue_, 11};
            co_await http::async_write(client_, go_on, asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return std::span<const char>();
        }
        parser_.get().body().data = buffer_.data();
        parser_.get().body().size = buffer_.size();
        co_await http::async_read(client_, client_buffer_, parser_,
                                  asio::redirect_error(asio::use_awaitable, ec));
        if (ec == http::error::need_buffer) ec = {};
        last = parser_.is_done();
        co_return std::span<const char>(buffer_.data(), buffer_.size() - parser_.get().body().size);
    }

private:
    Stream& client_;
    beast::flat_buffer& client_buffer_;
    http::request_parser<http::buffer_body>& parser_;
    std::span<char> buffer_;
    std::chrono::milliseconds timeout_;
    bool expects_continue_;
};

} // namespace

template <class Stream>
asio::awaitable<RelayOutcome> relay(Stream& client, beast::flat_buffer& client_buffer,
                                    http::request_parser<http::empty_body>& header,
                                    const RelayRequest& request, ServerState& state) {
    const auto& cfg = state.config;
    RelayOutcome out;
    const auto& in = header.get();
    const auto length = header.content_length();
    const bool has_body = length ? *length > 0 : header.chunked();
    const bool client_keep_alive = in.keep_alive();
    const auto method = in.method();
    const unsigned version = in.version();

    upstream::UpstreamHeader up;
    if (in.method() == http::verb::unknown)
        up.method_string(in.method_string());
    else
        up.method(in.method());
    up.target(in.target());
    up.version(11);
    copy_end_to_end(in, up);
    up.set("x-apikey", request.api_key);
    up.set("X-Request-Id", request.request_id);
    if (has_body) {
        if (length)
            up.content_length(*length);
        else
            up.chunked(true);
    }

    error_code ec;
    std::array<char, chunk_bytes> buf;
    http::request_parser<http::buffer_body> body{std::move(header)};
    body.body_limit(cfg.max_body_bytes);
    // Else Beast reads the body 512 bytes at a time.
    if (has_body) client_buffer.reserve(upstream::read_buffer_bytes);
    const bool expects_continue = has_body && beast::iequals(in[http::field::expect], "100-continue");
    ClientBody<Stream> client_body(client, client_buffer, body, buf, cfg.request_timeout, expects_continue);

    // Named, not a temporary: GCC 12 mishandles temporaries inside a co_await expression.
    upstream::ExchangeRequest exchange_request{
        &up, request.api_key, "passthrough", has_body ? &client_body : nullptr, idempotent(method), {},
        request.client};
    auto exchange = co_await state.upstream.start(std::move(exchange_request));
    out.bytes_from_client = exchange.body_bytes_sent;
    if (exchange.refused) {
        out.refused = std::move(exchange.refused);
        out.client_reusable = !has_body; // the body was not read
        co_return out;
    }
    if (!exchange.answer) {
        if (exchange.client_failed) {
            // The client's body broke off or grew past the limit.
            out.local_error_code = exchange.client_error == http::error::body_limit ? "PayloadTooLargeError"
                                                                                    : "InvalidArgumentError";
        } else {
            out.local_error_code =
                exchange.failure == upstream::Failure::deadline ? "DeadlineExceededError" : "TransientError";
        }
        out.note = std::move(exchange.detail);
        out.local_error_message = std::move(exchange.failure_message);
        out.client_reusable = false;
        co_return out;
    }

    // The answer, relayed as it comes: status, end-to-end headers and body bytes (compressed stays
    // compressed).
    auto& answer = *exchange.answer;
    auto& conn = *exchange.lease;
    const auto& upstream_answer = answer.get();
    const unsigned status = upstream_answer.result_int();
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
        if (const auto n = answer.content_length())
            res.content_length(*n);
        else if (version >= 11)
            res.chunked(true);
        else
            keep_alive = false; // HTTP/1.0 without a length: the end of the body is the end of the connection
    }
    res.keep_alive(keep_alive);

    http::response_parser<http::buffer_body> answer_body{std::move(answer)};
    http::response_serializer<http::buffer_body> rs{res};
    res.body().data = nullptr;
    res.body().size = 0;
    res.body().more = body_expected;
    out.answered = true;
    out.status = status;
    beast::get_lowest_layer(client).expires_after(cfg.request_timeout);
    out.bytes_to_client +=
        co_await http::async_write_header(client, rs, asio::redirect_error(asio::use_awaitable, ec));
    bool complete = !ec && !body_expected;
    while (!ec && body_expected) {
        answer_body.get().body().data = buf.data();
        answer_body.get().body().size = buf.size();
        conn.tcp().expires_after(cfg.upstream_timeout);
        co_await conn.on_stream([&](auto& s) {
            return http::async_read(s, conn.buffer, answer_body,
                                    asio::redirect_error(asio::use_awaitable, ec));
        });
        if (ec == http::error::need_buffer) ec = {};
        if (ec) {
            out.note = "upstream body broke off: " + ec.message();
            break;
        }
        res.body().data = buf.data();
        res.body().size = buf.size() - answer_body.get().body().size;
        res.body().more = !answer_body.is_done();
        out.bytes_to_client += res.body().size;
        beast::get_lowest_layer(client).expires_after(cfg.request_timeout);
        co_await http::async_write(client, rs, asio::redirect_error(asio::use_awaitable, ec));
        if (ec == http::error::need_buffer) ec = {};
        if (!ec && answer_body.is_done()) {
            complete = true;
            break;
        }
    }
    if (ec && out.note.empty()) out.note = "client write: " + ec.message();
    exchange.lease.reusable(complete && answer_body.get().keep_alive());
    exchange.finish(std::to_string(status));
    out.client_reusable = complete && keep_alive;
    co_return out;
}

template asio::awaitable<RelayOutcome> relay(PlainStream&, beast::flat_buffer&,
                                             http::request_parser<http::empty_body>&, const RelayRequest&,
                                             ServerState&);
template asio::awaitable<RelayOutcome> relay(TlsStream&, beast::flat_buffer&,
                                             http::request_parser<http::empty_body>&, const RelayRequest&,
                                             ServerState&);

} // namespace shim::serve
