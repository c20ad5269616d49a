#include "serve/passthrough.hpp"

#include "net/body_piece.hpp"
#include "net/head_text.hpp"
#include "upstream/exchange.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
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

// Calls visit(name, value) for each end-to-end field of `from`, in order.
template <typename Fields, typename Visit>
void for_each_end_to_end(const Fields& from, Visit&& visit) {
    const std::string_view connection = from[http::field::connection];
    for (const auto& field : from) {
        if (!is_hop_by_hop(field.name_string(), connection)) visit(field.name_string(), field.value());
    }
}

// The end-to-end headers of `from`, but for those the relay writes itself after them: one of each.
template <typename Fields>
void append_end_to_end(std::string& head, const Fields& from, std::span<const std::string_view> own) {
    for_each_end_to_end(from, [&](std::string_view name, std::string_view value) {
        if (std::none_of(own.begin(), own.end(), [&](auto o) { return beast::iequals(name, o); }))
            net::head_text::append_field(head, name, value);
    });
}

constexpr std::string_view own_request_fields[] = {"x-apikey", "x-request-id"};
constexpr std::string_view own_answer_fields[] = {"x-sigma-shim", "x-sigma-shim-cache", "x-request-id"};

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
                                    const RelayRequest& request, RelayScratch& scratch, ServerState& state) {
    const auto& cfg = state.config;
    RelayOutcome out;
    const auto length = header.content_length();
    const bool has_body = length ? *length > 0 : header.chunked();
    // The header moves into the parser that reads the body; everything below reads it there.
    http::request_parser<http::buffer_body> body{std::move(header)};
    body.body_limit(cfg.max_body_bytes);
    const auto& in = body.get();
    const bool client_keep_alive = in.keep_alive();
    const auto method = in.method();
    const unsigned version = in.version();
    const bool expects_continue = has_body && beast::iequals(in[http::field::expect], "100-continue");

    std::string& fields = scratch.request_fields;
    fields.clear();
    append_end_to_end(fields, in, own_request_fields);
    net::head_text::append_field(fields, "x-apikey", request.api_key);
    net::head_text::append_field(fields, "X-Request-Id", request.request_id);
    upstream::RequestHead up{in.method_string(), in.target(), fields, {}};
    if (has_body && length) up.content_length = *length;

    error_code ec;
    // Else Beast reads the body 512 bytes at a time.
    if (has_body) client_buffer.reserve(upstream::read_buffer_bytes);
    ClientBody<Stream> client_body(client, client_buffer, body, scratch.body(), cfg.request_timeout,
                                   expects_continue);

    // Named, not a temporary: GCC 12 mishandles temporaries inside a co_await expression.
    upstream::ExchangeRequest exchange_request{
        up, request.api_key, "passthrough", has_body ? &client_body : nullptr, idempotent(method),
        {}, request.client};
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
    std::optional<std::uint64_t> answer_length;
    if (const auto n = answer.content_length(); body_expected && n) answer_length = *n;
    // A body of unknown length goes to an HTTP/1.1 client chunked; to an HTTP/1.0 one, as it comes, and the
    // end of the connection marks its end.
    const bool chunked_out = body_expected && !answer_length && version >= 11;
    bool keep_alive =
        client_keep_alive && !state.draining.load() && !(body_expected && !answer_length && !chunked_out);
    std::string& head = scratch.head;
    head.clear();
    net::head_text::append_status_line(head, version, status, upstream_answer.reason());
    append_end_to_end(head, upstream_answer, own_answer_fields);
    if (!body_expected && upstream_answer.has_content_length())
        net::head_text::append_field(head, "Content-Length", upstream_answer[http::field::content_length]);
    net::head_text::append_field(head, "X-Sigma-Shim", "passthrough");
    net::head_text::append_field(head, "X-Sigma-Shim-Cache", "bypass");
    net::head_text::append_field(head, "X-Request-Id", request.request_id);
    if (answer_length) net::head_text::append_number_field(head, "Content-Length", *answer_length);
    if (chunked_out) net::head_text::append_field(head, "Transfer-Encoding", "chunked");
    net::head_text::append_connection_field(head, version, keep_alive);
    head += "\r\n";

    out.answered = true;
    out.status = status;
    const auto body_buffer = scratch.body();
    // Buffers by value: the coroutine keeps its own copy of the (small) sequence.
    auto write_client = [&](auto buffers) -> asio::awaitable<void> {
        beast::get_lowest_layer(client).expires_after(cfg.request_timeout);
        out.bytes_to_client += co_await write_all(client, buffers, ec);
    };
    bool complete = false;
    bool upstream_reusable = upstream_answer.keep_alive();
    if (!body_expected || answer_length) {
        // A known length: the bytes read ahead with the header leave with it in one write, the rest is read
        // into the buffer it is written from.
        std::uint64_t remaining = answer_length.value_or(0);
        const auto ahead = conn.buffer.data();
        const std::size_t first = static_cast<std::size_t>(std::min<std::uint64_t>(ahead.size(), remaining));
        const std::array<asio::const_buffer, 2> first_write{asio::buffer(head),
                                                            asio::buffer(ahead.data(), first)};
        co_await write_client(first_write);
        conn.buffer.consume(first);
        remaining -= first;
        // One deadline for each buffer's worth of body, as when Beast filled the buffer in one read: an
        // upstream that trickles a byte at a time is cut off, one that keeps up is not.
        auto deadline = std::chrono::steady_clock::now() + cfg.upstream_timeout;
        std::size_t since_deadline = 0;
        while (!ec && remaining > 0) {
            const std::size_t want =
                static_cast<std::size_t>(std::min<std::uint64_t>(remaining, body_buffer.size()));
            if (since_deadline >= body_buffer.size()) {
                deadline = std::chrono::steady_clock::now() + cfg.upstream_timeout;
                since_deadline = 0;
            }
            conn.tcp().expires_at(deadline);
            const auto into = asio::buffer(body_buffer.data(), want);
            const std::size_t got = co_await conn.on_stream([&](auto& s) {
                return s.async_read_some(into, asio::redirect_error(asio::use_awaitable, ec));
            });
            if (ec) {
                out.note = "upstream body broke off: " + ec.message();
                break;
            }
            remaining -= got;
            since_deadline += got;
            const auto written = asio::buffer(body_buffer.data(), got);
            co_await write_client(written);
        }
        complete = !ec;
    } else {
        // Chunked or ended by the close: Beast decodes the upstream's framing, the client gets its own.
        http::response_parser<http::buffer_body> answer_body{std::move(answer)};
        const auto head_only = asio::buffer(head);
        co_await write_client(head_only);
        while (!ec) {
            answer_body.get().body().data = body_buffer.data();
            answer_body.get().body().size = body_buffer.size();
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
            const std::size_t got = body_buffer.size() - answer_body.get().body().size;
            const bool done = answer_body.is_done();
            // To an HTTP/1.0 client the bytes as they come; to an HTTP/1.1 one, chunks of its own.
            const net::BodyPiece piece(std::span<const char>(body_buffer.data(), got), done, chunked_out);
            const auto piece_buffers = piece.buffers(); // named: GCC 12 and temporaries in co_await
            co_await write_client(piece_buffers);
            if (!ec && done) break;
        }
        complete = !ec;
        upstream_reusable = answer_body.get().keep_alive();
    }
    if (ec && out.note.empty()) out.note = "client write: " + ec.message();
    exchange.lease.reusable(complete && upstream_reusable);
    exchange.finish(std::to_string(status));
    out.client_reusable = complete && keep_alive;
    co_return out;
}

template asio::awaitable<RelayOutcome> relay(PlainStream&, beast::flat_buffer&,
                                             http::request_parser<http::empty_body>&, const RelayRequest&,
                                             RelayScratch&, ServerState&);
template asio::awaitable<RelayOutcome> relay(TlsStream&, beast::flat_buffer&,
                                             http::request_parser<http::empty_body>&, const RelayRequest&,
                                             RelayScratch&, ServerState&);

} // namespace shim::serve
