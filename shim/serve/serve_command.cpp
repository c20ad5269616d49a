#include "serve/serve_command.hpp"

#include "economy/byte_lru.hpp"
#include "serve/config.hpp"
#include "serve/demo_upstream.hpp"
#include "serve/legacy_handler.hpp"
#include "serve/metered_upstream.hpp"
#include "serve/server.hpp"
#include "upstream/cache_upstream.hpp"
#include "upstream/coalescing_upstream.hpp"
#include "upstream/connection_pool.hpp"
#include "upstream/http_upstream.hpp"
#include "upstream/quota_upstream.hpp"
#include "upstream/recording_upstream.hpp"
#include "upstream/retry_upstream.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

namespace shim::serve {
namespace {

namespace asio = boost::asio;

std::string endpoint_text(const asio::ip::tcp::endpoint& e) {
    const auto address = e.address().to_string();
    return (e.address().is_v6() ? "[" + address + "]" : address) + ":" + std::to_string(e.port());
}

// On SIGTERM or SIGINT: stop accepting, answer readyz 503, let requests in flight finish within the drain
// timeout, then stop.
asio::awaitable<void> drain(asio::io_context& ioc, Server& server, ServerState& state) {
    state.draining = true;
    server.stop_accepting();
    state.log.write(ops::LogLevel::info, "draining",
                    {{"in_flight", static_cast<std::int64_t>(state.in_flight)}});
    const auto deadline = std::chrono::steady_clock::now() + state.config.drain_timeout;
    asio::steady_timer tick(ioc);
    while (state.in_flight > 0 && std::chrono::steady_clock::now() < deadline) {
        tick.expires_after(std::chrono::milliseconds(20));
        co_await tick.async_wait(asio::use_awaitable);
    }
    state.log.write(ops::LogLevel::info, "stopped",
                    {{"abandoned", static_cast<std::int64_t>(state.in_flight)}});
    ioc.stop();
}

} // namespace

int run_serve(std::span<const std::string> args) {
    const auto parsed = parse_serve_config(args, [](const char* name) { return std::getenv(name); });
    if (parsed.help) {
        std::cout << serve_usage();
        return 0;
    }
    if (!parsed.error.empty()) {
        std::cerr << "sigma-shim serve: " << parsed.error << " (see sigma-shim serve --help)\n";
        return 2;
    }
    ServeConfig config = parsed.config;
    ops::Logger log(std::cerr, config.log_level);
    ops::Metrics metrics;
    register_server_metrics(metrics);
    std::signal(SIGPIPE, SIG_IGN);

    asio::io_context ioc(static_cast<int>(config.threads));
    std::unique_ptr<DemoUpstream> demo;
    if (config.upstream.demo) {
        try {
            demo = std::make_unique<DemoUpstream>(ioc, config.upstream.dir);
        } catch (const std::exception& e) {
            std::cerr << "sigma-shim serve: --upstream " << config.upstream.origin << ": " << e.what()
                      << "\n";
            return 2;
        }
        config.upstream.host = "127.0.0.1";
        config.upstream.port = std::to_string(demo->start());
    }

    std::unique_ptr<upstream::ConnectionPool> pool;
    try {
        pool = std::make_unique<upstream::ConnectionPool>(ioc.get_executor(), config);
    } catch (const std::exception& e) {
        std::cerr << "sigma-shim serve: cannot set up TLS for the upstream (--upstream-ca "
                  << config.upstream_ca << "): " << e.what() << "\n";
        return 2;
    }
    // The upstream chain, each layer one job: coalescing > cache > retry > quota > record > metrics > client.
    // The quota sits below the cache, so a cache hit spends none of it.
    upstream::HttpUpstream client(*pool, config.upstream_timeout, config.upstream_max_body_bytes);
    MeteredUpstream metered(client, metrics);
    std::unique_ptr<upstream::RecordingUpstream> recording;
    upstream::Upstream* below_quota = &metered;
    if (!config.record_dir.empty()) {
        recording = std::make_unique<upstream::RecordingUpstream>(metered, config.record_dir, log);
        below_quota = recording.get();
    }
    upstream::QuotaUpstream quota(*below_quota, config, metrics);
    upstream::RetryUpstream retry(quota, config.upstream_retries, metrics);
    economy::ByteLru lru(config.cache_bytes);
    upstream::CacheUpstream cache(retry, config, metrics, lru);
    upstream::CoalescingUpstream coalescing(cache, metrics);
    LegacyHandler legacy(coalescing, config);
    const char* server_key = std::getenv(config.api_key_env.c_str());
    ServerState state{config, log, metrics, *pool, legacy, quota, lru, server_key ? server_key : "", {}, {}};

    Server server(ioc, state);
    asio::ip::tcp::endpoint bound;
    try {
        bound = server.listen();
    } catch (const boost::system::system_error& e) {
        std::cerr << "sigma-shim serve: cannot listen on " << config.listen_host << ":" << config.listen_port
                  << ": " << e.code().message() << "\n";
        return 2;
    }
    // Signals are caught before the `listening` line: whoever waits for that line may send SIGTERM at once.
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (!ec) asio::co_spawn(ioc, drain(ioc, server, state), asio::detached);
    });
    server.start();
    log.write(ops::LogLevel::info, "listening",
              {{"address", endpoint_text(bound)},
               {"upstream", config.upstream.origin},
               {"threads", static_cast<std::int64_t>(config.threads)},
               {"server_key", state.server_key.empty() ? std::string("none") : std::string("configured")}});


    std::vector<std::thread> threads;
    for (unsigned i = 1; i < config.threads; ++i)
        threads.emplace_back([&] { ioc.run(); });
    ioc.run();
    for (auto& t : threads)
        t.join();
    return 0;
}

} // namespace shim::serve
