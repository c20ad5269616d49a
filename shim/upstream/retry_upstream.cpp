#include "upstream/retry_upstream.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace shim::upstream {

namespace asio = boost::asio;

RetryUpstream::RetryUpstream(Upstream& next, unsigned retries, ops::Metrics& metrics,
                             std::chrono::milliseconds base_delay)
    : next_(next), retries_(retries), metrics_(metrics), base_delay_(base_delay),
      random_(std::random_device{}()) {}

std::chrono::milliseconds RetryUpstream::backoff(unsigned attempt) {
    std::lock_guard lock(random_mutex_);
    // Full delay doubles each time; the jitter (50% to 150%) keeps many clients from retrying in step.
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    const double ms =
        static_cast<double>(base_delay_.count()) * static_cast<double>(1u << attempt) * jitter(random_);
    return std::chrono::milliseconds(static_cast<long>(ms));
}

asio::awaitable<UpstreamResponse> RetryUpstream::get(UpstreamRequest request) {
    for (unsigned attempt = 0;; ++attempt) {
        auto response = co_await next_.get(request);
        const bool transient =
            response.failure != Failure::none || response.status == 503 || response.status == 504;
        if (!transient || attempt >= retries_) co_return response;
        metrics_.inc("sigma_shim_upstream_retries_total");
        asio::steady_timer pause(co_await asio::this_coro::executor, backoff(attempt));
        boost::system::error_code ec;
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

} // namespace shim::upstream
