#include "app/compare_reconstructor.hpp"

#include "app/upstream_chain.hpp"
#include "serve/legacy_handler.hpp"
#include "serve/migration_handler.hpp"
#include "serve/router.hpp"
#include "serve/server_state.hpp"
#include "util/key_hash.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdlib>
#include <iostream>
#include <thread>

namespace shim::app {
namespace {

namespace asio = boost::asio;
using serve::comparable;
using serve::error_answer;
using serve::HttpAnswer;
using serve::LegacyHandler;
using serve::LegacyRequest;
using serve::Route;
using serve::RouteClass;
using serve::ServeConfig;

// The request is the coroutine's own: it lives in its frame while the handler awaits.
asio::awaitable<HttpAnswer> handle(LegacyHandler& legacy, LegacyRequest request) {
    co_return co_await legacy.handle(request);
}

// Reconstructions through the chain `serve` uses, on an io_context of its own run by one thread; each call
// waits for its answer, so recorded answers are reconstructed one after another (the quota flags pace them).
class ChainReconstructor final : public cli::Reconstructor {
public:
    ChainReconstructor(ServeConfig config, ops::LogLevel level)
        : config_(std::move(config)), log_(std::cerr, level), work_(ioc_.get_executor()) {
        serve::register_server_metrics(metrics_);
        chain_ = std::make_unique<UpstreamChain>(ioc_, config_, metrics_, log_);
        const char* key = std::getenv(config_.api_key_env.c_str());
        key_ = key ? key : "";
        runner_ = std::thread([this] { ioc_.run(); });
    }

    // The in-process upstream's server, if any, ends first; then the thread, once nothing is left to run.
    ~ChainReconstructor() override {
        asio::co_spawn(ioc_, chain_->stop(), asio::use_future).get();
        work_.reset();
        runner_.join();
        chain_->close_idle_connections();
    }

    bool has_key() const { return !key_.empty(); }

    compare::Answer reconstruct(std::string_view target) override {
        Route route = serve::route_request("GET", target);
        if (route.route_class != RouteClass::legacy) {
            HttpAnswer refused = error_answer("InvalidArgumentError", "not a legacy Sigma route");
            return comparable(refused);
        }
        LegacyRequest request{std::move(route), key_, util::new_request_id(), std::string(target), {}};
        const HttpAnswer answer =
            asio::co_spawn(ioc_, handle(chain_->legacy(), std::move(request)), asio::use_future).get();
        return comparable(answer);
    }

private:
    ServeConfig config_;
    ops::Logger log_;
    ops::Metrics metrics_;
    asio::io_context ioc_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    std::unique_ptr<UpstreamChain> chain_;
    std::string key_;
    std::thread runner_;
};

} // namespace

std::unique_ptr<cli::Reconstructor> make_compare_reconstructor(std::span<const std::string> serve_args,
                                                               std::string& error) {
    const auto parsed =
        serve::parse_serve_config(serve_args, [](const char* name) { return std::getenv(name); });
    if (!parsed.error.empty()) {
        error = parsed.error;
        return nullptr;
    }
    // Quiet unless asked: the report is the output.
    const bool level_given = std::any_of(serve_args.begin(), serve_args.end(),
                                         [](const std::string& a) { return a.starts_with("--log-level"); });
    const auto level = level_given ? parsed.config.log_level : ops::LogLevel::warn;
    try {
        auto r = std::make_unique<ChainReconstructor>(parsed.config, level);
        if (!r->has_key() && !parsed.config.upstream.demo) {
            error = "no API key for " + parsed.config.upstream.origin + ": set " + parsed.config.api_key_env +
                    " (or name another variable with --api-key-env)";
            return nullptr;
        }
        return r;
    } catch (const std::exception& e) {
        error = e.what();
        return nullptr;
    }
}

} // namespace shim::app
