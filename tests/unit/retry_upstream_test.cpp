// The retry layer over a scripted upstream (with no pause between attempts), and its backoff as numbers.
#include "fake_upstream.hpp"
#include "layer_test_support.hpp"
#include "ops/metrics.hpp"
#include "serve/server_state.hpp"
#include "upstream/retry_upstream.hpp"

#include <boost/test/unit_test.hpp>

namespace {

using namespace std::chrono_literals;
using shim::upstream::Failure;
using shim::upstream::RetryOptions;
using shim::upstream::UpstreamResponse;
using test_support::failure_answer;
using test_support::json_answer;

struct Rig {
    explicit Rig(unsigned retries) : layer(fake, RetryOptions{retries, 0ms}, metrics) {
        shim::serve::register_server_metrics(metrics);
    }
    UpstreamResponse get(const std::string& target) {
        return test_support::run_to_end(ioc, layer.get({target, "key-A", "request-id", {}}));
    }
    double retries() const {
        return test_support::metric_value(metrics, "sigma_shim_upstream_retries_total");
    }

    boost::asio::io_context ioc;
    shim::ops::Metrics metrics;
    test_support::FakeUpstream fake;
    shim::upstream::RetryUpstream layer;
};

std::vector<UpstreamResponse> transient_answers() {
    return {failure_answer(Failure::transient), failure_answer(Failure::deadline),
            json_answer(503, R"({"error": {"code": "TransientError", "message": "later"}})"),
            json_answer(504, R"({"error": {"code": "DeadlineExceededError", "message": "slow"}})")};
}

} // namespace

BOOST_AUTO_TEST_SUITE(retry_upstream)

BOOST_AUTO_TEST_CASE(a_transient_failure_is_retried_until_an_answer) {
    const auto failures = transient_answers();
    for (std::size_t i = 0; i < failures.size(); ++i) {
        BOOST_TEST_CONTEXT("failure " << i) {
            Rig rig(2);
            rig.fake.once("/t", failures[i]);
            rig.fake.once("/t", failures[i]);
            rig.fake.always("/t", json_answer(200, "{}"));
            const auto r = rig.get("/t");
            BOOST_TEST(r.status == 200u);
            BOOST_TEST((r.failure == Failure::none));
            BOOST_TEST(rig.fake.count("/t") == 3u);
            BOOST_TEST(rig.retries() == 2);
        }
    }
}

BOOST_AUTO_TEST_CASE(after_the_last_retry_the_failure_is_returned) {
    const auto failures = transient_answers();
    for (unsigned retries : {0u, 1u, 3u}) {
        for (std::size_t i = 0; i < failures.size(); ++i) {
            BOOST_TEST_CONTEXT("retries " << retries << ", failure " << i) {
                Rig rig(retries);
                rig.fake.always("/t", failures[i]);
                const auto r = rig.get("/t");
                BOOST_TEST(r.status == failures[i].status);
                BOOST_TEST((r.failure == failures[i].failure));
                BOOST_TEST(rig.fake.count("/t") == retries + 1);
                BOOST_TEST(rig.retries() == retries);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(other_answers_are_not_retried) {
    const std::vector<UpstreamResponse> answers = {
        json_answer(200, "{}"),
        json_answer(404, R"({"error": {"code": "NotFoundError", "message": "no"}})"),
        json_answer(429, R"({"error": {"code": "QuotaExceededError", "message": "quota"}})"),
        json_answer(500, R"({"error": {"code": "InternalError", "message": "oops"}})"),
        json_answer(401, R"({"error": {"code": "WrongCredentialsError", "message": "key"}})"),
    };
    for (const auto& answer : answers) {
        BOOST_TEST_CONTEXT("status " << answer.status) {
            Rig rig(2);
            rig.fake.once("/t", answer);
            rig.fake.always("/t", json_answer(200, R"({"second": true})"));
            const auto r = rig.get("/t");
            BOOST_TEST(r.status == answer.status);
            BOOST_TEST(r.body == answer.body);
            BOOST_TEST(rig.fake.count("/t") == 1u);
            BOOST_TEST(rig.retries() == 0);
        }
    }
}

BOOST_AUTO_TEST_CASE(the_backoff_doubles_from_the_base_delay_scaled_by_the_jitter) {
    using shim::upstream::retry_backoff;
    BOOST_TEST(retry_backoff(200ms, 0, 1.0).count() == 200);
    BOOST_TEST(retry_backoff(200ms, 1, 1.0).count() == 400);
    BOOST_TEST(retry_backoff(200ms, 2, 1.0).count() == 800);
    BOOST_TEST(retry_backoff(200ms, 3, 1.0).count() == 1600);
    BOOST_TEST(retry_backoff(200ms, 2, 0.5).count() == 400);
    BOOST_TEST(retry_backoff(200ms, 2, 1.5).count() == 1200);
    BOOST_TEST(retry_backoff(0ms, 5, 1.5).count() == 0);
    // No overflow however many retries are configured: the doubling stops.
    BOOST_TEST(retry_backoff(1ms, 30, 1.0).count() == 1l << 30);
    BOOST_TEST(retry_backoff(1ms, 64, 1.0).count() == 1l << 30);
}

BOOST_AUTO_TEST_SUITE_END()
