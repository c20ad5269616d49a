#include "upstream/quota_guard.hpp"

#include "sigma_analysis/errors.hpp"
#include "util/key_hash.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace shim::upstream {

namespace asio = boost::asio;

QuotaGuard::QuotaGuard(QuotaOptions options, const Clock& clock, ops::Metrics& metrics)
    : options_(options), clock_(clock), metrics_(metrics),
      book_(economy::QuotaLimits{options.per_minute, options.per_day, options.per_month}) {}

void QuotaGuard::publish(const std::string& book_key) {
    const auto left = book_.remaining(book_key, clock_.steady_now(), clock_.wall_now());
    const std::string label = book_key.substr(0, 12); // the key's fingerprint, never the key
    // Requests that could go now in each window (the minute: per_minute less those of the last 60 s).
    const auto set = [&](const std::optional<unsigned>& value, const char* window) {
        if (value) metrics_.set("sigma_shim_quota_remaining", static_cast<double>(*value), {label, window});
    };
    set(left.minute, "minute");
    set(left.day, "day");
    set(left.month, "month");
}

asio::awaitable<std::optional<UpstreamResponse>> QuotaGuard::admit(const std::string& api_key) {
    const std::string book_key = util::key_digest(api_key);
    std::chrono::milliseconds waited{0};
    for (;;) {
        const auto decision = book_.try_take(book_key, clock_.steady_now(), clock_.wall_now());
        if (decision.allowed) {
            publish(book_key);
            co_return std::nullopt;
        }
        if (waited + decision.wait > options_.wait) {
            publish(book_key);
            UpstreamResponse refused;
            refused.status = 429;
            refused.content_type = "application/json";
            refused.body = sigma_analysis::error_body("QuotaExceededError",
                                                      "the " + decision.window +
                                                          " quota of this API key is used up (sigma-shim)");
            // Rounded up: the wait is exact, so a client that waits the whole seconds is admitted.
            const auto seconds = std::chrono::ceil<std::chrono::seconds>(decision.wait).count();
            refused.retry_after = std::to_string(std::max<long long>(1, seconds));
            refused.cache = CacheStatus::bypass;
            metrics_.inc("sigma_shim_quota_rejections_total", {book_key.substr(0, 12), decision.window});
            co_return refused;
        }
        asio::steady_timer pause(co_await asio::this_coro::executor, decision.wait);
        boost::system::error_code ec;
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        waited += decision.wait;
    }
}

void QuotaGuard::observe(const std::string& api_key, unsigned status, const std::string& retry_after) {
    if (status != 429) return;
    const auto wait = economy::parse_retry_after(retry_after, clock_.wall_now())
                          .value_or(economy::default_upstream_backoff);
    book_.mark_exhausted(util::key_digest(api_key), clock_.steady_now() + wait);
}

} // namespace shim::upstream
