// The cache layer over a scripted upstream, with time moved by hand: freshness, negative entries, stale
// copies, aliases, per-key partitions, the byte budget.
#include "economy/byte_lru.hpp"
#include "fake_upstream.hpp"
#include "layer_test_support.hpp"
#include "ops/metrics.hpp"
#include "serve/server_state.hpp"
#include "upstream/cache_upstream.hpp"
#include "upstream/clock.hpp"
#include "util/key_hash.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>

namespace {

using namespace std::chrono_literals;
using shim::upstream::CacheOptions;
using shim::upstream::CacheStatus;
using shim::upstream::Failure;
using shim::upstream::UpstreamResponse;
using test_support::json_answer;

const std::string key_a = "key-A-0123456789";
const std::string key_b = "key-B-9876543210";

const std::string sha256 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9";
const std::string md5 = "2a0ac716254c23667b8a223a6e5f6e13";
const std::string sha1 = "65a887256974b896d27fe41065be91e029dc389b";

std::string file_body(const std::string& tag = "") {
    return R"({"data": {"type": "file", "id": ")" + sha256 + R"(", "attributes": {"sha256": ")" + sha256 +
           R"(", "md5": ")" + md5 + R"(", "sha1": ")" + sha1 + R"(", "tag": ")" + tag + R"("}}})";
}

struct Rig {
    explicit Rig(CacheOptions options = {})
        : lru(options.cache_bytes), cache(fake, options, clock, metrics, lru) {
        shim::serve::register_server_metrics(metrics);
    }
    UpstreamResponse get(const std::string& target, const std::string& key = key_a) {
        return test_support::run_to_end(ioc, cache.get({target, key, "request-id", {}}));
    }
    double cache_requests(const std::string& kind, const std::string& result) const {
        return test_support::metric_value(metrics, "sigma_shim_cache_requests_total{kind=\"" + kind +
                                                       "\",result=\"" + result + "\"}");
    }

    boost::asio::io_context ioc;
    shim::upstream::ManualClock clock;
    shim::ops::Metrics metrics;
    test_support::FakeUpstream fake;
    shim::economy::ByteLru lru;
    shim::upstream::CacheUpstream cache;
};

CacheOptions short_ttls() {
    CacheOptions o;
    o.ttl = 60s;
    o.negative_ttl = 30s;
    o.rule_ttl = 600s;
    o.stale_if_error = 3600s;
    return o;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cache_upstream)

BOOST_AUTO_TEST_CASE(a_200_is_a_hit_until_its_ttl_and_a_miss_from_then_on) {
    Rig rig(short_ttls());
    const std::string target = "/api/v3/files/" + sha256;
    rig.fake.always(target, json_answer(200, file_body()));
    const auto stored_at = rig.clock.steady_now();

    const auto first = rig.get(target);
    BOOST_TEST(first.status == 200u);
    BOOST_TEST(first.body == file_body());
    BOOST_TEST((first.cache == CacheStatus::miss));
    BOOST_TEST((first.fresh_until == stored_at + 60s));
    BOOST_TEST(rig.fake.count(target) == 1u);

    rig.clock.advance(60s - 1ms);
    const auto hit = rig.get(target);
    BOOST_TEST((hit.cache == CacheStatus::hit));
    BOOST_TEST(hit.body == first.body);
    BOOST_TEST(hit.content_type == "application/json");
    BOOST_TEST((hit.fresh_until == stored_at + 60s));
    BOOST_TEST(rig.fake.count(target) == 1u);

    rig.clock.advance(1ms);
    const auto refetched = rig.get(target);
    BOOST_TEST((refetched.cache == CacheStatus::miss));
    BOOST_TEST(rig.fake.count(target) == 2u);
    BOOST_TEST((refetched.fresh_until == rig.clock.steady_now() + 60s));
    BOOST_TEST(rig.cache_requests("file", "hit") == 1);
    BOOST_TEST(rig.cache_requests("file", "miss") == 2);
}

BOOST_AUTO_TEST_CASE(sigma_rules_keep_for_the_rule_ttl) {
    Rig rig(short_ttls());
    const std::string target = "/api/v3/sigma_rules/5c3ea6806114163b8cdf5735aeb07e70";
    rig.fake.always(target, json_answer(200, R"({"data": {"type": "sigma_rule"}})"));
    rig.get(target);
    rig.clock.advance(600s - 1ms); // far beyond the 60 s of other objects
    BOOST_TEST((rig.get(target).cache == CacheStatus::hit));
    rig.clock.advance(1ms);
    BOOST_TEST((rig.get(target).cache == CacheStatus::miss));
    BOOST_TEST(rig.fake.count(target) == 2u);
}

BOOST_AUTO_TEST_CASE(not_found_is_kept_for_the_negative_ttl) {
    Rig rig(short_ttls());
    const std::string target = "/api/v3/files/" + std::string(64, 'a'); // the fake's 404 NotFoundError
    const auto first = rig.get(target);
    BOOST_TEST(first.status == 404u);
    BOOST_TEST((first.cache == CacheStatus::miss));

    rig.clock.advance(30s - 1ms);
    const auto again = rig.get(target);
    BOOST_TEST(again.status == 404u);
    BOOST_TEST(again.body == first.body);
    BOOST_TEST((again.cache == CacheStatus::hit));
    BOOST_TEST(rig.fake.count(target) == 1u);

    rig.clock.advance(1ms);
    BOOST_TEST((rig.get(target).cache == CacheStatus::miss));
    BOOST_TEST(rig.fake.count(target) == 2u);
}

BOOST_AUTO_TEST_CASE(errors_are_never_kept) {
    Rig rig(short_ttls());
    const std::vector<UpstreamResponse> errors = {
        json_answer(503, R"({"error": {"code": "TransientError", "message": "later"}})"),
        json_answer(504, R"({"error": {"code": "DeadlineExceededError", "message": "slow"}})"),
        json_answer(429, R"({"error": {"code": "QuotaExceededError", "message": "quota"}})"),
        json_answer(500, R"({"error": {"code": "InternalError", "message": "oops"}})"),
        json_answer(401, R"({"error": {"code": "WrongCredentialsError", "message": "key"}})"),
        json_answer(404, R"({"error": {"code": "NotAvailableYet", "message": "not that 404"}})"),
        test_support::failure_answer(Failure::transient),
        test_support::failure_answer(Failure::deadline),
    };
    for (std::size_t i = 0; i < errors.size(); ++i) {
        BOOST_TEST_CONTEXT("error " << i) {
            const std::string target = "/api/v3/files/error" + std::to_string(i);
            rig.fake.always(target, errors[i]);
            for (unsigned n = 1; n <= 2; ++n) {
                const auto r = rig.get(target);
                BOOST_TEST(r.status == errors[i].status);
                BOOST_TEST((r.failure == errors[i].failure));
                BOOST_TEST((r.cache == CacheStatus::miss));
                BOOST_TEST(!r.fresh_until);
                BOOST_TEST(rig.fake.count(target) == n);
            }
        }
    }
    BOOST_TEST(rig.lru.entries() == 0u);
}

BOOST_AUTO_TEST_CASE(an_expired_copy_stands_in_for_a_failing_upstream_within_the_stale_window) {
    Rig rig(short_ttls());
    const std::string target = "/api/v3/files/" + sha256;
    rig.fake.always(target, json_answer(200, file_body("first")));
    rig.get(target);
    rig.clock.advance(60s);

    const std::vector<UpstreamResponse> failures = {
        json_answer(503, R"({"error": {"code": "TransientError", "message": "later"}})"),
        json_answer(504, R"({"error": {"code": "DeadlineExceededError", "message": "slow"}})"),
        json_answer(429, R"({"error": {"code": "QuotaExceededError", "message": "quota"}})"),
        test_support::failure_answer(Failure::transient),
        test_support::failure_answer(Failure::deadline),
    };
    for (std::size_t i = 0; i < failures.size(); ++i) {
        BOOST_TEST_CONTEXT("failure " << i) {
            rig.fake.once(target, failures[i]);
            const auto stale = rig.get(target);
            BOOST_TEST(stale.status == 200u);
            BOOST_TEST((stale.failure == Failure::none));
            BOOST_TEST(stale.body == file_body("first"));
            BOOST_TEST((stale.cache == CacheStatus::stale));
            BOOST_TEST(!stale.fresh_until);              // a stale copy promises nothing
            BOOST_TEST(rig.fake.count(target) == i + 2); // the upstream is always asked first
        }
    }
    BOOST_TEST(rig.cache_requests("file", "stale") == static_cast<double>(failures.size()));

    // Up to the end of the stale window (an hour after the TTL), and not from then on.
    rig.clock.advance(3600s - 1ms);
    rig.fake.once(target, json_answer(503, R"({"error": {"code": "TransientError", "message": "later"}})"));
    BOOST_TEST((rig.get(target).cache == CacheStatus::stale));
    rig.clock.advance(1ms);
    rig.fake.once(target, json_answer(503, R"({"error": {"code": "TransientError", "message": "later"}})"));
    const auto failed = rig.get(target);
    BOOST_TEST(failed.status == 503u);
    BOOST_TEST((failed.cache == CacheStatus::miss));
}

BOOST_AUTO_TEST_CASE(an_expired_copy_is_replaced_when_the_upstream_answers) {
    Rig rig(short_ttls());
    const std::string target = "/api/v3/files/" + sha256;
    rig.fake.once(target, json_answer(200, file_body("first")));
    rig.fake.always(target, json_answer(200, file_body("second")));
    rig.get(target);
    rig.clock.advance(60s);
    const auto fresh = rig.get(target);
    BOOST_TEST((fresh.cache == CacheStatus::miss));
    BOOST_TEST(fresh.body == file_body("second"));
    BOOST_TEST((rig.get(target).cache == CacheStatus::hit));
    BOOST_TEST(rig.get(target).body == file_body("second"));
    BOOST_TEST(rig.fake.count(target) == 2u);
}

BOOST_AUTO_TEST_CASE(a_kept_not_found_is_never_served_stale) {
    Rig rig(short_ttls());
    const std::string target = "/api/v3/files/" + std::string(64, 'b');
    BOOST_TEST(rig.get(target).status == 404u);
    rig.clock.advance(30s);
    rig.fake.once(target, json_answer(503, R"({"error": {"code": "TransientError", "message": "later"}})"));
    const auto r = rig.get(target);
    BOOST_TEST(r.status == 503u);
    BOOST_TEST((r.cache == CacheStatus::miss));
}

BOOST_AUTO_TEST_CASE(an_md5_or_sha1_request_learns_the_sha256_and_every_id_then_hits) {
    Rig rig(short_ttls());
    const std::string page = R"({"data": [{"type": "file_behaviour"}]})";
    // Only the MD5 is known to the fake: whatever is asked by another id must come from the cache.
    rig.fake.always("/api/v3/files/" + md5, json_answer(200, file_body()));
    rig.fake.always("/api/v3/files/" + md5 + "/behaviours", json_answer(200, page));

    // The behaviour page first, as when both are fetched together and the page comes back first.
    BOOST_TEST((rig.get("/api/v3/files/" + md5 + "/behaviours").cache == CacheStatus::miss));
    BOOST_TEST((rig.get("/api/v3/files/" + md5).cache == CacheStatus::miss));
    BOOST_TEST(rig.fake.requests.size() == 2u);

    for (const auto& id :
         {sha256, sha1, md5, std::string("F568A0362C238EBBADCA53FD4307DAC2FE209DDC6257FD300379EBC3C10261E9"),
          std::string("2A0AC716254C23667B8A223A6E5F6E13")}) {
        BOOST_TEST_CONTEXT("id " << id) {
            const auto file = rig.get("/api/v3/files/" + id);
            BOOST_TEST(file.status == 200u);
            BOOST_TEST((file.cache == CacheStatus::hit));
            BOOST_TEST(file.body == file_body());
            const auto behaviours = rig.get("/api/v3/files/" + id + "/behaviours");
            BOOST_TEST(behaviours.status == 200u);
            BOOST_TEST((behaviours.cache == CacheStatus::hit));
            BOOST_TEST(behaviours.body == page);
        }
    }
    BOOST_TEST(rig.fake.requests.size() == 2u);

    // The aliases are learnt per key too: another key asks the upstream.
    BOOST_TEST((rig.get("/api/v3/files/" + sha256, key_b).status == 404u));
}

BOOST_AUTO_TEST_CASE(each_key_has_its_own_entries_except_sigma_rules) {
    Rig rig(short_ttls());
    const std::string target = "/api/v3/files/" + sha256;
    rig.fake.once(target, json_answer(200, file_body("seen by A")));
    rig.fake.once(target, json_answer(200, file_body("seen by B")));

    BOOST_TEST(rig.get(target, key_a).body == file_body("seen by A"));
    const auto b = rig.get(target, key_b);
    BOOST_TEST((b.cache == CacheStatus::miss));
    BOOST_TEST(b.body == file_body("seen by B"));
    BOOST_TEST(rig.fake.count(target) == 2u);
    BOOST_TEST(rig.get(target, key_a).body == file_body("seen by A"));
    BOOST_TEST(rig.get(target, key_b).body == file_body("seen by B"));
    BOOST_TEST(rig.fake.count(target) == 2u);
    // The API key reaches the upstream as it came.
    BOOST_TEST(rig.fake.requests.at(0).api_key == key_a);
    BOOST_TEST(rig.fake.requests.at(1).api_key == key_b);

    const std::string rule = "/api/v3/sigma_rules/5c3ea6806114163b8cdf5735aeb07e70";
    rig.fake.always(rule, json_answer(200, R"({"data": {"type": "sigma_rule"}})"));
    BOOST_TEST((rig.get(rule, key_a).cache == CacheStatus::miss));
    BOOST_TEST((rig.get(rule, key_b).cache == CacheStatus::hit));
    BOOST_TEST((rig.get(rule, "").cache == CacheStatus::hit));
    BOOST_TEST(rig.fake.count(rule) == 1u);
}

BOOST_AUTO_TEST_CASE(the_least_recently_used_entry_goes_when_the_budget_is_full) {
    const std::string body(1000, ' ');
    const auto target = [](int i) { return "/api/v3/files/object" + std::to_string(i); };
    shim::economy::CachedObject probe;
    probe.body = body;
    probe.content_type = "application/json";
    probe.kind = "file";
    const auto entry =
        shim::economy::byte_lru_entry_size(shim::util::key_digest(key_a) + " " + target(1), probe);
    auto options = short_ttls();
    options.cache_bytes = 2 * entry + entry / 2; // room for two entries
    Rig rig(options);
    for (int i = 1; i <= 3; ++i)
        rig.fake.always(target(i), json_answer(200, body));

    rig.get(target(1));
    rig.get(target(2));
    BOOST_TEST(rig.lru.entries() == 2u);
    BOOST_TEST((rig.get(target(1)).cache == CacheStatus::hit)); // now 2 is the least recently used
    rig.get(target(3));
    BOOST_TEST(rig.lru.entries() == 2u);
    BOOST_TEST(rig.lru.bytes() <= options.cache_bytes);
    BOOST_TEST(test_support::metric_value(rig.metrics, "sigma_shim_cache_evictions_total") == 1);
    BOOST_TEST(test_support::metric_value(rig.metrics, "sigma_shim_cache_bytes") ==
               static_cast<double>(rig.lru.bytes()));

    BOOST_TEST((rig.get(target(1)).cache == CacheStatus::hit));
    BOOST_TEST((rig.get(target(3)).cache == CacheStatus::hit));
    BOOST_TEST((rig.get(target(2)).cache == CacheStatus::miss));
    BOOST_TEST(rig.fake.count(target(1)) == 1u);
    BOOST_TEST(rig.fake.count(target(2)) == 2u);
    BOOST_TEST(rig.fake.count(target(3)) == 1u);
}

BOOST_AUTO_TEST_CASE(an_answer_larger_than_the_budget_is_passed_on_but_not_kept) {
    auto options = short_ttls();
    options.cache_bytes = 600;
    Rig rig(options);
    const std::string target = "/api/v3/files/" + sha256;
    rig.fake.always(target, json_answer(200, file_body(std::string(1000, 'x'))));
    const auto r = rig.get(target);
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(!r.fresh_until); // nothing promised: it was not kept
    BOOST_TEST((rig.get(target).cache == CacheStatus::miss));
    BOOST_TEST(rig.fake.count(target) == 2u);
}

BOOST_AUTO_TEST_CASE(cache_bytes_0_keeps_nothing) {
    auto options = short_ttls();
    options.cache_bytes = 0;
    Rig rig(options);
    const std::string target = "/api/v3/files/" + sha256;
    rig.fake.always(target, json_answer(200, file_body()));
    const std::string missing = "/api/v3/files/" + std::string(64, 'c');
    for (unsigned n = 1; n <= 2; ++n) {
        const auto r = rig.get(target);
        BOOST_TEST(r.status == 200u);
        BOOST_TEST((r.cache == CacheStatus::miss));
        BOOST_TEST(!r.fresh_until);
        BOOST_TEST(rig.get(missing).status == 404u);
        BOOST_TEST(rig.fake.count(target) == n);
        BOOST_TEST(rig.fake.count(missing) == n);
    }
    BOOST_TEST(rig.lru.entries() == 0u);
    BOOST_TEST(rig.lru.bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(object_kinds_from_targets) {
    using shim::upstream::object_kind;
    BOOST_TEST(object_kind("/api/v3/files/abc") == "file");
    BOOST_TEST(object_kind("/api/v3/files/abc/behaviours?cursor=x") == "behaviours");
    BOOST_TEST(object_kind("/api/v3/sigma_rules/abc") == "sigma_rule");
    BOOST_TEST(object_kind("/api/v3/urls/abc") == "other");
}

BOOST_AUTO_TEST_SUITE_END()
