#pragma once
// A layer of the upstream chain that counts and times what goes through it. Labels never carry ids or keys.
#include "ops/metrics.hpp"
#include "upstream/upstream.hpp"

namespace shim::serve {

class MeteredUpstream final : public upstream::Upstream {
public:
    MeteredUpstream(upstream::Upstream& next, ops::Metrics& metrics) : next_(next), metrics_(metrics) {}
    boost::asio::awaitable<upstream::UpstreamResponse> get(upstream::UpstreamRequest request) override;

private:
    upstream::Upstream& next_;
    ops::Metrics& metrics_;
};

// The status label of an upstream exchange: the HTTP status, or "timeout" / "error" when there was none.
std::string upstream_status_label(const upstream::UpstreamResponse& r);

} // namespace shim::serve
