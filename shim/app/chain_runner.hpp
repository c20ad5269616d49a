#pragma once
// The upstream chain of `serve` for the offline commands (`compare --upstream`, `calibrate`): built from the
// serve flags they were given, on an io_context of its own that one thread runs; each call waits for its
// answer, so the commands' fetches go one after another (the quota flags pace them).
#include "app/upstream_chain.hpp"
#include "ops/log.hpp"
#include "ops/metrics.hpp"
#include "serve/config.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <memory>
#include <span>
#include <string>
#include <thread>

namespace shim::app {

class ChainRunner {
public:
    // Parses `serve_args` as serve options and builds the chain. Returns null and sets `error` (one line)
    // when they are not a good configuration, the chain cannot be built, or there is no API key for a real
    // upstream. Logs at warn unless --log-level is given: the command's report is its output.
    static std::unique_ptr<ChainRunner> make(std::span<const std::string> serve_args, std::string& error);

    ChainRunner(serve::ServeConfig config, ops::LogLevel level);
    // The in-process upstream's server, if any, ends first; then the thread, once nothing is left to run.
    ~ChainRunner();
    ChainRunner(const ChainRunner&) = delete;
    ChainRunner& operator=(const ChainRunner&) = delete;

    // Runs `task` on the chain's io_context and waits for its result.
    template <typename T>
    T run(boost::asio::awaitable<T> task) {
        return boost::asio::co_spawn(ioc_, std::move(task), boost::asio::use_future).get();
    }

    UpstreamChain& chain() { return *chain_; }
    const std::string& api_key() const { return key_; }

private:
    serve::ServeConfig config_;
    ops::Logger log_;
    ops::Metrics metrics_;
    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    std::unique_ptr<UpstreamChain> chain_;
    std::string key_;
    std::thread runner_;
};

} // namespace shim::app
