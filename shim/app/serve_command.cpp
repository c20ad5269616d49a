#include "app/serve_command.hpp"

#include "app/team_access.hpp"
#include "app/upstream_chain.hpp"
#include "migrate/baseline_catalog.hpp"
#include "migrate/comparison_store.hpp"
#include "net/task_group.hpp"
#include "ops/sd_notify.hpp"
#include "serve/config.hpp"
#include "serve/migration_handler.hpp"
#include "serve/server.hpp"

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

namespace shim::app {
namespace {

namespace asio = boost::asio;
using serve::MigrationHandler;
using serve::ServeConfig;
using serve::Server;
using serve::ServerState;

std::string endpoint_text(const asio::ip::tcp::endpoint& e) {
    const auto address = e.address().to_string();
    return (e.address().is_v6() ? "[" + address + "]" : address) + ":" + std::to_string(e.port());
}

// On SIGTERM or SIGINT: stop accepting and close idle connections, answer readyz 503, let requests in
// flight and background comparisons finish within the drain timeout; past it, cancel them and wait until
// each has unwound. Then stop the in-process upstream, if any. When this returns, no coroutine is left.
asio::awaitable<void> drain(Server& server, ServerState& state, net::TaskGroup& background,
                            UpstreamChain& chain) {
    state.draining = true;
    server.stop_accepting();
    ops::sd_notify("STOPPING=1");
    state.log.write(ops::LogLevel::info, "draining",
                    {{"in_flight", static_cast<std::int64_t>(state.in_flight)},
                     {"background", static_cast<std::int64_t>(background.size())}});
    const auto deadline = std::chrono::steady_clock::now() + state.config.drain_timeout;
    const bool connections_closed = co_await server.wait_closed(deadline);
    const bool background_done = co_await background.wait_empty(deadline);
    std::int64_t abandoned = 0;
    if (!connections_closed || !background_done) {
        abandoned = static_cast<std::int64_t>(state.in_flight) + static_cast<std::int64_t>(background.size());
        state.log.write(ops::LogLevel::warn, "drain timeout: cancelling",
                        {{"in_flight", static_cast<std::int64_t>(state.in_flight)},
                         {"connections", static_cast<std::int64_t>(server.open_connections())},
                         {"background", static_cast<std::int64_t>(background.size())}});
        background.cancel(asio::cancellation_type::terminal);
        co_await server.cut_off();
        co_await background.wait_empty(std::chrono::steady_clock::time_point::max());
    }
    co_await chain.stop();
    state.log.write(ops::LogLevel::info, "stopped", {{"abandoned", abandoned}});
}

} // namespace

int run_serve(std::span<const std::string> args) {
    const auto parsed = serve::parse_serve_config(args, [](const char* name) { return std::getenv(name); });
    if (parsed.help) {
        std::cout << serve::serve_usage();
        return 0;
    }
    if (parsed.print_env_defaults) {
        std::cout << serve::env_defaults();
        return 0;
    }
    if (!parsed.error.empty()) {
        std::cerr << "sigma-shim serve: " << parsed.error << " (see sigma-shim serve --help)\n";
        return 2;
    }
    ServeConfig config = parsed.config;
    const auto server_key =
        serve::find_server_key(config, [](const char* name) { return std::getenv(name); });
    if (!server_key.error.empty()) {
        std::cerr << "sigma-shim serve: " << server_key.error << "\n";
        return 2;
    }
    if (const auto refused = serve::exposure_error(config, server_key.source); !refused.empty()) {
        std::cerr << "sigma-shim serve: " << refused << "\n";
        return 2;
    }
    TeamAccess team;
    if (const auto error = team.load(config); !error.empty()) {
        std::cerr << "sigma-shim serve: " << error << "\n";
        return 2;
    }
    ops::Logger log(std::cerr, config.log_level);
    ops::Metrics metrics;
    serve::register_server_metrics(metrics);
    serve::register_migration_metrics(metrics);
    std::signal(SIGPIPE, SIG_IGN);

    // What follows is destroyed in the reverse order of its declaration, and every coroutine has ended
    // before any of it goes (the drain waits until each task group is empty and the in-process upstream has
    // stopped), so no coroutine frame can outlive what it points at:
    //   server (acceptor, connection group) > state > migration handler > background comparisons >
    //   comparisons, baseline > chain (layers, the pool: idle connections closed once the threads have
    //   stopped) > io_contexts.
    // The io_contexts go last because every socket, timer and channel above belongs to one of them.

    // One io_context per thread, each run by its own thread. A client connection stays on one for its whole
    // life, so its reads, writes and timers never hand over between threads, and so do the upstream
    // connections it opens (the pool keeps them per io_context). The first also runs the acceptor, the
    // signals and the in-process upstream, if any.
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
        std::function<unsigned(const std::string&)> client_limit;
        if (const auto* tokens = team.client_tokens()) {
            client_limit = [tokens](const std::string& client) {
                return tokens->current()->quota_per_minute(client);
            };
        }
        chain = std::make_unique<UpstreamChain>(ioc, config, metrics, log, std::move(client_limit));
        if (!config.baseline_dir.empty())
            baseline = std::make_unique<migrate::BaselineCatalog>(config.baseline_dir);
    } catch (const std::exception& e) {
        std::cerr << "sigma-shim serve: " << e.what() << "\n";
        if (chain) { // the in-process upstream is serving: end it before its io_context goes
            asio::co_spawn(ioc, chain->stop(), asio::detached);
            ioc.run();
        }
        return 2;
    }
    migrate::ComparisonStore comparisons(config.keep_mismatches);
    net::TaskGroup background(
        [&log](std::exception_ptr) { log.write(ops::LogLevel::error, "background comparison failed"); });
    MigrationHandler migration(chain->legacy(), chain->objects(), chain->uncached(), config, metrics, log,
                               comparisons, baseline.get(), background);
    ServerState state{
        config,         log, metrics, chain->exchanger(), migration, chain->cache(), comparisons,
        server_key.key, {},  {}};

    state.tls = team.tls();
    state.client_tokens = team.client_tokens();
    if (chain->redis()) {
        state.redis_status = [&chain = *chain, url = config.redis->display()] {
            return url + " " + chain.redis_status();
        };
    }

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
        asio::co_spawn(ioc, chain->stop(), asio::detached);
        ioc.run();
        return 2;
    }
    // Signals are caught before the `listening` line: whoever waits for that line may send SIGTERM at once.
    // SIGHUP re-reads the certificate and the tokens; its wait ends when the drain begins, so that nothing
    // is left on the io_context.
    asio::signal_set reloads(ioc, SIGHUP);
    std::function<void(const boost::system::error_code&, int)> on_sighup =
        [&](const boost::system::error_code& ec, int) {
            if (ec) return;
            team.reload(log);
            reloads.async_wait(on_sighup);
        };
    reloads.async_wait(on_sighup);
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) return;
        reloads.cancel();
        asio::co_spawn(ioc, drain(server, state, background, *chain), asio::detached);
    });
    server.start();
    ops::LogFields listening{
        {"address", endpoint_text(bound)},
        {"upstream", config.upstream.origin},
        {"upstream_proxy",
         config.upstream_proxy.proxy ? config.upstream_proxy.proxy->display() : std::string("none")},
        {"upstream_proxy_reason", config.upstream_proxy.reason},
        {"redis", config.redis ? config.redis->display() : std::string("none")},
        {"replicas", static_cast<std::int64_t>(config.replicas)},
        {"threads", static_cast<std::int64_t>(config.threads)},
        {"mode", std::string(serve::mode_name(config.mode))},
        {"server_key", state.server_key.empty() ? std::string("none") : std::string("configured")},
        {"server_key_source", server_key.source.empty() ? std::string("none") : server_key.source}};
    team.describe(listening);
    log.write(ops::LogLevel::info, "listening", listening);
    if (team.tls() && team.tls()->certificate().expired)
        log.write(ops::LogLevel::warn,
                  "the TLS certificate has expired: clients that check it will refuse it",
                  {{"tls_not_after", team.tls()->certificate().not_after}});
    // systemd (Type=notify) starts the units that wait for this one now, not when the process started.
    const auto status = "READY=1\nSTATUS=listening on " + endpoint_text(bound);
    ops::sd_notify(status);

    // The others have nothing to do until a connection comes: they must not return from run() before. The
    // first returns once the drain is over (nothing is left on it), then lets the others return too.
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < config.threads; ++i) {
        keep_running.push_back(asio::make_work_guard(*contexts[i]));
        threads.emplace_back([&context = *contexts[i]] { context.run(); });
    }
    ioc.run();
    keep_running.clear();
    for (auto& t : threads)
        t.join();
    chain->close_idle_connections();
    return 0;
}

} // namespace shim::app
