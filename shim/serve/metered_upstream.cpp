#include "serve/metered_upstream.hpp"

#include <chrono>

namespace shim::serve {

std::string upstream_status_label(const upstream::UpstreamResponse& r) {
    switch (r.failure) {
    case upstream::Failure::deadline:
        return "timeout";
    case upstream::Failure::transient:
        return r.status ? std::to_string(r.status) : "error";
    case upstream::Failure::none:
        break;
    }
    return std::to_string(r.status);
}

boost::asio::awaitable<upstream::UpstreamResponse> MeteredUpstream::get(upstream::UpstreamRequest request) {
    const auto start = std::chrono::steady_clock::now();
    metrics_.gauge_add("sigma_shim_upstream_in_flight", 1);
    auto response = co_await next_.get(std::move(request));
    metrics_.gauge_add("sigma_shim_upstream_in_flight", -1);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    metrics_.inc("sigma_shim_upstream_requests_total", {"reconstruct", upstream_status_label(response)});
    metrics_.observe("sigma_shim_upstream_duration_seconds", took.count(), {"reconstruct"});
    co_return response;
}

} // namespace shim::serve
