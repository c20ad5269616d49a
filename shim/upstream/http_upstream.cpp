#include "upstream/http_upstream.hpp"

#include "net/head_text.hpp"
#include "upstream/exchange.hpp"
#include "util/gzip.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace shim::upstream {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

UpstreamResponse failed(Failure failure, std::string detail, std::string message = {}) {
    UpstreamResponse r;
    r.failure = failure;
    r.failure_detail = std::move(detail);
    r.failure_message = std::move(message);
    return r;
}

} // namespace

asio::awaitable<UpstreamResponse> HttpUpstream::get(UpstreamRequest request) {
    std::string fields;
    net::head_text::append_field(fields, "User-Agent", user_agent);
    net::head_text::append_field(fields, "Accept", "application/json");
    net::head_text::append_field(fields, "Accept-Encoding", "gzip");
    net::head_text::append_field(fields, "x-apikey", request.api_key);
    if (!request.request_id.empty()) net::head_text::append_field(fields, "X-Request-Id", request.request_id);

    const auto deadline = SteadyClock::now() + options_.timeout;
    // Named, not a temporary: GCC 12 mishandles temporaries inside a co_await expression.
    ExchangeRequest exchange_request{{"GET", request.target, fields, {}},
                                     request.api_key,
                                     "reconstruct",
                                     nullptr,
                                     true,
                                     deadline,
                                     request.client};
    auto exchange = co_await exchanger_.start(std::move(exchange_request));
    if (exchange.refused) co_return std::move(*exchange.refused);
    if (!exchange.answer)
        co_return failed(exchange.failure, std::move(exchange.detail), std::move(exchange.failure_message));

    http::response_parser<http::string_body> parser{std::move(*exchange.answer)};
    parser.body_limit(options_.max_body_bytes);
    auto& conn = *exchange.lease;
    conn.tcp().expires_at(deadline);
    error_code ec;
    // The header was read with no body limit (pass-through has none): a declared length is checked here,
    // chunked and close-delimited bodies as they come.
    if (const auto length = parser.content_length(); length && *length > options_.max_body_bytes)
        ec = http::error::body_limit;
    if (!ec)
        co_await conn.on_stream([&](auto& s) {
            return http::async_read(s, conn.buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        });
    if (ec) {
        auto r =
            ec == beast::error::timeout ? failed(Failure::deadline, "the upstream did not answer in time")
            : ec == http::error::body_limit
                ? failed(Failure::transient, "the upstream answer is larger than --upstream-max-body-bytes")
                : failed(Failure::transient, "upstream request failed: " + ec.message());
        exchange.finish(upstream_status_label(r));
        co_return r;
    }
    auto res = parser.release();
    exchange.lease.reusable(res.keep_alive());
    exchange.lease.give_back();

    UpstreamResponse out;
    out.status = res.result_int();
    out.content_type = res[http::field::content_type];
    out.retry_after = res[http::field::retry_after];
    const auto encoding = res[http::field::content_encoding];
    if (encoding.empty() || beast::iequals(encoding, "identity")) {
        out.body = std::move(res.body());
    } else if (beast::iequals(encoding, "gzip") || beast::iequals(encoding, "x-gzip")) {
        std::string error;
        auto inflated = util::gunzip(res.body(), options_.max_body_bytes, error);
        if (!inflated) {
            out = failed(Failure::transient, "the upstream's gzip body is invalid: " + error);
        } else {
            out.body = std::move(*inflated);
        }
    } else {
        out = failed(Failure::transient, "the upstream answered with an unsupported Content-Encoding");
    }
    exchange.finish(upstream_status_label(out));
    co_return out;
}

} // namespace shim::upstream
