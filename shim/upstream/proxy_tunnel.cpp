#include "upstream/proxy_tunnel.hpp"

#include "upstream/exchange.hpp"
#include "upstream/http_upstream.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace shim::upstream {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

// A proxy's reason phrase is its own text: kept short in a message.
std::string status_text(const http::response_parser<http::empty_body>& parser) {
    const auto& res = parser.get();
    std::string text = std::to_string(res.result_int());
    const auto reason = res.reason().substr(0, 80);
    if (!reason.empty()) text += " " + std::string(reason);
    return text;
}

} // namespace

asio::awaitable<TunnelResult> open_tunnel(net::DeadlineStream& stream, const ProxyEndpoint& proxy,
                                          const std::string& target) {
    const std::string who = "the upstream proxy " + proxy.authority();
    http::request<http::empty_body> request{http::verb::connect, target, 11};
    request.set(http::field::host, target);
    request.set(http::field::user_agent, user_agent);
    if (const auto credentials = proxy.authorization(); !credentials.empty())
        request.set(http::field::proxy_authorization, credentials);

    error_code ec;
    co_await http::async_write(stream, request, asio::redirect_error(asio::use_awaitable, ec));
    // The answer's header only: after a 2xx the bytes are the tunnel's, and a refusal's body is not wanted.
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> parser;
    parser.header_limit(16 * 1024);
    parser.skip(true);
    if (!ec)
        co_await http::async_read_header(stream, buffer, parser,
                                         asio::redirect_error(asio::use_awaitable, ec));
    if (ec == beast::error::timeout)
        co_return TunnelResult{ProxyFailure::timeout, true,
                               who + " did not open the tunnel to " + target + " in time"};
    if (is_stale_connection_error(ec) || ec == http::error::partial_message)
        co_return TunnelResult{ProxyFailure::closed, false,
                               who + " closed the connection instead of opening the tunnel to " + target};
    if (ec)
        co_return TunnelResult{ProxyFailure::refused, false,
                               who + " answered the CONNECT with something that is not HTTP (" +
                                   ec.message() + ")"};
    const unsigned status = parser.get().result_int();
    // 407 is the proxy's challenge; a 401 to a CONNECT can only be the proxy's too (tinyproxy 1.11 answers
    // wrong credentials so), as the upstream never sees the request.
    if (status == 407 || status == 401)
        co_return TunnelResult{
            ProxyFailure::auth_required, false,
            who + (proxy.user.empty() ? " asks for credentials: " : " did not accept the credentials: ") +
                status_text(parser)};
    if (status < 200 || status > 299)
        co_return TunnelResult{ProxyFailure::refused, false,
                               who + " refused the tunnel to " + target + ": " + status_text(parser)};
    // The upstream speaks first in nothing: TLS starts with our ClientHello, so a byte here is out of step.
    if (buffer.size() != 0)
        co_return TunnelResult{ProxyFailure::refused, false,
                               who + " sent bytes after opening the tunnel to " + target +
                                   ", before TLS began"};
    co_return TunnelResult{};
}

} // namespace shim::upstream
