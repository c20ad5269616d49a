#include "serve/demo_upstream.hpp"

#include "serve/demo_data.hpp"
#include "sigma_analysis/errors.hpp"
#include "sigma_analysis/file_id.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

#include <map>

namespace shim::serve {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::ip::tcp;

struct Catalog {
    std::map<std::string, std::string_view, std::less<>> files;      // any hash of the file -> File object
    std::map<std::string, std::string, std::less<>> sha256_of;       // any hash -> sha256
    std::map<std::string, std::string_view, std::less<>> behaviours; // sha256 -> behaviour page
    std::map<std::string, std::string_view, std::less<>> rules;      // rule id -> sigma_rule object
};

std::string_view stem(std::string_view path) {
    const auto slash = path.rfind('/');
    auto name = path.substr(slash + 1);
    return name.substr(0, name.rfind('.'));
}

Catalog load_catalog() {
    Catalog c;
    for (const auto& object : demo_objects()) {
        if (object.path.starts_with("files/")) {
            const auto doc = json::parse(object.json);
            const auto& attributes = doc.at("data").at("attributes").as_object();
            const std::string sha256(stem(object.path));
            for (const char* hash : {"sha256", "sha1", "md5"}) {
                if (const auto* v = attributes.if_contains(hash); v && v->is_string()) {
                    c.files[std::string(v->get_string())] = object.json;
                    c.sha256_of[std::string(v->get_string())] = sha256;
                }
            }
            c.files[sha256] = object.json;
            c.sha256_of[sha256] = sha256;
        } else if (object.path.starts_with("behaviours/")) {
            c.behaviours[std::string(stem(object.path))] = object.json;
        } else if (object.path.starts_with("sigma_rules/")) {
            c.rules[std::string(stem(object.path))] = object.json;
        }
    }
    return c;
}

std::pair<unsigned, std::string> answer(const Catalog& c, std::string_view target) {
    const auto path = target.substr(0, target.find('?'));
    auto not_found = [&] {
        return std::pair<unsigned, std::string>{
            404, sigma_analysis::error_body("NotFoundError", "\"" + std::string(path) + "\" not found in the demo data")};
    };
    std::vector<std::string_view> seg;
    for (std::size_t at = 1; at <= path.size();) {
        const auto next = path.find('/', at);
        seg.push_back(path.substr(at, next == std::string_view::npos ? std::string_view::npos : next - at));
        if (next == std::string_view::npos) break;
        at = next + 1;
    }
    if (seg.size() < 4 || seg[0] != "api" || seg[1] != "v3") return not_found();
    const std::string id = sigma_analysis::to_lower_ascii(seg[3]);
    if (seg[2] == "sigma_rules" && seg.size() == 4) {
        if (const auto it = c.rules.find(id); it != c.rules.end()) return {200, std::string(it->second)};
        return not_found();
    }
    if (seg[2] != "files") return not_found();
    const auto sha = c.sha256_of.find(id);
    if (sha == c.sha256_of.end()) return not_found();
    if (seg.size() == 4) return {200, std::string(c.files.at(id))};
    if (seg.size() == 5 && seg[4] == "behaviours") {
        if (const auto it = c.behaviours.find(sha->second); it != c.behaviours.end()) return {200, std::string(it->second)};
        return {200, R"({"data":[],"links":{"self":"https://www.virustotal.com/api/v3/files/)" + sha->second +
                         R"(/behaviours"},"meta":{"count":0}})"};
    }
    return not_found();
}

asio::awaitable<void> serve_demo_connection(tcp::socket socket, const Catalog& catalog) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(1 << 20);
        stream.expires_after(std::chrono::seconds(60));
        co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        const auto& req = parser.get();
        auto [status, body] = req.method() == http::verb::get
                                  ? answer(catalog, req.target())
                                  : std::pair<unsigned, std::string>{
                                        405, sigma_analysis::error_body("NotAllowedError",
                                                                        "the demo upstream answers GET only")};
        http::response<http::string_body> res{static_cast<http::status>(status), 11};
        res.set(http::field::content_type, "application/json");
        res.set(http::field::server, "sigma-shim demo upstream");
        res.body() = std::move(body);
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        if (ec || !res.keep_alive()) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

asio::awaitable<void> demo_accept_loop(tcp::acceptor& acceptor, const Catalog& catalog) {
    for (;;) {
        boost::system::error_code ec;
        auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (!acceptor.is_open()) co_return;
            continue;
        }
        auto executor = socket.get_executor();
        asio::co_spawn(executor, serve_demo_connection(std::move(socket), catalog), asio::detached);
    }
}

} // namespace

struct DemoUpstream::Impl {
    explicit Impl(asio::io_context& ioc) : acceptor(asio::make_strand(ioc)), catalog(load_catalog()) {}
    tcp::acceptor acceptor;
    Catalog catalog;
};

DemoUpstream::DemoUpstream(asio::io_context& ioc) : impl_(std::make_unique<Impl>(ioc)) {}
DemoUpstream::~DemoUpstream() = default;

std::uint16_t DemoUpstream::start() {
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    impl_->acceptor.open(endpoint.protocol());
    impl_->acceptor.bind(endpoint);
    impl_->acceptor.listen();
    asio::co_spawn(impl_->acceptor.get_executor(), demo_accept_loop(impl_->acceptor, impl_->catalog), asio::detached);
    return impl_->acceptor.local_endpoint().port();
}

} // namespace shim::serve
