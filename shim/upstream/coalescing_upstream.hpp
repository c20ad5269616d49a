#pragma once
// A layer of the upstream chain: concurrent identical requests (same key, same target) share one call below.
// The first (the leader) makes the call; the others wait for its answer. Whatever becomes of the leader's
// call (an answer, an exception, a cancellation), every waiter gets an answer: a transient failure when
// there is none to share, and also when its own wait is cancelled.
#include "ops/metrics.hpp"
#include "upstream/upstream.hpp"

#include <map>
#include <memory>
#include <mutex>

namespace shim::upstream {

class CoalescingUpstream final : public Upstream {
public:
    CoalescingUpstream(Upstream& next, ops::Metrics& metrics) : next_(next), metrics_(metrics) {}
    boost::asio::awaitable<UpstreamResponse> get(UpstreamRequest request) override;

private:
    struct Flight;
    class Landing;
    Upstream& next_;
    ops::Metrics& metrics_;
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<Flight>> flights_;
};

} // namespace shim::upstream
