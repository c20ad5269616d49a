#include "replay/demo_upstream.hpp"

#include "net/task_group.hpp"
#include "replay/demo_data.hpp"
#include "replay/replay_catalog.hpp"
#include "sigma_analysis/errors.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace shim::replay {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace fs = std::filesystem;
using asio::ip::tcp;

ReplayCatalog bundled_catalog() {
    ReplayCatalog c;
    for (const auto& object : demo_objects())
        c.add(object.path, std::string(object.json));
    return c;
}

// Reads one recorded object; every failure names the file.
std::string read_object(const fs::path& file) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) throw std::runtime_error(file.string() + " is not a regular file");
    std::ifstream in(file, std::ios::binary);
    std::ostringstream bytes;
    if (in) bytes << in.rdbuf();
    if (!in) throw std::runtime_error("cannot read " + file.string());
    std::string text = std::move(bytes).str();
    boost::system::error_code parse_error;
    (void)json::parse(text, parse_error);
    if (parse_error) throw std::runtime_error(file.string() + " is not JSON: " + parse_error.message());
    return text;
}

ReplayCatalog recorded_catalog(const std::string& dir) {
    const fs::path root(dir);
    std::error_code ec;
    if (!fs::is_directory(root, ec)) {
        throw std::runtime_error("the recorded folder " + dir + " cannot be read" +
                                 (ec ? ": " + ec.message() : ""));
    }
    std::vector<std::string> paths; // relative, sorted: the catalog is the same whatever the listing order
    for (const char* kind : {"files", "behaviours", "sigma_rules"}) {
        const fs::path folder = root / kind;
        if (!fs::exists(folder, ec)) {
            if (ec) throw std::runtime_error("cannot read " + folder.string() + ": " + ec.message());
            continue; // a recording need not hold every kind
        }
        if (!fs::is_directory(folder, ec)) throw std::runtime_error(folder.string() + " is not a folder");
        fs::directory_iterator it(folder, ec), last;
        for (; !ec && it != last; it.increment(ec)) {
            const auto name = it->path().filename().string();
            if (name.size() > 5 && name.ends_with(".json")) paths.push_back(std::string(kind) + "/" + name);
        }
        if (ec) throw std::runtime_error("cannot list " + folder.string() + ": " + ec.message());
    }
    std::sort(paths.begin(), paths.end());
    ReplayCatalog c;
    for (const auto& relative : paths)
        c.add(relative, read_object(root / relative));
    return c;
}

asio::awaitable<void> serve_demo_connection(tcp::socket socket, const ReplayCatalog& catalog) {
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
        auto [status, body] =
            req.method() == http::verb::get
                ? catalog.answer(req.target())
                : std::pair<unsigned, std::string>{
                      405,
                      sigma_analysis::error_body("NotAllowedError", "the demo upstream answers GET only")};
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

asio::awaitable<void> demo_accept_loop(tcp::acceptor& acceptor, const ReplayCatalog& catalog,
                                       net::TaskGroup& connections) {
    for (;;) {
        boost::system::error_code ec;
        auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
            continue;
        }
        auto executor = socket.get_executor();
        connections.spawn(executor, serve_demo_connection(std::move(socket), catalog));
    }
}

} // namespace

struct DemoUpstream::Impl {
    Impl(asio::io_context& ioc, const std::string& dir)
        : acceptor(ioc), catalog(dir.empty() ? bundled_catalog() : recorded_catalog(dir)) {}
    tcp::acceptor acceptor;
    ReplayCatalog catalog;
    net::TaskGroup tasks; // the accept loop and every connection
};

DemoUpstream::DemoUpstream(asio::io_context& ioc, std::string dir)
    : impl_(std::make_unique<Impl>(ioc, dir)) {}
DemoUpstream::~DemoUpstream() = default;

std::uint16_t DemoUpstream::listen() {
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    impl_->acceptor.open(endpoint.protocol());
    impl_->acceptor.bind(endpoint);
    impl_->acceptor.listen();
    return impl_->acceptor.local_endpoint().port();
}

void DemoUpstream::start() {
    impl_->tasks.spawn(impl_->acceptor.get_executor(),
                       demo_accept_loop(impl_->acceptor, impl_->catalog, impl_->tasks));
}

asio::awaitable<void> DemoUpstream::stop() {
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
    // Nothing of the shim waits on these any more: cut them off, then wait until each has ended.
    impl_->tasks.cancel(asio::cancellation_type::terminal);
    co_await impl_->tasks.wait_empty(std::chrono::steady_clock::time_point::max());
}

} // namespace shim::replay
