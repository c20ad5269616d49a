#pragma once
// For the tests of the upstream layers, beside fake_upstream.hpp: many requests in flight at once on one
// io_context, an upstream below that throws, and the value of a metric.
#include "ops/metrics.hpp"
#include "upstream/upstream.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>
#include <exception>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

namespace test_support {

// How a started request ended, once it has.
struct Outcome {
    bool done = false;
    std::optional<shim::upstream::UpstreamResponse> response;
    std::exception_ptr error;
};

// Starts `task` on `ioc` without running anything; `slot`, when connected, can cancel it.
inline std::shared_ptr<Outcome> start(boost::asio::io_context& ioc,
                                      boost::asio::awaitable<shim::upstream::UpstreamResponse> task,
                                      boost::asio::cancellation_slot slot = {}) {
    auto outcome = std::make_shared<Outcome>();
    boost::asio::co_spawn(ioc, std::move(task),
                          boost::asio::bind_cancellation_slot(
                              slot, [outcome](std::exception_ptr e, shim::upstream::UpstreamResponse r) {
                                  outcome->done = true;
                                  outcome->error = e;
                                  if (!e) outcome->response = std::move(r);
                              }));
    return outcome;
}

// Runs every handler that is ready, and those they make ready, but does not wait for timers (a held
// FakeUpstream waits on one that never expires by itself).
inline void run_ready(boost::asio::io_context& ioc) {
    ioc.restart();
    while (ioc.poll() != 0) {
    }
}

// The response of a request that must have ended with one.
inline const shim::upstream::UpstreamResponse& answer_of(const Outcome& outcome) {
    BOOST_REQUIRE(outcome.done);
    BOOST_REQUIRE(!outcome.error);
    BOOST_REQUIRE(outcome.response);
    return *outcome.response;
}

// Passes each request to the upstream below and, while armed, throws `error` once that one has answered
// (so that a FakeUpstream's hold still holds the request first).
class ThrowingUpstream final : public shim::upstream::Upstream {
public:
    explicit ThrowingUpstream(shim::upstream::Upstream& next) : next_(next) {}
    void arm(std::exception_ptr error) { error_ = std::move(error); }
    void disarm() { error_ = nullptr; }

    boost::asio::awaitable<shim::upstream::UpstreamResponse>
    get(shim::upstream::UpstreamRequest request) override {
        auto response = co_await next_.get(std::move(request));
        if (error_) std::rethrow_exception(error_);
        co_return response;
    }

private:
    shim::upstream::Upstream& next_;
    std::exception_ptr error_;
};

// The value of one series in the metrics' text rendering, e.g. `name` or `name{kind="file",result="hit"}`;
// 0 when it is not there.
inline double metric_value(const shim::ops::Metrics& metrics, const std::string& series) {
    std::istringstream lines(metrics.render());
    for (std::string line; std::getline(lines, line);) {
        if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
            line[series.size()] == ' ')
            return std::stod(line.substr(series.size() + 1));
    }
    return 0;
}

} // namespace test_support
