// The quota guard around a scripted upstream, as the exchanger puts it around every upstream request, with
// time moved by hand: the sliding minute, the UTC day and the UTC month as the guard applies them, its local
// 429 and exact Retry-After, the remaining-quota gauges, and an upstream 429 that stops a key until its
// Retry-After. (The window arithmetic itself is QuotaBook's, tested in economy_test.cpp against an oracle.)
#include "fake_upstream.hpp"
#include "layer_test_support.hpp"
#include "ops/metrics.hpp"
#include "serve/server_state.hpp"
#include "upstream/clock.hpp"
#include "upstream/quota_guard.hpp"
#include "util/key_hash.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

namespace {

using namespace std::chrono_literals;
using shim::upstream::CacheStatus;
using shim::upstream::ManualClock;
using shim::upstream::QuotaOptions;
using shim::upstream::UpstreamResponse;
using test_support::json_answer;

const std::string key_a = "key-A-0123456789";
const std::string key_b = "key-B-9876543210";

// What the exchanger does with the guard around each request: admit, ask, observe.
class Guarded final : public shim::upstream::Upstream {
public:
    Guarded(shim::upstream::Upstream& next, shim::upstream::QuotaGate& gate) : next_(next), gate_(gate) {}
    boost::asio::awaitable<UpstreamResponse> get(shim::upstream::UpstreamRequest request) override {
        if (auto refused = co_await gate_.admit(request.api_key, request.client)) co_return std::move(*refused);
        auto response = co_await next_.get(request);
        co_await gate_.observe(request.api_key, response.status, response.retry_after);
        co_return response;
    }

private:
    shim::upstream::Upstream& next_;
    shim::upstream::QuotaGate& gate_;
};

// A shared ledger standing in for Redis: its own book on the rig's clock, or no answer while `down`.
class FakeSharedQuota final : public shim::upstream::SharedQuota {
public:
    explicit FakeSharedQuota(const ManualClock& clock) : clock_(clock) {}
    boost::asio::awaitable<std::optional<shim::upstream::SharedQuotaAnswer>>
    try_take(std::string key, shim::economy::QuotaLimits limits) override {
        if (down) co_return std::nullopt;
        if (!book_) book_.emplace(limits);
        auto decision = book_->try_take(key, clock_.steady_now(), clock_.wall_now());
        co_return shim::upstream::SharedQuotaAnswer{
            decision, book_->remaining(key, clock_.steady_now(), clock_.wall_now())};
    }
    boost::asio::awaitable<bool> mark_exhausted(std::string key,
                                                std::chrono::milliseconds duration) override {
        if (down) co_return false;
        marks.emplace_back(key, duration);
        if (book_) book_->mark_exhausted(key, clock_.steady_now() + duration);
        co_return true;
    }

    bool down = false;
    std::vector<std::pair<std::string, std::chrono::milliseconds>> marks;

private:
    const ManualClock& clock_;
    std::optional<shim::economy::QuotaBook> book_;
};

// With a shared ledger: the guard asks `shared` first.
struct WithShared {};

struct Rig {
    explicit Rig(QuotaOptions options, ManualClock::WallTime wall = ManualClock().wall_now())
        : clock(wall), shared(clock), guard(options, clock, metrics), layer(fake, guard) {
        setup();
    }
    Rig(QuotaOptions options, WithShared)
        : shared(clock), guard(options, clock, metrics, &shared), layer(fake, guard) {
        setup();
    }
    void setup() {
        shim::serve::register_server_metrics(metrics);
        fake.always("/api/v3/files/a", json_answer(200, "{}"));
        fake.always("/api/v3/files/b", json_answer(200, "{}"));
    }
    UpstreamResponse get(const std::string& key, const std::string& target = "/api/v3/files/a") {
        return test_support::run_to_end(ioc, layer.get({target, key, "request-id", {}}));
    }

    boost::asio::io_context ioc;
    ManualClock clock;
    FakeSharedQuota shared;
    shim::ops::Metrics metrics;
    test_support::FakeUpstream fake;
    shim::upstream::QuotaGuard guard;
    Guarded layer;
};

// A local 429 as the layer gives it: QuotaExceededError naming the window, a Retry-After in whole seconds.
long refused_for(const UpstreamResponse& r, const std::string& window) {
    BOOST_TEST(r.status == 429u);
    BOOST_TEST(r.content_type == "application/json");
    BOOST_TEST((r.cache == CacheStatus::bypass));
    const auto doc = boost::json::parse(r.body);
    BOOST_TEST(doc.at("error").at("code").as_string() == "QuotaExceededError");
    BOOST_TEST(std::string(doc.at("error").at("message").as_string()).find("the " + window + " quota") !=
               std::string::npos);
    BOOST_REQUIRE(!r.retry_after.empty());
    return std::stol(r.retry_after);
}

} // namespace

BOOST_AUTO_TEST_SUITE(quota_guard)

BOOST_AUTO_TEST_CASE(no_limits_let_everything_through) {
    Rig rig(QuotaOptions{});
    for (int i = 0; i < 50; ++i)
        BOOST_TEST(rig.get(key_a).status == 200u);
    BOOST_TEST(rig.fake.requests.size() == 50u);
}

BOOST_AUTO_TEST_CASE(the_minute_window_refuses_locally_until_its_retry_after) {
    Rig rig(QuotaOptions{.per_minute = 2});
    BOOST_TEST(rig.get(key_a).status == 200u);
    BOOST_TEST(rig.get(key_a, "/api/v3/files/b").status == 200u);
    const auto refused = rig.get(key_a);
    const long retry_after = refused_for(refused, "minute");
    BOOST_TEST(retry_after == 60);              // until both have left the sliding minute
    BOOST_TEST(rig.fake.requests.size() == 2u); // a refused request never goes below
    BOOST_TEST(test_support::metric_value(rig.metrics, "sigma_shim_quota_rejections_total{key=\"" +
                                                           shim::util::key_digest(key_a).substr(0, 12) +
                                                           "\",window=\"minute\"}") == 1);

    rig.clock.advance(std::chrono::seconds(retry_after) - 1ms);
    refused_for(rig.get(key_a), "minute");
    BOOST_TEST(rig.fake.requests.size() == 2u);
    rig.clock.advance(1ms);
    BOOST_TEST(rig.get(key_a).status == 200u);
    BOOST_TEST(rig.fake.requests.size() == 3u);
}

// The issue's case: 4 a minute, four at 0 s; a token bucket let one through at 16 s and one at 31 s, the
// sliding minute refuses them with exactly the time until the first four leave it, and takes four more at 60
// s.
BOOST_AUTO_TEST_CASE(the_sliding_minute_of_the_issue) {
    Rig rig(QuotaOptions{.per_minute = 4});
    for (int i = 0; i < 4; ++i)
        BOOST_TEST(rig.get(key_a).status == 200u);
    rig.clock.advance(16s);
    BOOST_TEST(refused_for(rig.get(key_a), "minute") == 44);
    rig.clock.advance(15s); // 31 s
    BOOST_TEST(refused_for(rig.get(key_a), "minute") == 29);
    BOOST_TEST(rig.fake.requests.size() == 4u);
    rig.clock.advance(29s); // 60 s: the four have left the window
    for (int i = 0; i < 4; ++i)
        BOOST_TEST(rig.get(key_a).status == 200u);
    BOOST_TEST(refused_for(rig.get(key_a), "minute") == 60);
    BOOST_TEST(rig.fake.requests.size() == 8u);
    BOOST_TEST(test_support::metric_value(rig.metrics, "sigma_shim_quota_rejections_total{key=\"" +
                                                           shim::util::key_digest(key_a).substr(0, 12) +
                                                           "\",window=\"minute\"}") == 3);
}

BOOST_AUTO_TEST_CASE(retry_after_is_the_exact_wait_rounded_up_to_whole_seconds) {
    Rig rig(QuotaOptions{.per_minute = 1});
    BOOST_TEST(rig.get(key_a).status == 200u);
    // 400 ms later the wait is 59.6 s: Retry-After 60, and a client that waits exactly that is admitted...
    rig.clock.advance(400ms);
    BOOST_TEST(refused_for(rig.get(key_a), "minute") == 60);
    // ...while one second less is not enough (rounding down would have said 59).
    rig.clock.advance(59s); // 59.4 s: 600 ms left
    BOOST_TEST(refused_for(rig.get(key_a), "minute") == 1);
    rig.clock.advance(599ms); // 1 ms left: still a whole second
    BOOST_TEST(refused_for(rig.get(key_a), "minute") == 1);
    rig.clock.advance(1ms); // 60 s, as the first Retry-After said
    BOOST_TEST(rig.get(key_a).status == 200u);
    BOOST_TEST(rig.fake.requests.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_wait_shorter_than_the_next_free_request_is_refused_at_once) {
    // The next request is a minute away and the wait allows 500 ms: refused without waiting. Only ready
    // handlers are run, so a request that started a timer would not be done.
    Rig rig(QuotaOptions{.per_minute = 4, .wait = 500ms});
    for (int i = 0; i < 4; ++i)
        BOOST_TEST(rig.get(key_a).status == 200u);
    const auto fifth = test_support::start(rig.ioc, rig.layer.get({"/api/v3/files/a", key_a, "request-id", {}}));
    test_support::run_ready(rig.ioc);
    BOOST_REQUIRE(fifth->done);
    BOOST_TEST(refused_for(test_support::answer_of(*fifth), "minute") == 60);
    BOOST_TEST(rig.fake.requests.size() == 4u);
}

BOOST_AUTO_TEST_CASE(the_day_window_opens_again_at_midnight_utc) {
    // 23:59 UTC: the day's three requests are spent a minute before midnight.
    Rig rig(QuotaOptions{.per_day = 3}, ManualClock().wall_now() + 23h + 59min);
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(rig.get(key_a).status == 200u);
    BOOST_TEST(refused_for(rig.get(key_a), "day") == 60);

    rig.clock.advance(59s);
    BOOST_TEST(refused_for(rig.get(key_a), "day") == 1);
    BOOST_TEST(rig.fake.requests.size() == 3u);

    rig.clock.advance(1s); // 00:00 UTC
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(rig.get(key_a).status == 200u);
    BOOST_TEST(refused_for(rig.get(key_a), "day") == 24 * 3600);
    BOOST_TEST(rig.fake.requests.size() == 6u);
}

BOOST_AUTO_TEST_CASE(the_month_window_opens_again_on_the_first_utc) {
    // 31 January 2025, 23:59 UTC: the month's two requests are spent a minute before February.
    using namespace std::chrono;
    Rig rig(QuotaOptions{.per_month = 2}, sys_days{year{2025} / January / 31} + 23h + 59min);
    for (int i = 0; i < 2; ++i)
        BOOST_TEST(rig.get(key_a).status == 200u);
    BOOST_TEST(refused_for(rig.get(key_a), "month") == 60);
    rig.clock.advance(60s); // 1 February, 00:00 UTC
    for (int i = 0; i < 2; ++i)
        BOOST_TEST(rig.get(key_a).status == 200u);
    BOOST_TEST(refused_for(rig.get(key_a), "month") == 28 * 24 * 3600); // 2025 is no leap year
    BOOST_TEST(rig.fake.requests.size() == 4u);
}

BOOST_AUTO_TEST_CASE(the_remaining_quota_gauges_follow_every_window) {
    Rig rig(QuotaOptions{.per_minute = 2, .per_day = 10, .per_month = 100});
    const std::string key = shim::util::key_digest(key_a).substr(0, 12);
    const auto gauge = [&](const std::string& window) {
        const std::string series =
            "sigma_shim_quota_remaining{key=\"" + key + "\",window=\"" + window + "\"}";
        BOOST_REQUIRE(rig.metrics.render().find(series + " ") != std::string::npos);
        return test_support::metric_value(rig.metrics, series);
    };
    BOOST_TEST(rig.get(key_a).status == 200u);
    BOOST_TEST(gauge("minute") == 1);
    BOOST_TEST(gauge("day") == 9);
    BOOST_TEST(gauge("month") == 99);
    rig.clock.advance(30s);
    BOOST_TEST(rig.get(key_a).status == 200u);
    BOOST_TEST(gauge("minute") == 0);
    refused_for(rig.get(key_a), "minute"); // a refusal publishes too, and spends nothing
    BOOST_TEST(gauge("minute") == 0);
    BOOST_TEST(gauge("day") == 8);
    BOOST_TEST(gauge("month") == 98);
    rig.clock.advance(30s); // the first request has left the minute
    BOOST_TEST(rig.get(key_a).status == 200u);
    BOOST_TEST(gauge("minute") == 0);
    BOOST_TEST(gauge("day") == 7);
    rig.clock.advance(60s); // 120 s: the requests of 30 s and 60 s have left it too
    BOOST_TEST(rig.get(key_a).status == 200u);
    BOOST_TEST(gauge("minute") == 1);
    BOOST_TEST(gauge("month") == 96);
}

BOOST_AUTO_TEST_CASE(keys_have_their_own_windows) {
    Rig rig(QuotaOptions{.per_minute = 1});
    BOOST_TEST(rig.get(key_a).status == 200u);
    refused_for(rig.get(key_a), "minute");
    BOOST_TEST(rig.get(key_b).status == 200u);
    refused_for(rig.get(key_b), "minute");
    BOOST_REQUIRE(rig.fake.requests.size() == 2u);
    BOOST_TEST(rig.fake.requests[0].api_key == key_a);
    BOOST_TEST(rig.fake.requests[1].api_key == key_b);
}

BOOST_AUTO_TEST_CASE(an_upstream_429_stops_the_key_until_its_retry_after) {
    Rig rig(QuotaOptions{.per_minute = 100});
    auto quota =
        json_answer(429, R"({"error": {"code": "QuotaExceededError", "message": "Quota exceeded"}})");
    quota.retry_after = "5";
    rig.fake.once("/api/v3/files/a", quota);

    const auto passed = rig.get(key_a);
    BOOST_TEST(passed.status == 429u); // the upstream's own 429, passed on
    BOOST_TEST(passed.body == quota.body);
    BOOST_TEST(rig.fake.requests.size() == 1u);

    // Every target of that key is refused locally, another key is not.
    BOOST_TEST(refused_for(rig.get(key_a, "/api/v3/files/b"), "upstream") == 5);
    BOOST_TEST(rig.fake.requests.size() == 1u);
    BOOST_TEST(rig.get(key_b).status == 200u);

    rig.clock.advance(5s - 1ms);
    BOOST_TEST(refused_for(rig.get(key_a), "upstream") == 1);
    rig.clock.advance(1ms);
    BOOST_TEST(rig.get(key_a).status == 200u);
    BOOST_TEST(rig.fake.count("/api/v3/files/a") == 3u);
}

BOOST_AUTO_TEST_CASE(an_upstream_429_without_retry_after_stops_the_key_for_a_minute_even_without_limits) {
    Rig rig(QuotaOptions{});
    rig.fake.once("/api/v3/files/a", json_answer(429, R"({"error": {"code": "QuotaExceededError"}})"));
    BOOST_TEST(rig.get(key_a).status == 429u);
    BOOST_TEST(refused_for(rig.get(key_a), "upstream") == 60);
    rig.clock.advance(60s);
    BOOST_TEST(rig.get(key_a).status == 200u);
}

BOOST_AUTO_TEST_CASE(an_upstream_retry_after_date_is_read_against_the_wall_clock) {
    Rig rig(QuotaOptions{}); // the ManualClock's wall starts at Fri, 04 Oct 2024 00:00:00 UTC
    auto quota = json_answer(429, R"({"error": {"code": "QuotaExceededError"}})");
    quota.retry_after = "Fri, 04 Oct 2024 00:00:10 GMT";
    rig.fake.once("/api/v3/files/a", quota);
    BOOST_TEST(rig.get(key_a).status == 429u);
    BOOST_TEST(refused_for(rig.get(key_a), "upstream") == 10);
    rig.clock.advance(10s);
    BOOST_TEST(rig.get(key_a).status == 200u);
}

BOOST_AUTO_TEST_CASE(admit_and_observe_serve_pass_through_alone) {
    const std::string no_client;
    Rig rig(QuotaOptions{.per_minute = 1});
    const auto admit = [&](const std::string& key) {
        return test_support::run_to_end(rig.ioc, rig.guard.admit(key, no_client));
    };
    BOOST_TEST(!admit(key_a));
    const auto refused = admit(key_a);
    BOOST_REQUIRE(refused);
    refused_for(*refused, "minute");

    test_support::run_to_end(rig.ioc, rig.guard.observe(key_b, 200, ""));
    BOOST_TEST(!admit(key_b));
    rig.clock.advance(60s);
    test_support::run_to_end(rig.ioc, rig.guard.observe(key_b, 429, "30"));
    const auto stopped = admit(key_b);
    BOOST_REQUIRE(stopped);
    BOOST_TEST(refused_for(*stopped, "upstream") == 30);
    BOOST_TEST(rig.fake.requests.empty());
}

BOOST_AUTO_TEST_CASE(a_replica_share_is_the_floor_of_the_limit_and_at_least_one) {
    using shim::economy::QuotaLimits;
    using shim::upstream::replica_share;
    const auto same = [](QuotaLimits a, QuotaLimits b) {
        return a.per_minute == b.per_minute && a.per_day == b.per_day && a.per_month == b.per_month;
    };
    BOOST_TEST(same(replica_share({4, 500, 0}, 1), {4, 500, 0}));
    BOOST_TEST(same(replica_share({4, 500, 0}, 3), {1, 166, 0}));
    BOOST_TEST(same(replica_share({6, 2, 15'500}, 3), {2, 1, 5'166}));
    BOOST_TEST(same(replica_share({4, 0, 0}, 10), {1, 0, 0})); // at least 1; no limit stays none
}

BOOST_AUTO_TEST_CASE(the_shared_ledger_decides_for_the_whole_key_while_it_answers) {
    Rig rig(QuotaOptions{.per_minute = 6, .replicas = 3}, WithShared{});
    // The full limit of the key, not this replica's share of 2: the ledger counts every replica's requests.
    for (int i = 0; i < 6; ++i)
        BOOST_TEST(rig.get(key_a).status == 200u, "request " << i);
    BOOST_TEST(refused_for(rig.get(key_a), "minute") == 60);
    const auto text = rig.metrics.render();
    BOOST_TEST(text.find("sigma_shim_shared_quota_decisions_total{ledger=\"redis\"} 7") != std::string::npos,
               text);
}

BOOST_AUTO_TEST_CASE(without_an_answer_from_the_ledger_a_replica_keeps_to_its_share) {
    Rig rig(QuotaOptions{.per_minute = 6, .replicas = 3}, WithShared{});
    rig.shared.down = true;
    BOOST_TEST(rig.get(key_a).status == 200u);
    BOOST_TEST(rig.get(key_a).status == 200u);
    BOOST_TEST(refused_for(rig.get(key_a), "minute") == 60);
    const auto text = rig.metrics.render();
    BOOST_TEST(text.find("sigma_shim_shared_quota_decisions_total{ledger=\"local\"} 3") != std::string::npos,
               text);
    // Back: the ledger decides again.
    rig.shared.down = false;
    BOOST_TEST(rig.get(key_a).status == 200u);
}

BOOST_AUTO_TEST_CASE(an_upstream_429_is_recorded_in_the_shared_ledger_and_kept_locally) {
    Rig rig(QuotaOptions{.per_minute = 6, .replicas = 3}, WithShared{});
    test_support::run_to_end(rig.ioc, rig.guard.observe(key_a, 429, "30"));
    BOOST_REQUIRE_EQUAL(rig.shared.marks.size(), 1u);
    BOOST_TEST(rig.shared.marks[0].first == shim::util::key_digest(key_a)); // the fingerprint, never the key
    BOOST_TEST(rig.shared.marks[0].second.count() == 30'000);
    // Should the ledger stop answering, this replica still knows the key is stopped.
    rig.shared.down = true;
    BOOST_TEST(refused_for(rig.get(key_a), "upstream") == 30);
}

BOOST_AUTO_TEST_SUITE_END()
