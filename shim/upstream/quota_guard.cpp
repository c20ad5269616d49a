#include "upstream/quota_guard.hpp"

#include "sigma_analysis/errors.hpp"
#include "util/key_hash.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace shim::upstream {

namespace asio = boost::asio;

namespace {

// The local 429. Retry-After is the exact wait rounded up, so a client that waits the whole seconds is
// admitted.
UpstreamResponse refusal(const std::string& message, std::chrono::milliseconds wait) {
    UpstreamResponse refused;
    refused.status = 429;
    refused.content_type = "application/json";
    refused.body = sigma_analysis::error_body("QuotaExceededError", message);
    const auto seconds = std::chrono::ceil<std::chrono::seconds>(wait).count();
    refused.retry_after = std::to_string(std::max<long long>(1, seconds));
    refused.cache = CacheStatus::bypass;
    refused.local = true;
    return refused;
}

// A real timer, whatever the clock (see QuotaOptions::wait).
asio::awaitable<void> pause_for(std::chrono::milliseconds wait) {
    asio::steady_timer pause(co_await asio::this_coro::executor, wait);
    boost::system::error_code ec;
    co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

} // namespace

QuotaGuard::QuotaGuard(QuotaOptions options, const Clock& clock, ops::Metrics& metrics, SharedQuota* shared)
    : options_(options), clock_(clock), metrics_(metrics), shared_(shared),
      book_(replica_share(economy::QuotaLimits{options.per_minute, options.per_day, options.per_month},
                          options.replicas)) {}

void QuotaGuard::publish(const std::string& book_key, const economy::QuotaRemaining& left) {
    const std::string label = book_key.substr(0, 12); // the key's fingerprint, never the key
    // Requests that could go now in each window (the minute: per_minute less those of the last 60 s).
    const auto set = [&](const std::optional<unsigned>& value, const char* window) {
        if (value) metrics_.set("sigma_shim_quota_remaining", static_cast<double>(*value), {label, window});
    };
    set(left.minute, "minute");
    set(left.day, "day");
    set(left.month, "month");
}

asio::awaitable<SharedQuotaAnswer> QuotaGuard::decide(const std::string& book_key) {
    if (shared_) {
        const economy::QuotaLimits limits{options_.per_minute, options_.per_day, options_.per_month};
        auto answer = co_await shared_->try_take(book_key, limits);
        if (answer) {
            metrics_.inc("sigma_shim_shared_quota_decisions_total", {"redis"});
            co_return std::move(*answer);
        }
        metrics_.inc("sigma_shim_shared_quota_decisions_total", {"local"});
    }
    const auto steady = clock_.steady_now();
    const auto wall = clock_.wall_now();
    auto decision = book_.try_take(book_key, steady, wall);
    co_return SharedQuotaAnswer{std::move(decision), book_.remaining(book_key, steady, wall)};
}

asio::awaitable<std::optional<UpstreamResponse>> QuotaGuard::admit(const std::string& api_key,
                                                                  const std::string& client) {
    const std::string book_key = util::key_digest(api_key);
    std::chrono::milliseconds waited{0};
    const unsigned client_per_minute = client.empty() || !options_.client_limit ? 0 : options_.client_limit(client);
    while (client_per_minute > 0) {
        const auto wait = clients_.take(client, client_per_minute, clock_.steady_now());
        if (!wait) break;
        if (waited + *wait > options_.wait) {
            metrics_.inc("sigma_shim_quota_rejections_total", {book_key.substr(0, 12), "client_minute"});
            co_return refusal("client " + client + "'s quota-per-minute (" + std::to_string(client_per_minute) +
                                  ") is used up (sigma-shim)",
                              *wait);
        }
        co_await pause_for(*wait);
        waited += *wait;
    }
    for (;;) {
        const auto [decision, left] = co_await decide(book_key);
        publish(book_key, left);
        if (decision.allowed) co_return std::nullopt;
        if (waited + decision.wait > options_.wait) {
            metrics_.inc("sigma_shim_quota_rejections_total", {book_key.substr(0, 12), decision.window});
            co_return refusal("the " + decision.window + " quota of this API key is used up (sigma-shim)",
                              decision.wait);
        }
        co_await pause_for(decision.wait);
        waited += decision.wait;
    }
}

asio::awaitable<void> QuotaGuard::observe(const std::string& api_key, unsigned status,
                                          const std::string& retry_after) {
    if (status != 429) co_return;
    const auto wait = economy::parse_retry_after(retry_after, clock_.wall_now())
                          .value_or(economy::default_upstream_backoff);
    const std::string book_key = util::key_digest(api_key);
    // Kept here too, for when the shared ledger stops answering.
    book_.mark_exhausted(book_key, clock_.steady_now() + wait);
    if (shared_) co_await shared_->mark_exhausted(book_key, wait);
}

} // namespace shim::upstream
