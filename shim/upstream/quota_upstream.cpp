#include "upstream/quota_upstream.hpp"

#include "sigma_analysis/errors.hpp"
#include "util/key_hash.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace shim::upstream {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

QuotaUpstream::QuotaUpstream(const serve::ServeConfig& config, ops::Metrics& metrics)
    : config_(config), metrics_(metrics),
      book_(economy::QuotaLimits{config.quota_per_minute, config.quota_per_day}) {}

void QuotaUpstream::publish(const std::string& book_key) {
    const auto left = book_.remaining(book_key, SteadyClock::now(), SystemClock::now());
    const std::string label = book_key.substr(0, 12); // the key's fingerprint, never the key
    if (left.minute) metrics_.set("sigma_shim_quota_remaining", *left.minute, {label, "minute"});
    if (left.day) metrics_.set("sigma_shim_quota_remaining", static_cast<double>(*left.day), {label, "day"});
}

asio::awaitable<std::optional<UpstreamResponse>> QuotaUpstream::admit(const std::string& api_key) {
    const std::string book_key = util::key_digest(api_key);
    std::chrono::milliseconds waited{0};
    for (;;) {
        const auto decision = book_.try_take(book_key, SteadyClock::now(), SystemClock::now());
        if (decision.allowed) {
            publish(book_key);
            co_return std::nullopt;
        }
        if (waited + decision.wait > config_.quota_wait) {
            UpstreamResponse refused;
            refused.status = 429;
            refused.content_type = "application/json";
            refused.body = sigma_analysis::error_body("QuotaExceededError",
                                                      "the " + decision.window +
                                                          " quota of this API key is used up (sigma-shim)");
            const auto seconds = (decision.wait.count() + 999) / 1000;
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

void QuotaUpstream::observe(const std::string& api_key, unsigned status, const std::string& retry_after) {
    if (status != 429) return;
    const auto wait =
        economy::parse_retry_after(retry_after, SystemClock::now()).value_or(std::chrono::seconds(60));
    book_.mark_exhausted(util::key_digest(api_key), SteadyClock::now() + wait);
}

} // namespace shim::upstream
