// The layer that shares fetched objects between replicas (shim/upstream/shared_upstream.hpp), over a store
// kept in memory (the layer's contract with Redis is the SharedStore interface; the real Redis is exercised
// end to end): one replica's fetch is every replica's hit, concurrent cold requests cost one upstream call, a
// dead owner's lock is taken over, failures are shared briefly, an unavailable store costs nothing but
// sharing.
#include "fake_upstream.hpp"
#include "ops/metrics.hpp"
#include "upstream/shared_upstream.hpp"
#include "upstream/upstream_metrics.hpp"
#include "util/key_hash.hpp"

#include <boost/test/unit_test.hpp>
#include <functional>
#include <map>
#include <utility>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using shim::upstream::CacheStatus;
using shim::upstream::Failure;
using shim::upstream::SharedResult;
using shim::upstream::SharedStatus;
using shim::upstream::UpstreamRequest;
using shim::upstream::UpstreamResponse;

// Redis as the layer uses it: values with a TTL (recorded, not run), SET NX locks with owners.
class MemoryStore final : public shim::upstream::SharedStore {
public:
    std::map<std::string, std::string> values;
    std::map<std::string, std::chrono::milliseconds> ttls;
    std::map<std::string, std::string> locks; // key -> owner
    bool available = true;
    int lock_attempts = 0;
    int ghost_lives = -1; // when >= 0: the lock held by "ghost" expires after this many more attempts
    std::function<void()> before_lock; // run once, at the next lock: what another replica did meanwhile

    asio::awaitable<SharedResult> get(std::string key) override {
        if (!available) co_return SharedResult{};
        const auto it = values.find(key);
        co_return it == values.end() ? SharedResult{SharedStatus::absent, {}}
                                     : SharedResult{SharedStatus::ok, it->second};
    }
    asio::awaitable<SharedResult> put(std::string key, std::string value,
                                      std::chrono::milliseconds ttl) override {
        if (!available) co_return SharedResult{};
        values[key] = std::move(value);
        ttls[key] = ttl;
        co_return SharedResult{SharedStatus::ok, {}};
    }
    asio::awaitable<SharedResult> lock(std::string key, std::string owner,
                                       std::chrono::milliseconds) override {
        if (!available) co_return SharedResult{};
        ++lock_attempts;
        if (auto meanwhile = std::exchange(before_lock, nullptr)) meanwhile();
        if (auto it = locks.find(key);
            it != locks.end() && it->second == "ghost" && ghost_lives >= 0 && ghost_lives-- == 0)
            locks.erase(it);
        const bool taken = locks.emplace(key, owner).second;
        co_return SharedResult{taken ? SharedStatus::ok : SharedStatus::absent, {}};
    }
    asio::awaitable<SharedResult> unlock(std::string key, std::string owner) override {
        if (!available) co_return SharedResult{};
        if (auto it = locks.find(key); it != locks.end() && it->second == owner) locks.erase(it);
        co_return SharedResult{SharedStatus::ok, {}};
    }
};

const std::string file_target =
    "/api/v3/files/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string key = "Secret-Key-Never-In-The-Store";

struct Rig {
    Rig() {
        shim::upstream::register_upstream_metrics(metrics);
        upstream.always(file_target, test_support::json_answer(200, R"({"data": {"type": "file"}})"));
    }
    std::unique_ptr<shim::upstream::SharedUpstream> replica(const std::string& name) {
        shim::upstream::SharedOptions options;
        options.poll = 1ms;
        options.owner = name;
        options.max_entry_bytes = max_entry_bytes;
        return std::make_unique<shim::upstream::SharedUpstream>(upstream, store, options, metrics);
    }
    asio::awaitable<UpstreamResponse> get(const std::unique_ptr<shim::upstream::SharedUpstream>& layer) {
        return layer->get(UpstreamRequest{file_target, key, "rid", {}});
    }

    asio::io_context ioc;
    shim::ops::Metrics metrics;
    test_support::FakeUpstream upstream;
    MemoryStore store;
    std::size_t max_entry_bytes = 4u << 20;
};

} // namespace

BOOST_AUTO_TEST_SUITE(shared_upstream)

BOOST_AUTO_TEST_CASE(what_one_replica_fetched_is_a_hit_at_the_others) {
    Rig rig;
    auto a = rig.replica("a");
    auto b = rig.replica("b");
    const auto first = test_support::run_to_end(rig.ioc, rig.get(a));
    BOOST_TEST(first.status == 200u);
    const auto second = test_support::run_to_end(rig.ioc, rig.get(b));
    BOOST_TEST(second.status == 200u);
    BOOST_TEST(second.body == first.body);
    BOOST_TEST((second.cache == CacheStatus::hit));
    BOOST_TEST(rig.upstream.requests.size() == 1u);
    BOOST_TEST(rig.store.locks.empty()); // freed by its owner
    // Stored under the key's SHA-256, never the key, with the object's TTL.
    BOOST_REQUIRE(rig.store.values.size() == 1u);
    const auto& stored_key = rig.store.values.begin()->first;
    BOOST_TEST(stored_key.find(key) == std::string::npos);
    BOOST_TEST(stored_key.find(shim::util::sha256_hex(key)) != std::string::npos);
    BOOST_TEST(rig.store.values.begin()->second.find(key) == std::string::npos);
    BOOST_TEST((rig.store.ttls.begin()->second == std::chrono::milliseconds(1h)));
}

BOOST_AUTO_TEST_CASE(concurrent_cold_requests_cost_one_upstream_call) {
    Rig rig;
    rig.upstream.hold();
    std::vector<std::unique_ptr<shim::upstream::SharedUpstream>> replicas;
    for (const char* name : {"a", "b", "c"})
        replicas.push_back(rig.replica(name));
    std::vector<std::shared_ptr<test_support::StartedTask<UpstreamResponse>>> tasks;
    for (auto& r : replicas)
        tasks.push_back(test_support::start_task(rig.ioc, rig.get(r)));
    // Run until the owner's fetch is held upstream and the others wait on its lock.
    // (Each step must run something: were every task to end first, the test fails rather than spins.)
    while (rig.upstream.waiting() == 0 || rig.store.lock_attempts < 6)
        BOOST_REQUIRE(rig.ioc.run_one() > 0);
    rig.upstream.release();
    rig.ioc.run();
    int coalesced = 0;
    for (auto& t : tasks) {
        BOOST_REQUIRE(t->done);
        const auto r = t->get();
        BOOST_TEST(r.status == 200u);
        coalesced += r.cache == CacheStatus::coalesced;
    }
    BOOST_TEST(coalesced == 2);
    BOOST_TEST(rig.upstream.requests.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_dead_owners_lock_is_taken_over_once_it_expires) {
    Rig rig;
    auto b = rig.replica("b");
    rig.store.locks["sigma-shim:lock:" + shim::util::sha256_hex(key) + ":" + file_target] = "ghost";
    rig.store.ghost_lives = 3; // the ghost's lock expires while b waits
    const auto r = test_support::run_to_end(rig.ioc, rig.get(b));
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(rig.upstream.requests.size() == 1u);
    BOOST_TEST(rig.store.lock_attempts == 4); // refused three times while the ghost held it, then taken
    BOOST_TEST(rig.store.values.size() == 1u);
}

BOOST_AUTO_TEST_CASE(an_object_stored_between_the_look_and_the_lock_is_not_fetched_again) {
    Rig rig;
    auto a = rig.replica("a");
    const auto object_key = "sigma-shim:obj:" + shim::util::sha256_hex(key) + ":" + file_target;
    // Between a's miss and a's lock, another replica fetched the object, stored it and freed its lock.
    rig.store.before_lock = [&] {
        rig.store.values[object_key] =
            shim::upstream::encode_shared_entry(test_support::json_answer(200, R"({"data": {"id": "b"}})"));
    };
    const auto r = test_support::run_to_end(rig.ioc, rig.get(a));
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body == R"({"data": {"id": "b"}})");
    BOOST_TEST((r.cache == CacheStatus::hit));
    BOOST_TEST(rig.upstream.requests.empty());
    BOOST_TEST(rig.store.lock_attempts == 1);
    BOOST_TEST(rig.store.locks.empty()); // the lock a took is freed
}

BOOST_AUTO_TEST_CASE(a_failed_fetch_is_shared_briefly) {
    Rig rig;
    rig.upstream.once(file_target, test_support::failure_answer(Failure::transient));
    auto a = rig.replica("a");
    auto b = rig.replica("b");
    const auto first = test_support::run_to_end(rig.ioc, rig.get(a));
    BOOST_TEST((first.failure == Failure::transient));
    const auto second = test_support::run_to_end(rig.ioc, rig.get(b));
    BOOST_TEST((second.failure == Failure::transient));
    BOOST_TEST(rig.upstream.requests.size() == 1u);
    BOOST_TEST((rig.store.ttls.begin()->second == std::chrono::milliseconds(3s)));
}

BOOST_AUTO_TEST_CASE(an_unavailable_store_costs_sharing_not_answers) {
    Rig rig;
    rig.store.available = false;
    auto a = rig.replica("a");
    for (int i = 0; i < 2; ++i)
        BOOST_TEST(test_support::run_to_end(rig.ioc, rig.get(a)).status == 200u);
    BOOST_TEST(rig.upstream.requests.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_large_answer_is_served_not_shared) {
    Rig rig;
    rig.max_entry_bytes = 16;
    auto a = rig.replica("a");
    BOOST_TEST(test_support::run_to_end(rig.ioc, rig.get(a)).status == 200u);
    BOOST_TEST(rig.store.values.empty());
    BOOST_TEST(rig.store.locks.empty());
}

BOOST_AUTO_TEST_CASE(entries_of_another_version_are_misses) {
    UpstreamResponse r = test_support::json_answer(404, R"({"error": {"code": "NotFoundError"}})");
    r.failure_message = "";
    const auto entry = shim::upstream::encode_shared_entry(r);
    const auto back = shim::upstream::decode_shared_entry(entry);
    BOOST_REQUIRE(back);
    BOOST_TEST(back->status == 404u);
    BOOST_TEST(back->body == r.body);
    BOOST_TEST(back->content_type == "application/json");
    for (const std::string& bad :
         {std::string("sigma-shim/2") + entry.substr(12), std::string("sigma-shim/1"),
          std::string("sigma-shim/1 200 0"), std::string("sigma-shim/1 200 7\n\n\n"), std::string("garbage")})
        BOOST_TEST(!shim::upstream::decode_shared_entry(bad), bad);

    Rig rig;
    auto a = rig.replica("a");
    rig.store.values["sigma-shim:obj:" + shim::util::sha256_hex(key) + ":" + file_target] =
        "sigma-shim/9 200 0\n";
    BOOST_TEST(test_support::run_to_end(rig.ioc, rig.get(a)).status == 200u);
    BOOST_TEST(rig.upstream.requests.size() == 1u);
    BOOST_TEST(rig.store.values.begin()->second.starts_with("sigma-shim/1 200 0\n"));
}

BOOST_AUTO_TEST_SUITE_END()
