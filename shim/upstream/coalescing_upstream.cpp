#include "upstream/coalescing_upstream.hpp"

#include "util/key_hash.hpp"

#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <vector>

namespace shim::upstream {

namespace asio = boost::asio;
using Waiter = asio::experimental::concurrent_channel<void(boost::system::error_code)>;

// One upstream call in progress and the requests waiting for its answer.
struct CoalescingUpstream::Flight {
    std::shared_ptr<const UpstreamResponse> result;
    std::vector<std::shared_ptr<Waiter>> waiters;
};

asio::awaitable<UpstreamResponse> CoalescingUpstream::get(UpstreamRequest request) {
    const std::string key = util::key_digest(request.api_key) + " " + request.target;
    std::shared_ptr<Flight> flight;
    std::shared_ptr<Waiter> waiter;
    const auto executor = co_await asio::this_coro::executor;
    {
        std::lock_guard lock(mutex_);
        if (auto it = flights_.find(key); it != flights_.end()) {
            flight = it->second;
            waiter = std::make_shared<Waiter>(executor, 1);
            flight->waiters.push_back(waiter);
        } else {
            flight = std::make_shared<Flight>();
            flights_.emplace(key, flight);
        }
    }
    if (waiter) {
        boost::system::error_code ec;
        co_await waiter->async_receive(asio::redirect_error(asio::use_awaitable, ec));
        UpstreamResponse copy = *flight->result; // set before the waiter was woken
        if (copy.cache == CacheStatus::miss || copy.cache == CacheStatus::stale)
            copy.cache = CacheStatus::coalesced;
        metrics_.inc("sigma_shim_coalesced_requests_total");
        metrics_.inc("sigma_shim_upstream_calls_saved_total");
        co_return copy;
    }

    UpstreamResponse response;
    try {
        response = co_await next_.get(request);
    } catch (...) {
        response.failure = Failure::transient;
        response.failure_detail = "the upstream request failed inside the shim";
    }
    std::vector<std::shared_ptr<Waiter>> waiting;
    {
        std::lock_guard lock(mutex_);
        flight->result = std::make_shared<const UpstreamResponse>(response);
        waiting.swap(flight->waiters);
        flights_.erase(key);
    }
    for (const auto& w : waiting)
        w->try_send(boost::system::error_code{});
    co_return response;
}

} // namespace shim::upstream
