#include "upstream/retry_upstream.hpp"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace shim::upstream {

namespace asio = boost::asio;

std::chrono::milliseconds retry_backoff(std::chrono::milliseconds base_delay, unsigned attempt,
                                        double jitter) {
    // Shifting by 32 or more is undefined; a backoff of 2^30 base delays is already years.
    const double factor = static_cast<double>(1u << std::min(attempt, 30u));
    const double ms = static_cast<double>(base_delay.count()) * factor * jitter;
    return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(ms));
}

RetryUpstream::RetryUpstream(Upstream& next, RetryOptions options, ops::Metrics& metrics)
    : next_(next), options_(options), metrics_(metrics), random_(std::random_device{}()) {}

std::chrono::milliseconds RetryUpstream::backoff(unsigned attempt) {
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    double factor = 1;
    {
        std::lock_guard lock(random_mutex_);
        factor = jitter(random_);
    }
    return retry_backoff(options_.base_delay, attempt, factor);
}

asio::awaitable<UpstreamResponse> RetryUpstream::get(UpstreamRequest request) {
    for (unsigned attempt = 0;; ++attempt) {
        auto response = co_await next_.get(request);
        const bool transient =
            response.failure != Failure::none || response.status == 503 || response.status == 504;
        if (!transient || attempt >= options_.retries) co_return response;
        metrics_.inc("sigma_shim_upstream_retries_total");
        asio::steady_timer pause(co_await asio::this_coro::executor, backoff(attempt));
        boost::system::error_code ec;
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

} // namespace shim::upstream
