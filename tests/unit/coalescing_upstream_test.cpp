// The coalescing layer over a scripted upstream that holds its answers, so that requests are really in
// flight together: one call below for identical requests, and an answer for every waiter whatever becomes of
// the leader's call.
#include "fake_upstream.hpp"
#include "layer_test_support.hpp"
#include "ops/metrics.hpp"
#include "serve/server_state.hpp"
#include "upstream/coalescing_upstream.hpp"

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>
#include <boost/test/unit_test.hpp>
#include <stdexcept>

namespace {

using shim::upstream::CacheStatus;
using shim::upstream::Failure;
using test_support::answer_of;
using test_support::json_answer;
using test_support::run_ready;

const std::string target = "/api/v3/files/f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9";
const std::string body = R"({"data": {"type": "file"}})";

struct Rig {
    Rig() : throwing(fake), layer(throwing, metrics) { shim::serve::register_server_metrics(metrics); }
    std::shared_ptr<test_support::Outcome> start(const std::string& t, const std::string& key = "key-A",
                                                 boost::asio::cancellation_slot slot = {}) {
        return test_support::start(ioc, layer.get({t, key, "request-id", {}}), slot);
    }
    double coalesced() const {
        return test_support::metric_value(metrics, "sigma_shim_coalesced_requests_total");
    }

    boost::asio::io_context ioc;
    shim::ops::Metrics metrics;
    test_support::FakeUpstream fake;
    test_support::ThrowingUpstream throwing;
    shim::upstream::CoalescingUpstream layer;
};

} // namespace

BOOST_AUTO_TEST_SUITE(coalescing_upstream)

BOOST_AUTO_TEST_CASE(concurrent_identical_requests_share_one_call) {
    Rig rig;
    rig.fake.always(target, json_answer(200, body));
    rig.fake.hold();
    std::vector<std::shared_ptr<test_support::Outcome>> outcomes;
    for (int i = 0; i < 5; ++i)
        outcomes.push_back(rig.start(target));
    run_ready(rig.ioc);
    BOOST_TEST(rig.fake.count(target) == 1u);
    BOOST_TEST(rig.fake.waiting() == 1u);
    for (const auto& o : outcomes)
        BOOST_TEST(!o->done);

    rig.fake.release();
    run_ready(rig.ioc);
    unsigned misses = 0, coalesced = 0;
    for (const auto& o : outcomes) {
        const auto& r = answer_of(*o);
        BOOST_TEST(r.status == 200u);
        BOOST_TEST(r.body == body);
        misses += r.cache == CacheStatus::miss;
        coalesced += r.cache == CacheStatus::coalesced;
    }
    BOOST_TEST(misses == 1u); // the leader's own answer
    BOOST_TEST(coalesced == 4u);
    BOOST_TEST(rig.coalesced() == 4);
    BOOST_TEST(test_support::metric_value(rig.metrics, "sigma_shim_upstream_calls_saved_total") == 4);

    // Once the call is over, the next request makes its own.
    const auto later = rig.start(target);
    run_ready(rig.ioc);
    BOOST_TEST((answer_of(*later).cache == CacheStatus::miss));
    BOOST_TEST(rig.fake.count(target) == 2u);
}

BOOST_AUTO_TEST_CASE(waiters_report_what_the_cache_said_of_the_shared_answer) {
    Rig rig;
    auto hit = json_answer(200, body);
    hit.cache = CacheStatus::hit;
    auto stale = json_answer(200, body);
    stale.cache = CacheStatus::stale;
    rig.fake.always("/api/v3/files/hit", hit);
    rig.fake.always("/api/v3/files/stale", stale);
    rig.fake.hold();
    const auto hit_leader = rig.start("/api/v3/files/hit");
    const auto hit_waiter = rig.start("/api/v3/files/hit");
    const auto stale_leader = rig.start("/api/v3/files/stale");
    const auto stale_waiter = rig.start("/api/v3/files/stale");
    run_ready(rig.ioc);
    rig.fake.release();
    run_ready(rig.ioc);
    BOOST_TEST((answer_of(*hit_leader).cache == CacheStatus::hit));
    BOOST_TEST((answer_of(*hit_waiter).cache == CacheStatus::hit)); // as good as the leader's
    BOOST_TEST((answer_of(*stale_leader).cache == CacheStatus::stale));
    BOOST_TEST((answer_of(*stale_waiter).cache == CacheStatus::coalesced));
}

BOOST_AUTO_TEST_CASE(different_keys_and_targets_are_not_coalesced) {
    Rig rig;
    rig.fake.always(target, json_answer(200, body));
    rig.fake.hold();
    const auto a = rig.start(target, "key-A");
    const auto b = rig.start(target, "key-B");
    const auto other = rig.start(target + "/behaviours", "key-A");
    run_ready(rig.ioc);
    BOOST_TEST(rig.fake.waiting() == 3u);
    rig.fake.release();
    run_ready(rig.ioc);
    for (const auto& o : {a, b, other})
        BOOST_TEST((answer_of(*o).cache == CacheStatus::miss));
    BOOST_TEST(rig.fake.count(target) == 2u);
    BOOST_TEST(rig.fake.requests.at(0).api_key == "key-A");
    BOOST_TEST(rig.fake.requests.at(1).api_key == "key-B");
    BOOST_TEST(rig.coalesced() == 0);
}

BOOST_AUTO_TEST_CASE(a_failure_answer_of_the_leader_is_shared) {
    Rig rig;
    rig.fake.once(target, test_support::failure_answer(Failure::deadline));
    rig.fake.always(target, json_answer(200, body));
    rig.fake.hold();
    std::vector<std::shared_ptr<test_support::Outcome>> outcomes;
    for (int i = 0; i < 3; ++i)
        outcomes.push_back(rig.start(target));
    run_ready(rig.ioc);
    rig.fake.release();
    run_ready(rig.ioc);
    for (const auto& o : outcomes)
        BOOST_TEST((answer_of(*o).failure == Failure::deadline));
    BOOST_TEST(rig.fake.count(target) == 1u);
}

BOOST_AUTO_TEST_CASE(a_leader_whose_call_throws_or_is_cancelled_still_answers_its_waiters) {
    const std::vector<std::exception_ptr> errors = {
        std::make_exception_ptr(std::runtime_error("broken below")),
        std::make_exception_ptr(boost::system::system_error(boost::asio::error::operation_aborted)),
    };
    for (std::size_t i = 0; i < errors.size(); ++i) {
        BOOST_TEST_CONTEXT("error " << i) {
            Rig rig;
            rig.fake.always(target, json_answer(200, body));
            rig.throwing.arm(errors[i]);
            rig.fake.hold();
            std::vector<std::shared_ptr<test_support::Outcome>> outcomes;
            for (int n = 0; n < 3; ++n)
                outcomes.push_back(rig.start(target));
            run_ready(rig.ioc);
            BOOST_TEST(rig.fake.waiting() == 1u);
            rig.fake.release();
            run_ready(rig.ioc);
            for (const auto& o : outcomes) {
                const auto& r = answer_of(*o); // no exception, no request left hanging
                BOOST_TEST((r.failure == Failure::transient));
                BOOST_TEST(r.status == 0u);
            }

            // The failed call is not left in flight: the next request makes a call of its own.
            rig.throwing.disarm();
            const auto after = rig.start(target);
            run_ready(rig.ioc);
            BOOST_TEST(answer_of(*after).status == 200u);
            BOOST_TEST(rig.fake.count(target) == 2u);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_cancelled_waiter_gets_a_failure_and_the_others_the_answer) {
    Rig rig;
    rig.fake.always(target, json_answer(200, body));
    rig.fake.hold();
    boost::asio::cancellation_signal cancel;
    const auto leader = rig.start(target);
    const auto cancelled = rig.start(target, "key-A", cancel.slot());
    const auto waiter = rig.start(target);
    run_ready(rig.ioc);
    BOOST_TEST(!cancelled->done);

    cancel.emit(boost::asio::cancellation_type::terminal);
    run_ready(rig.ioc);
    BOOST_TEST((answer_of(*cancelled).failure == Failure::transient)); // before the leader has a result
    BOOST_TEST(!leader->done);
    BOOST_TEST(!waiter->done);

    rig.fake.release();
    run_ready(rig.ioc);
    BOOST_TEST(answer_of(*leader).body == body);
    BOOST_TEST(answer_of(*waiter).body == body);
    BOOST_TEST((answer_of(*waiter).cache == CacheStatus::coalesced));
    BOOST_TEST(rig.fake.count(target) == 1u);
    BOOST_TEST(rig.coalesced() == 1); // the cancelled one shared nothing
}

BOOST_AUTO_TEST_SUITE_END()
