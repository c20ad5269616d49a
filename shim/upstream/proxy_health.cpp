#include "upstream/proxy_health.hpp"

namespace shim::upstream {

std::string_view proxy_failure_name(ProxyFailure failure) {
    switch (failure) {
    case ProxyFailure::unreachable:
        return "unreachable";
    case ProxyFailure::refused:
        return "refused";
    case ProxyFailure::auth_required:
        return "auth_required";
    case ProxyFailure::closed:
        return "closed";
    case ProxyFailure::timeout:
        return "timeout";
    }
    return "unreachable";
}

void ProxyHealth::failed(ProxyFailure failure, const std::string& detail) {
    metrics_.inc("sigma_shim_upstream_proxy_errors_total", {std::string(proxy_failure_name(failure))});
    std::lock_guard lock(mutex_);
    if (failing_ == failure) return;
    failing_ = failure;
    if (log_)
        log_->write(
            ops::LogLevel::warn, "upstream proxy failing",
            {{"proxy", proxy_}, {"reason", std::string(proxy_failure_name(failure))}, {"detail", detail}});
}

void ProxyHealth::worked() {
    std::lock_guard lock(mutex_);
    const bool recovered = failing_.has_value();
    failing_.reset();
    if (recovered && log_) log_->write(ops::LogLevel::info, "upstream proxy working", {{"proxy", proxy_}});
}

} // namespace shim::upstream
