#include "app/chain_runner.hpp"

#include "serve/server_state.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>

namespace shim::app {

ChainRunner::ChainRunner(serve::ServeConfig config, ops::LogLevel level)
    : config_(std::move(config)), log_(std::cerr, level), work_(ioc_.get_executor()) {
    serve::register_server_metrics(metrics_);
    chain_ = std::make_unique<UpstreamChain>(ioc_, config_, metrics_, log_);
    const char* key = std::getenv(config_.api_key_env.c_str());
    key_ = key ? key : "";
    runner_ = std::thread([this] { ioc_.run(); });
}

ChainRunner::~ChainRunner() {
    run(chain_->stop());
    work_.reset();
    runner_.join();
    chain_->close_idle_connections();
}

std::unique_ptr<ChainRunner> ChainRunner::make(std::span<const std::string> serve_args, std::string& error) {
    const auto parsed =
        serve::parse_serve_config(serve_args, [](const char* name) { return std::getenv(name); });
    if (!parsed.error.empty()) {
        error = parsed.error;
        return nullptr;
    }
    const bool level_given = std::any_of(serve_args.begin(), serve_args.end(),
                                         [](const std::string& a) { return a.starts_with("--log-level"); });
    const auto level = level_given ? parsed.config.log_level : ops::LogLevel::warn;
    try {
        auto r = std::make_unique<ChainRunner>(parsed.config, level);
        if (r->api_key().empty() && !parsed.config.upstream.demo) {
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
