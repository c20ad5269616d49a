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

namespace {

UpstreamResponse transient_failure(std::string detail) {
    UpstreamResponse r;
    r.failure = Failure::transient;
    r.failure_detail = std::move(detail);
    return r;
}

} // namespace

// One upstream call in progress and the requests waiting for its answer.
struct CoalescingUpstream::Flight {
    std::shared_ptr<const UpstreamResponse> result; // set under the layer's mutex before any waiter is woken
    std::vector<std::shared_ptr<Waiter>> waiters;
};

// Ends the leader's flight: whatever way the leader leaves (an answer, an exception caught below, or its
// coroutine destroyed while suspended), its waiters are woken with an answer and the key is free again.
class CoalescingUpstream::Landing {
public:
    Landing(CoalescingUpstream& layer, std::string key, std::shared_ptr<Flight> flight)
        : layer_(layer), key_(std::move(key)), flight_(std::move(flight)) {}
    Landing(const Landing&) = delete;
    Landing& operator=(const Landing&) = delete;
    ~Landing() {
        if (flight_) land(transient_failure("the shared upstream request was abandoned"));
    }

    void land(const UpstreamResponse& response) {
        std::vector<std::shared_ptr<Waiter>> waiting;
        {
            std::lock_guard lock(layer_.mutex_);
            flight_->result = std::make_shared<const UpstreamResponse>(response);
            waiting.swap(flight_->waiters);
            if (const auto it = layer_.flights_.find(key_);
                it != layer_.flights_.end() && it->second == flight_)
                layer_.flights_.erase(it);
        }
        flight_.reset();
        for (const auto& w : waiting)
            w->try_send(boost::system::error_code{});
    }

private:
    CoalescingUpstream& layer_;
    std::string key_;
    std::shared_ptr<Flight> flight_;
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
        // A wait that was cancelled or failed says nothing of the leader: its result may not exist yet.
        if (ec) co_return transient_failure("the wait for a shared upstream request ended: " + ec.message());
        std::shared_ptr<const UpstreamResponse> result;
        {
            std::lock_guard lock(mutex_);
            result = flight->result;
        }
        if (!result) co_return transient_failure("the shared upstream request gave no answer");
        UpstreamResponse copy = *result;
        if (copy.cache == CacheStatus::miss || copy.cache == CacheStatus::stale)
            copy.cache = CacheStatus::coalesced;
        metrics_.inc("sigma_shim_coalesced_requests_total");
        metrics_.inc("sigma_shim_upstream_calls_saved_total");
        co_return copy;
    }

    Landing landing(*this, key, flight);
    UpstreamResponse response;
    try {
        response = co_await next_.get(request);
    } catch (...) {
        // Also a cancellation of the leader: the waiters did not ask for it, but they get no answer either.
        response = transient_failure("the upstream request failed inside the shim");
    }
    landing.land(response);
    co_return response;
}

} // namespace shim::upstream
