#include "serve/serve_command.hpp"

#include "migrate/baseline_catalog.hpp"
#include "migrate/comparison_store.hpp"
#include "serve/config.hpp"
#include "serve/migration_handler.hpp"
#include "serve/server.hpp"
#include "serve/upstream_chain.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
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
asio::awaitable<void> drain(asio::io_context& ioc, Server& server, ServerState& state,
                            std::vector<std::unique_ptr<asio::io_context>>& contexts) {
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
    for (auto& context : contexts)
        context->stop();
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
    const char* server_key = std::getenv(config.api_key_env.c_str());
    if (const auto refused = exposure_error(config, server_key && *server_key); !refused.empty()) {
        std::cerr << "sigma-shim serve: " << refused << "\n";
        return 2;
    }
    ops::Logger log(std::cerr, config.log_level);
    ops::Metrics metrics;
    register_server_metrics(metrics);
    register_migration_metrics(metrics);
    std::signal(SIGPIPE, SIG_IGN);

    // One io_context per thread, each run by its own thread. A client connection stays on one for its whole
    // life, so its reads, writes and timers never hand over between threads: with one io_context shared by
    // two threads, completions woke the other thread all the time (113 against 81 us of CPU per pass-through
    // request). The first also runs the acceptor, the signals and the upstream chain's own servers.
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    for (unsigned i = 0; i < config.threads; ++i)
        contexts.push_back(std::make_unique<asio::io_context>(1));
    asio::io_context& ioc = *contexts.front();
    // Each context's reactor (epoll, eventfd, timerfd) is made now rather than with its first connection, so
    // the descriptors the process holds at rest are all there from the start.
    for (auto& context : contexts)
        asio::steady_timer{*context};
    std::unique_ptr<UpstreamChain> chain;
    std::unique_ptr<migrate::BaselineCatalog> baseline;
    try {
        chain = std::make_unique<UpstreamChain>(ioc, config, metrics, log);
        if (!config.baseline_dir.empty())
            baseline = std::make_unique<migrate::BaselineCatalog>(config.baseline_dir);
    } catch (const std::exception& e) {
        std::cerr << "sigma-shim serve: " << e.what() << "\n";
        return 2;
    }
    migrate::ComparisonStore comparisons(config.keep_mismatches);
    MigrationHandler migration(chain->legacy(), chain->objects(), chain->uncached(), config, metrics, log,
                               comparisons, baseline.get());
    ServerState state{config,
                      log,
                      metrics,
                      chain->pool(),
                      migration,
                      chain->quota(),
                      chain->cache(),
                      comparisons,
                      server_key ? server_key : "",
                      {},
                      {}};

    std::vector<asio::io_context*> connection_contexts;
    for (auto& context : contexts)
        connection_contexts.push_back(context.get());
    Server server(ioc, connection_contexts, state);
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
        if (!ec) asio::co_spawn(ioc, drain(ioc, server, state, contexts), asio::detached);
    });
    server.start();
    log.write(ops::LogLevel::info, "listening",
              {{"address", endpoint_text(bound)},
               {"upstream", config.upstream.origin},
               {"threads", static_cast<std::int64_t>(config.threads)},
               {"mode", std::string(mode_name(config.mode))},
               {"server_key", state.server_key.empty() ? std::string("none") : std::string("configured")}});

    // The others have nothing to do until a connection comes: they must not return from run() before.
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < config.threads; ++i) {
        keep_running.push_back(asio::make_work_guard(*contexts[i]));
        threads.emplace_back([&context = *contexts[i]] { context.run(); });
    }
    ioc.run();
    for (auto& t : threads)
        t.join();
    return 0;
}

} // namespace shim::serve
