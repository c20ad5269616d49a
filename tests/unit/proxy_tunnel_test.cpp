// The CONNECT exchange with a forward proxy (shim/upstream/proxy_tunnel.hpp), against a one-shot proxy on
// loopback that records the request and answers as told: what is sent, and how each answer is read.
#include "fake_upstream.hpp"
#include "upstream/proxy_tunnel.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using namespace std::chrono_literals;
using shim::upstream::ProxyEndpoint;
using shim::upstream::ProxyFailure;
using shim::upstream::TunnelResult;

struct Seen {
    std::string method, target, host, authorization;
};

// Accepts one connection, reads one request header, writes `answer` (nothing: closes at once).
asio::awaitable<void> one_shot_proxy(tcp::acceptor& acceptor, std::string answer, Seen& seen) {
    auto socket = co_await acceptor.async_accept(asio::use_awaitable);
    beast::flat_buffer buffer;
    http::request<http::empty_body> request;
    co_await http::async_read(socket, buffer, request, asio::use_awaitable);
    seen = {std::string(request.method_string()), std::string(request.target()),
            std::string(request[http::field::host]), std::string(request[http::field::proxy_authorization])};
    if (!answer.empty()) co_await asio::async_write(socket, asio::buffer(answer), asio::use_awaitable);
}

TunnelResult ask(const std::string& answer, Seen& seen, ProxyEndpoint proxy = {}) {
    asio::io_context ioc;
    tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    proxy.host = "127.0.0.1";
    proxy.port = std::to_string(acceptor.local_endpoint().port());
    asio::co_spawn(ioc, one_shot_proxy(acceptor, answer, seen), asio::detached);
    shim::net::DeadlineStream stream(ioc.get_executor());
    stream.socket().connect(acceptor.local_endpoint());
    stream.expires_after(5s);
    return test_support::run_to_end(ioc,
                                    shim::upstream::open_tunnel(stream, proxy, "www.virustotal.com:443"));
}

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(proxy_tunnel)

BOOST_AUTO_TEST_CASE(a_2xx_opens_the_tunnel) {
    Seen seen;
    const auto r = ask("HTTP/1.1 200 Connection established\r\n\r\n", seen);
    BOOST_TEST(!r.failure.has_value());
    BOOST_TEST(seen.method == "CONNECT");
    BOOST_TEST(seen.target == "www.virustotal.com:443");
    BOOST_TEST(seen.host == "www.virustotal.com:443");
    BOOST_TEST(seen.authorization.empty());
}

BOOST_AUTO_TEST_CASE(credentials_go_as_basic_proxy_authorization) {
    Seen seen;
    ProxyEndpoint proxy;
    proxy.user = "ops";
    proxy.password = "s3cret";
    const auto r = ask("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", seen, proxy);
    BOOST_TEST(!r.failure.has_value());
    BOOST_TEST(seen.authorization == "Basic b3BzOnMzY3JldA=="); // base64("ops:s3cret")
}

BOOST_AUTO_TEST_CASE(each_refusal_names_the_proxy_and_its_status) {
    struct Case {
        std::string answer;
        bool with_user;
        ProxyFailure failure;
        std::vector<std::string> parts;
    };
    for (const auto& c : std::vector<Case>{
             {"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
              false,
              ProxyFailure::auth_required,
              {"proxy", "asks for credentials", "407"}},
             {"HTTP/1.0 401 Unauthorized\r\nContent-Length: 5\r\n\r\nnope!",
              true,
              ProxyFailure::auth_required,
              {"proxy", "did not accept the credentials", "401"}},
             {"HTTP/1.0 403 Access violation\r\n\r\n",
              false,
              ProxyFailure::refused,
              {"proxy", "refused the tunnel to www.virustotal.com:443", "403 Access violation"}},
             {"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
              false,
              ProxyFailure::refused,
              {"refused", "502"}},
             {"HTTP/1.1 200 OK\r\n\r\n\x16\x03\x01", false, ProxyFailure::refused, {"sent bytes"}},
             {"", false, ProxyFailure::closed, {"proxy", "closed the connection"}},
             {"HTTP/1.1 200 OK\r\nContent-", false, ProxyFailure::closed, {"closed the connection"}},
             {"not http at all\r\n\r\n", false, ProxyFailure::refused, {"proxy", "not HTTP"}},
         }) {
        BOOST_TEST_CONTEXT(c.answer) {
            Seen seen;
            ProxyEndpoint proxy;
            if (c.with_user) proxy.user = "ops", proxy.password = "hunter2";
            const auto r = ask(c.answer, seen, proxy);
            BOOST_TEST((r.failure == c.failure));
            BOOST_TEST(!r.deadline);
            for (const auto& part : c.parts)
                BOOST_TEST(has(r.message, part), r.message);
            BOOST_TEST(!has(r.message, "hunter2"), r.message);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_proxy_that_never_answers_meets_the_deadline) {
    asio::io_context ioc;
    tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0}); // the kernel accepts; nobody reads
    ProxyEndpoint proxy;
    proxy.host = "127.0.0.1";
    proxy.port = std::to_string(acceptor.local_endpoint().port());
    shim::net::DeadlineStream stream(ioc.get_executor());
    stream.socket().connect(acceptor.local_endpoint());
    stream.expires_after(50ms);
    const auto r = test_support::run_to_end(ioc, shim::upstream::open_tunnel(stream, proxy, "h:443"));
    BOOST_TEST((r.failure == ProxyFailure::timeout));
    BOOST_TEST(r.deadline);
    BOOST_TEST(has(r.message, "did not open the tunnel to h:443 in time"), r.message);
}

BOOST_AUTO_TEST_SUITE_END()
