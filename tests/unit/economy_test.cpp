// The cache and quota bookkeeping: byte-bounded LRU order, eviction and freshness; the sliding-minute, UTC
// day and UTC month quotas with injected clocks (against a brute-force oracle of the rule); Retry-After
// parsing.
#include "economy/byte_lru.hpp"
#include "economy/quota_book.hpp"

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using shim::economy::ByteLru;
using shim::economy::CachedObject;
using shim::economy::QuotaBook;
using shim::economy::QuotaDecision;
using shim::economy::QuotaLimits;
using shim::economy::SteadyTime;
using shim::economy::SystemTime;
using std::chrono::milliseconds;
using std::chrono::seconds;

const SteadyTime t0 = SteadyTime{} + 1000h;

// 2024-03-10 at hh:mm:ss UTC.
SystemTime wall_at(int hh, int mm, int ss) {
    using namespace std::chrono;
    return sys_days{year{2024} / March / 10} + hours{hh} + minutes{mm} + seconds{ss};
}

// y-m-d at hh:mm:ss UTC.
SystemTime utc(int y, unsigned m, unsigned d, int hh, int mm, int ss) {
    using namespace std::chrono;
    return sys_days{year{y} / month{m} / day{d}} + hours{hh} + minutes{mm} + seconds{ss};
}

std::shared_ptr<const CachedObject> object(std::string body, std::string kind = "file",
                                           std::chrono::seconds fresh_for = 60s,
                                           std::chrono::seconds stale_for = 3600s) {
    auto made = std::make_shared<CachedObject>();
    made->body = std::move(body);
    made->content_type = "application/json";
    made->kind = std::move(kind);
    made->stored_at = t0;
    made->fresh_until = t0 + fresh_for;
    made->stale_until = t0 + stale_for;
    return made;
}

// What ByteLru charges for `body` of kind "file" under a one-character key.
std::size_t size_of(const std::string& body) {
    return 1 + body.size() + std::string("application/json").size() + std::string("file").size() + 128;
}

} // namespace

BOOST_AUTO_TEST_SUITE(economy)

// ---- ByteLru ----

BOOST_AUTO_TEST_CASE(lru_size_is_key_body_type_kind_and_overhead) {
    ByteLru cache(10'000);
    BOOST_TEST(cache.budget() == 10'000u);
    BOOST_TEST(cache.bytes() == 0u);
    BOOST_TEST(cache.put("k", object("12345"), t0) == 0u);
    BOOST_TEST(cache.bytes() == 1u + 5 + 16 + 4 + 128);
    BOOST_TEST(cache.entries() == 1u);
}

BOOST_AUTO_TEST_CASE(lru_find_refreshes_recency) {
    const std::size_t entry = size_of("body");
    ByteLru cache(3 * entry);
    BOOST_TEST(cache.put("a", object("body"), t0) == 0u);
    BOOST_TEST(cache.put("b", object("body"), t0) == 0u);
    BOOST_TEST(cache.put("c", object("body"), t0) == 0u);
    BOOST_TEST(cache.bytes() == 3 * entry);

    BOOST_TEST(cache.find("a", t0).object != nullptr); // a is now the most recently used; b the least
    BOOST_TEST(cache.put("d", object("body"), t0) == 1u);
    BOOST_TEST(cache.find("b", t0).object == nullptr);
    BOOST_TEST(cache.find("a", t0).object != nullptr);
    BOOST_TEST(cache.find("c", t0).object != nullptr);
    BOOST_TEST(cache.find("d", t0).object != nullptr);

    // Now the order, oldest first, is a c d: without touching a, it goes next.
    BOOST_TEST(cache.put("e", object("body"), t0) == 1u);
    BOOST_TEST(cache.find("a", t0).object == nullptr);
    BOOST_TEST(cache.entries() == 3u);
}

BOOST_AUTO_TEST_CASE(lru_eviction_keeps_bytes_within_budget_with_exact_counts) {
    const std::size_t small = size_of("x");
    ByteLru cache(5 * small);
    for (const char* key : {"a", "b", "c", "d", "e"})
        BOOST_TEST(cache.put(key, object("x"), t0) == 0u);
    BOOST_TEST(cache.bytes() == 5 * small);

    // An object as large as three small entries and a bit more needs four of them gone.
    const std::string big(3 * small - size_of("") + 1, 'y');
    BOOST_TEST(size_of(big) == 3 * small + 1);
    BOOST_TEST(cache.put("f", object(big), t0) == 4u);
    BOOST_TEST(cache.entries() == 2u);
    BOOST_TEST(cache.bytes() == small + size_of(big));
    BOOST_TEST(cache.bytes() <= cache.budget());
    BOOST_TEST(cache.find("e", t0).object != nullptr); // the most recent small one survives
    for (const char* key : {"a", "b", "c", "d"})
        BOOST_TEST(cache.find(key, t0).object == nullptr);

    // An object of exactly the whole budget fits, alone.
    const std::string whole(5 * small - size_of(""), 'z');
    BOOST_TEST(cache.put("g", object(whole), t0) == 2u);
    BOOST_TEST(cache.entries() == 1u);
    BOOST_TEST(cache.bytes() == cache.budget());
}

BOOST_AUTO_TEST_CASE(lru_replacing_a_key_adjusts_bytes) {
    ByteLru cache(100'000);
    cache.put("k", object("short"), t0);
    cache.put("j", object("other"), t0);
    BOOST_TEST(cache.bytes() == size_of("short") + size_of("other"));
    BOOST_TEST(cache.put("k", object(std::string(1000, 'L')), t0) == 0u);
    BOOST_TEST(cache.entries() == 2u);
    BOOST_TEST(cache.bytes() == size_of(std::string(1000, 'L')) + size_of("other"));
    BOOST_TEST(cache.find("k", t0).object->body.size() == 1000u);
    cache.put("k", object(""), t0);
    BOOST_TEST(cache.bytes() == size_of("") + size_of("other"));
}

BOOST_AUTO_TEST_CASE(lru_replacing_does_not_count_the_replaced_entry_as_evicted) {
    const std::size_t entry = size_of("body");
    ByteLru cache(2 * entry);
    cache.put("a", object("body"), t0);
    cache.put("b", object("body"), t0);
    BOOST_TEST(cache.put("a", object("body"), t0) == 0u);
    BOOST_TEST(cache.entries() == 2u);
    // a was refreshed by the replacement, so b is the least recently used.
    BOOST_TEST(cache.put("c", object("body"), t0) == 1u);
    BOOST_TEST(cache.find("b", t0).object == nullptr);
    BOOST_TEST(cache.find("a", t0).object != nullptr);
}

BOOST_AUTO_TEST_CASE(lru_oversize_object_is_not_stored) {
    const std::size_t entry = size_of("body");
    ByteLru cache(2 * entry);
    cache.put("a", object("body"), t0);
    cache.put("b", object("body"), t0);
    const std::string huge(2 * entry, 'h');
    BOOST_TEST(cache.put("c", object(huge), t0) == 0u);
    BOOST_TEST(cache.find("c", t0).object == nullptr);
    BOOST_TEST(cache.entries() == 2u);
    BOOST_TEST(cache.bytes() == 2 * entry);

    // An oversize replacement drops the superseded entry rather than keep serving it.
    BOOST_TEST(cache.put("a", object(huge), t0) == 0u);
    BOOST_TEST(cache.find("a", t0).object == nullptr);
    BOOST_TEST(cache.entries() == 1u);
    BOOST_TEST(cache.bytes() == entry);

    ByteLru empty(0);
    BOOST_TEST(empty.put("a", object(""), t0) == 0u);
    BOOST_TEST(empty.entries() == 0u);
    BOOST_TEST(empty.bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(lru_null_or_already_dead_object_is_not_stored) {
    ByteLru cache(100'000);
    BOOST_TEST(cache.put("a", nullptr, t0) == 0u);
    BOOST_TEST(cache.entries() == 0u);
    BOOST_TEST(cache.put("a", object("x", "file", 10s, 20s), t0 + 20s) == 0u);
    BOOST_TEST(cache.entries() == 0u);
    BOOST_TEST(cache.bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(lru_fresh_then_stale_then_dropped) {
    ByteLru cache(100'000);
    const auto stored = object("verdict", "file", 60s, 3600s);
    cache.put("k", stored, t0);

    auto hit = cache.find("k", t0 + 59s);
    BOOST_TEST(hit.object == stored); // the very same shared object, not a copy
    BOOST_TEST(hit.fresh);

    hit = cache.find("k", t0 + 60s);
    BOOST_TEST(hit.object == stored);
    BOOST_TEST(!hit.fresh);

    hit = cache.find("k", t0 + 3599s);
    BOOST_TEST(hit.object == stored);
    BOOST_TEST(!hit.fresh);

    hit = cache.find("k", t0 + 3600s);
    BOOST_TEST(hit.object == nullptr);
    BOOST_TEST(!hit.fresh);
    BOOST_TEST(cache.entries() == 0u);
    BOOST_TEST(cache.bytes() == 0u);
    // Once dropped it stays gone, even for an earlier time.
    BOOST_TEST(cache.find("k", t0).object == nullptr);
}

BOOST_AUTO_TEST_CASE(lru_a_cached_not_found_keeps_its_status) {
    ByteLru cache(100'000);
    auto not_found = std::make_shared<CachedObject>(*object(R"({"error":{"code":"NotFoundError"}})"));
    not_found->status = 404;
    cache.put("k", not_found, t0);
    BOOST_TEST(cache.find("k", t0).object->status == 404u);
}

BOOST_AUTO_TEST_CASE(lru_erase) {
    ByteLru cache(100'000);
    cache.put("a", object("one"), t0);
    cache.put("b", object("two"), t0);
    cache.erase("a");
    cache.erase("missing");
    BOOST_TEST(cache.find("a", t0).object == nullptr);
    BOOST_TEST(cache.entries() == 1u);
    BOOST_TEST(cache.bytes() == size_of("two"));
}

BOOST_AUTO_TEST_CASE(lru_stats_by_kind) {
    ByteLru cache(100'000);
    cache.put("f", object("aa", "file"), t0);
    cache.put("g", object("bbbb", "file"), t0);
    cache.put("r", object("rule", "sigma_rule"), t0);
    cache.put("h", object("b", "behaviours"), t0);
    const auto stats = cache.stats_by_kind();
    BOOST_TEST(stats.size() == 3u);
    BOOST_TEST(stats.at("file").entries == 2u);
    BOOST_TEST(stats.at("file").bytes == size_of("aa") + size_of("bbbb"));
    BOOST_TEST(stats.at("sigma_rule").entries == 1u);
    BOOST_TEST(stats.at("sigma_rule").bytes == 1u + 4 + 16 + 10 + 128);
    BOOST_TEST(stats.at("behaviours").entries == 1u);
    BOOST_TEST(stats.at("behaviours").bytes == 1u + 1 + 16 + 10 + 128);
    BOOST_TEST(stats.count("other") == 0u);

    std::size_t total = 0;
    for (const auto& [kind, kind_stats] : stats)
        total += kind_stats.bytes;
    BOOST_TEST(total == cache.bytes());
}

BOOST_AUTO_TEST_CASE(lru_concurrent_use_stays_within_budget) {
    const std::size_t budget = 20 * size_of("value");
    ByteLru cache(budget);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&cache, t] {
            for (int i = 0; i < 2000; ++i) {
                const std::string key = std::to_string((i * 7 + t) % 40);
                if (i % 3 == 0)
                    cache.find(key, t0);
                else if (i % 17 == 0)
                    cache.erase(key);
                else
                    cache.put(key, object("value" + std::to_string(i % 10)), t0);
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    BOOST_TEST(cache.bytes() <= budget);
    std::size_t total = 0;
    std::size_t entries = 0;
    for (const auto& [kind, kind_stats] : cache.stats_by_kind()) {
        total += kind_stats.bytes;
        entries += kind_stats.entries;
    }
    BOOST_TEST(total == cache.bytes());
    BOOST_TEST(entries == cache.entries());
}

// ---- QuotaBook ----

// The issue's case: 4 a minute, 4 requests at 0 s. A bucket would let one through at 16 s and one at 31 s; in
// the sliding minute nothing goes until the first four have left it, at exactly 60 s.
BOOST_AUTO_TEST_CASE(quota_sliding_minute_refuses_until_the_oldest_leaves_the_window) {
    QuotaBook book({4, 0});
    BOOST_TEST(book.enabled());
    const auto wall = wall_at(12, 0, 0);
    for (int i = 0; i < 4; ++i)
        BOOST_TEST(book.try_take("k", t0, wall).allowed);
    QuotaDecision refused = book.try_take("k", t0, wall);
    BOOST_TEST(!refused.allowed);
    BOOST_TEST(refused.window == "minute");
    BOOST_TEST(refused.wait.count() == 60'000);

    refused = book.try_take("k", t0 + 16s, wall);
    BOOST_TEST(!refused.allowed);
    BOOST_TEST(refused.window == "minute");
    BOOST_TEST(refused.wait.count() == 44'000);
    refused = book.try_take("k", t0 + 31s, wall);
    BOOST_TEST(!refused.allowed);
    BOOST_TEST(refused.wait.count() == 29'000);
    BOOST_TEST(*book.remaining("k", t0 + 31s, wall).minute == 0u);

    // Up to a nanosecond before 60 s the four are in the window; the wait is rounded up to 1 ms.
    refused = book.try_take("k", t0 + 60s - std::chrono::nanoseconds{1}, wall);
    BOOST_TEST(!refused.allowed);
    BOOST_TEST(refused.wait.count() == 1);

    // At exactly 60 s they have left it (the window is (now - 60 s, now]): four more, not five.
    BOOST_TEST(*book.remaining("k", t0 + 60s, wall).minute == 4u);
    for (int i = 0; i < 4; ++i)
        BOOST_TEST(book.try_take("k", t0 + 60s, wall).allowed);
    refused = book.try_take("k", t0 + 60s, wall);
    BOOST_TEST(!refused.allowed);
    BOOST_TEST(refused.wait.count() == 60'000);
}

BOOST_AUTO_TEST_CASE(quota_sliding_minute_frees_one_request_at_a_time) {
    QuotaBook book({4, 0});
    const auto wall = wall_at(12, 0, 0);
    for (const auto at : {0s, 10s, 20s, 30s})
        BOOST_TEST(book.try_take("k", t0 + at, wall).allowed);
    QuotaDecision refused = book.try_take("k", t0 + 45s, wall);
    BOOST_TEST(refused.wait.count() == 15'000); // the one of 0 s leaves at 60 s
    BOOST_TEST(*book.remaining("k", t0 + 59s, wall).minute == 0u);
    BOOST_TEST(*book.remaining("k", t0 + 60s, wall).minute == 1u);
    BOOST_TEST(*book.remaining("k", t0 + 75s, wall).minute == 2u);
    BOOST_TEST(book.try_take("k", t0 + 60s, wall).allowed);
    refused = book.try_take("k", t0 + 60s, wall);
    BOOST_TEST(refused.wait.count() == 10'000); // then the one of 10 s, at 70 s
    refused = book.try_take("k", t0 + 69'999'999us, wall);
    BOOST_TEST(refused.wait.count() == 1); // 1 us, rounded up to a millisecond
    BOOST_TEST(book.try_take("k", t0 + 70s, wall).allowed);
    BOOST_TEST(!book.try_take("k", t0 + 70s, wall).allowed);
    // A long pause frees the whole window, and no more.
    for (int i = 0; i < 4; ++i)
        BOOST_TEST(book.try_take("k", t0 + 24h, wall).allowed);
    BOOST_TEST(!book.try_take("k", t0 + 24h, wall).allowed);
}

// A seeded random sequence against a brute-force oracle of the rule: the book admits exactly when the oracle
// says a request must be admitted (never more than N in any half-open 60 s, no refusal the rule does not
// need), and a refusal's wait is the oracle's earliest admission time, rounded up to a millisecond.
BOOST_AUTO_TEST_CASE(quota_sliding_minute_matches_a_brute_force_oracle) {
    using std::chrono::microseconds;
    const auto wall = wall_at(12, 0, 0);
    std::mt19937_64 random(20241004);
    for (const unsigned limit : {1u, 2u, 4u, 7u, 30u}) {
        BOOST_TEST_CONTEXT("limit " << limit) {
            QuotaBook book({limit, 0});
            std::vector<SteadyTime> admitted; // the oracle's own record, ascending
            SteadyTime now = t0;
            std::optional<SteadyTime> retry_at; // when the last refusal said to come back
            unsigned refusals = 0;
            for (int step = 0; step < 3000; ++step) {
                // Mostly bursts at about twice the limit's rate, sometimes a long pause; sometimes exactly
                // when an admitted request leaves the window, or exactly when the last refusal said to come
                // back, or a microsecond before.
                const std::uint64_t burst_gap = 2 * 60'000'000 / limit;
                switch (random() % 20) {
                case 0:
                    now += microseconds{static_cast<std::int64_t>(random() % 90'000'000)};
                    break;
                case 1:
                case 2:
                case 3:
                case 4:
                case 5:
                    now += microseconds{static_cast<std::int64_t>(random() % burst_gap)};
                    break;
                case 6:
                case 7:
                    if (!admitted.empty()) now = std::max(now, admitted[random() % admitted.size()] + 60s);
                    break;
                case 8:
                case 9:
                    if (retry_at) now = std::max(now, *retry_at);
                    break;
                case 10:
                    if (retry_at) now = std::max(now, *retry_at - microseconds{1});
                    break;
                default:
                    break; // the same instant again
                }
                // The oracle: how many admitted requests are strictly after at - 60 s.
                const auto in_window = [&](SteadyTime at) {
                    return static_cast<unsigned>(std::count_if(admitted.begin(), admitted.end(),
                                                               [at](SteadyTime s) { return s > at - 60s; }));
                };
                const unsigned used = in_window(now);
                BOOST_TEST_REQUIRE(*book.remaining("k", now, wall).minute == limit - std::min(limit, used));
                const QuotaDecision decision = book.try_take("k", now, wall);
                BOOST_TEST_REQUIRE(decision.allowed == (used < limit), "step " << step);
                if (decision.allowed) {
                    admitted.push_back(now);
                    continue;
                }
                ++refusals;
                // The earliest time at which the oracle admits one: the first of the times a request leaves
                // the window (s + 60 s) after which fewer than `limit` remain.
                std::optional<SteadyTime> earliest;
                for (const SteadyTime s : admitted) {
                    const SteadyTime leaves = s + 60s;
                    if (leaves > now && in_window(leaves) < limit && (!earliest || leaves < *earliest))
                        earliest = leaves;
                }
                BOOST_TEST_REQUIRE(earliest.has_value());
                BOOST_TEST_REQUIRE(decision.wait == std::chrono::ceil<milliseconds>(*earliest - now),
                                   "step " << step);
                retry_at = now + decision.wait;
            }
            // Never more than `limit` in any half-open minute: it is enough to look at those that start
            // with an admitted request.
            for (std::size_t i = 0; i < admitted.size(); ++i) {
                const auto last = std::lower_bound(admitted.begin(), admitted.end(), admitted[i] + 60s);
                BOOST_TEST_REQUIRE(
                    static_cast<std::size_t>(last - (admitted.begin() + static_cast<long>(i))) <= limit);
            }
            BOOST_TEST_MESSAGE("limit " << limit << ": " << admitted.size() << " admitted, " << refusals
                                        << " refused");
            // The sequence exercised both answers.
            BOOST_TEST(refusals > 100u);
            BOOST_TEST(admitted.size() > 100u);
        }
    }
}

BOOST_AUTO_TEST_CASE(quota_a_time_that_comes_late_counts_as_the_keys_latest) {
    // Callers read the clock before the book's lock: a `now` earlier than one already seen is taken as the
    // latest, so a request that had left the window for one call does not come back for the next.
    const auto wall = wall_at(12, 0, 0);
    QuotaBook book({1, 0});
    BOOST_TEST(book.try_take("k", t0 + 61s, wall).allowed);
    const QuotaDecision refused = book.try_take("k", t0 + 1s, wall);
    BOOST_TEST(!refused.allowed);
    BOOST_TEST(refused.wait.count() == 60'000); // from 61 s, not from 1 s

    QuotaBook two({2, 0});
    BOOST_TEST(two.try_take("k", t0, wall).allowed);
    BOOST_TEST(two.try_take("k", t0 + 60s, wall).allowed); // the one of 0 s has left
    // At 59 s the one of 0 s would be in the window again; the call counts as at 60 s instead, where it
    // is not, and is admitted at 60 s: still at most two in any minute.
    BOOST_TEST(two.try_take("k", t0 + 59s, wall).allowed);
    const QuotaDecision third = two.try_take("k", t0 + 60s, wall);
    BOOST_TEST(!third.allowed);
    BOOST_TEST(third.wait.count() == 60'000);
}

BOOST_AUTO_TEST_CASE(quota_day_resets_exactly_at_midnight_utc) {
    QuotaBook book({0, 3});
    const auto before = wall_at(23, 59, 59);
    const auto midnight = wall_at(0, 0, 0) + std::chrono::days{1};
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(book.try_take("k", t0, before).allowed);
    BOOST_TEST(*book.remaining("k", t0, before).day == 0u);
    const QuotaDecision refused = book.try_take("k", t0 + 1s, before);
    BOOST_TEST(!refused.allowed);
    BOOST_TEST(refused.window == "day");
    BOOST_TEST(refused.wait.count() == 1000);
    const QuotaDecision half = book.try_take("k", t0 + 1s, before + 750ms);
    BOOST_TEST(!half.allowed);
    BOOST_TEST(half.wait.count() == 250);
    const QuotaDecision last_ns = book.try_take("k", t0 + 1s, midnight - std::chrono::nanoseconds{1});
    BOOST_TEST(!last_ns.allowed);
    BOOST_TEST(last_ns.wait.count() == 1);

    BOOST_TEST(*book.remaining("k", t0, midnight).day == 3u);
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(book.try_take("k", t0 + 2s, midnight).allowed);
    const QuotaDecision next_day = book.try_take("k", t0 + 2s, midnight);
    BOOST_TEST(!next_day.allowed);
    BOOST_TEST(next_day.window == "day");
    BOOST_TEST(next_day.wait.count() == milliseconds{24h}.count());
}

BOOST_AUTO_TEST_CASE(quota_a_wall_clock_stepping_back_does_not_reset_the_day_or_month) {
    const auto after_midnight = wall_at(0, 0, 5) + std::chrono::days{1}; // 2024-03-11 00:00:05
    const auto before_midnight = wall_at(23, 59, 58);                    // 2024-03-10 23:59:58
    QuotaBook book({0, 3});
    BOOST_TEST(book.try_take("k", t0, after_midnight).allowed);
    BOOST_TEST(book.try_take("k", t0, after_midnight).allowed);
    // Stepped back into the day before: the request still counts into the later day...
    BOOST_TEST(book.try_take("k", t0 + 1s, before_midnight).allowed);
    BOOST_TEST(*book.remaining("k", t0 + 1s, after_midnight).day == 0u);
    // ...and the earlier day does not start a fresh count: refused until the later day's end.
    const QuotaDecision refused = book.try_take("k", t0 + 2s, before_midnight);
    BOOST_TEST(!refused.allowed);
    BOOST_TEST(refused.window == "day");
    BOOST_TEST(refused.wait.count() == milliseconds{24h + 2s}.count());

    // The same for a month: 2024-04-01 00:00:05, then back to 2024-03-31.
    const auto april = utc(2024, 4, 1, 0, 0, 5);
    const auto march = utc(2024, 3, 31, 23, 59, 58);
    QuotaBook monthly({0, 0, 2});
    BOOST_TEST(monthly.try_take("k", t0, april).allowed);
    BOOST_TEST(monthly.try_take("k", t0, march).allowed);
    BOOST_TEST(*monthly.remaining("k", t0, april).month == 0u);
    const QuotaDecision in_march = monthly.try_take("k", t0, march);
    BOOST_TEST(!in_march.allowed);
    BOOST_TEST(in_march.window == "month");
    BOOST_TEST(in_march.wait.count() == milliseconds{std::chrono::days{30} + 2s}.count()); // to 1 May
}

BOOST_AUTO_TEST_CASE(quota_month_resets_at_the_first_of_the_next_month_utc) {
    QuotaBook book({0, 0, 3});
    BOOST_TEST(book.enabled());
    // 31 December to 1 January: the year turns with the month.
    const auto new_year_eve = utc(2023, 12, 31, 23, 59, 59) + 500ms;
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(book.try_take("k", t0, new_year_eve).allowed);
    BOOST_TEST(*book.remaining("k", t0, new_year_eve).month == 0u);
    QuotaDecision refused = book.try_take("k", t0, new_year_eve);
    BOOST_TEST(!refused.allowed);
    BOOST_TEST(refused.window == "month");
    BOOST_TEST(refused.wait.count() == 500);

    const auto new_year = utc(2024, 1, 1, 0, 0, 0);
    BOOST_TEST(*book.remaining("k", t0, new_year).month == 3u);
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(book.try_take("k", t0, new_year).allowed);
    refused = book.try_take("k", t0, new_year);
    BOOST_TEST(refused.window == "month");
    BOOST_TEST(refused.wait.count() == milliseconds{std::chrono::days{31}}.count()); // to 1 February

    // February of a leap year has a 29th: from the 28th at 23:00, 25 hours to March.
    const auto leap_28th = utc(2024, 2, 28, 23, 0, 0);
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(book.try_take("k", t0, leap_28th).allowed);
    refused = book.try_take("k", t0, leap_28th);
    BOOST_TEST(refused.window == "month");
    BOOST_TEST(refused.wait.count() == milliseconds{25h}.count());
    refused = book.try_take("k", t0, utc(2024, 2, 29, 12, 0, 0));
    BOOST_TEST(refused.window == "month");
    BOOST_TEST(refused.wait.count() == milliseconds{12h}.count());
    BOOST_TEST(book.try_take("k", t0, utc(2024, 3, 1, 0, 0, 0)).allowed);

    // ...and 2023's does not: from the 28th at 23:00, one hour.
    QuotaBook plain({0, 0, 1});
    BOOST_TEST(plain.try_take("k", t0, utc(2023, 2, 28, 22, 0, 0)).allowed);
    refused = plain.try_take("k", t0, utc(2023, 2, 28, 23, 0, 0));
    BOOST_TEST(refused.wait.count() == milliseconds{1h}.count());
    BOOST_TEST(plain.try_take("k", t0, utc(2023, 3, 1, 0, 0, 0)).allowed);
}

BOOST_AUTO_TEST_CASE(quota_all_windows) {
    QuotaBook book({4, 5, 6});
    const auto noon = wall_at(12, 0, 0);
    for (int i = 0; i < 4; ++i)
        BOOST_TEST(book.try_take("k", t0, noon).allowed);
    QuotaDecision refused = book.try_take("k", t0, noon);
    BOOST_TEST(refused.window == "minute");
    BOOST_TEST(refused.wait.count() == 60'000);

    BOOST_TEST(book.try_take("k", t0 + 60s, noon).allowed); // the fifth of the day
    auto remaining = book.remaining("k", t0 + 60s, noon);
    BOOST_TEST(*remaining.minute == 3u);
    BOOST_TEST(*remaining.day == 0u);
    BOOST_TEST(*remaining.month == 1u);
    refused = book.try_take("k", t0 + 60s, noon);
    BOOST_TEST(!refused.allowed);
    BOOST_TEST(refused.window == "day");
    BOOST_TEST(refused.wait.count() == milliseconds{12h}.count());

    // The next day: the sixth of the month, then the month refuses until 1 April (20 days and 12 hours).
    const auto next_noon = noon + std::chrono::days{1};
    BOOST_TEST(book.try_take("k", t0 + 24h, next_noon).allowed);
    refused = book.try_take("k", t0 + 24h, next_noon);
    BOOST_TEST(refused.window == "month");
    BOOST_TEST(refused.wait.count() == milliseconds{std::chrono::days{20} + 12h}.count());
    remaining = book.remaining("k", t0 + 24h, next_noon);
    BOOST_TEST(*remaining.minute == 3u);
    BOOST_TEST(*remaining.day == 4u);
    BOOST_TEST(*remaining.month == 0u);
}

BOOST_AUTO_TEST_CASE(quota_reports_the_longest_wait_when_several_windows_refuse) {
    const auto noon = wall_at(12, 0, 0);
    QuotaBook long_day({4, 4});
    for (int i = 0; i < 4; ++i)
        BOOST_TEST(long_day.try_take("k", t0, noon).allowed);
    QuotaDecision refused = long_day.try_take("k", t0, noon);
    BOOST_TEST(refused.window == "day");
    BOOST_TEST(refused.wait.count() == milliseconds{12h}.count());

    const auto late = wall_at(23, 59, 55);
    QuotaBook long_minute({4, 4});
    for (int i = 0; i < 4; ++i)
        BOOST_TEST(long_minute.try_take("k", t0, late).allowed);
    refused = long_minute.try_take("k", t0, late);
    BOOST_TEST(refused.window == "minute");
    BOOST_TEST(refused.wait.count() == 60'000);

    long_minute.mark_exhausted("k", t0 + 90s);
    refused = long_minute.try_take("k", t0, late);
    BOOST_TEST(refused.window == "upstream");
    BOOST_TEST(refused.wait.count() == 90'000);

    // A day and a month that end at the same midnight: the month's refusal is no longer than the day's,
    // so the day (checked first) is named.
    const auto month_end = utc(2024, 3, 31, 23, 0, 0);
    QuotaBook both({0, 1, 1});
    BOOST_TEST(both.try_take("k", t0, month_end).allowed);
    refused = both.try_take("k", t0, month_end);
    BOOST_TEST(refused.window == "day");
    BOOST_TEST(refused.wait.count() == milliseconds{1h}.count());
    // Mid-month the month's wait is the longer.
    QuotaBook mid({0, 1, 1});
    BOOST_TEST(mid.try_take("k", t0, noon).allowed);
    refused = mid.try_take("k", t0, noon);
    BOOST_TEST(refused.window == "month");
    BOOST_TEST(refused.wait.count() == milliseconds{std::chrono::days{21} + 12h}.count());
}

BOOST_AUTO_TEST_CASE(quota_refusal_takes_nothing) {
    const auto noon = wall_at(12, 0, 0);
    // A refused request does not enter the minute: the window is still the first request's.
    QuotaBook by_minute({1, 100, 100});
    BOOST_TEST(by_minute.try_take("k", t0, noon).allowed);
    for (int i = 0; i < 10; ++i)
        BOOST_TEST(!by_minute.try_take("k", t0 + seconds{i * 5}, noon).allowed);
    BOOST_TEST(*by_minute.remaining("k", t0 + 50s, noon).day == 99u);
    BOOST_TEST(*by_minute.remaining("k", t0 + 50s, noon).month == 99u);
    BOOST_TEST(by_minute.try_take("k", t0 + 60s, noon).allowed);
    BOOST_TEST(*by_minute.remaining("k", t0 + 60s, noon).day == 98u);

    QuotaBook by_day({4, 1, 100});
    BOOST_TEST(by_day.try_take("k", t0, noon).allowed);
    for (int i = 0; i < 10; ++i)
        BOOST_TEST(!by_day.try_take("k", t0, noon).allowed);
    BOOST_TEST(*by_day.remaining("k", t0, noon).minute == 3u);
    BOOST_TEST(*by_day.remaining("k", t0, noon).month == 99u);

    QuotaBook by_month({4, 100, 1});
    BOOST_TEST(by_month.try_take("k", t0, noon).allowed);
    for (int i = 0; i < 10; ++i)
        BOOST_TEST(!by_month.try_take("k", t0, noon).allowed);
    BOOST_TEST(*by_month.remaining("k", t0, noon).minute == 3u);
    BOOST_TEST(*by_month.remaining("k", t0, noon).day == 99u);

    QuotaBook by_upstream({4, 10, 10});
    by_upstream.mark_exhausted("k", t0 + 60s);
    for (int i = 0; i < 10; ++i)
        BOOST_TEST(!by_upstream.try_take("k", t0, noon).allowed);
    const auto remaining = by_upstream.remaining("k", t0, noon);
    BOOST_TEST(*remaining.minute == 4u);
    BOOST_TEST(*remaining.day == 10u);
    BOOST_TEST(*remaining.month == 10u);
    // Nothing was logged while it was marked: the whole minute is there when the mark ends.
    for (int i = 0; i < 4; ++i)
        BOOST_TEST(by_upstream.try_take("k", t0 + 60s, noon).allowed);
    BOOST_TEST(!by_upstream.try_take("k", t0 + 60s, noon).allowed);
}

BOOST_AUTO_TEST_CASE(quota_mark_exhausted_refuses_until_the_time_then_allows) {
    QuotaBook book({0, 0});
    BOOST_TEST(!book.enabled());
    const auto noon = wall_at(12, 0, 0);
    BOOST_TEST(book.try_take("k", t0, noon).allowed);
    book.mark_exhausted("k", t0 + 30s);
    QuotaDecision refused = book.try_take("k", t0 + 10s, noon);
    BOOST_TEST(!refused.allowed);
    BOOST_TEST(refused.window == "upstream");
    BOOST_TEST(refused.wait.count() == 20'000);
    refused = book.try_take("k", t0 + 30s - std::chrono::microseconds{1}, noon);
    BOOST_TEST(!refused.allowed);
    BOOST_TEST(refused.wait.count() == 1);
    BOOST_TEST(book.try_take("other", t0 + 10s, noon).allowed);

    // A shorter mark does not cut an earlier, longer one short.
    book.mark_exhausted("k", t0 + 20s);
    BOOST_TEST(!book.try_take("k", t0 + 25s, noon).allowed);

    // The mark ends at exactly its time.
    BOOST_TEST(book.try_take("k", t0 + 30s, noon).allowed);
    BOOST_TEST(book.try_take("k", t0 + 30s, noon).allowed);
    const auto remaining = book.remaining("k", t0 + 30s, noon);
    BOOST_TEST(!remaining.minute.has_value());
    BOOST_TEST(!remaining.day.has_value());
    BOOST_TEST(!remaining.month.has_value());
}

BOOST_AUTO_TEST_CASE(quota_keys_are_independent) {
    QuotaBook book({2, 0});
    const auto noon = wall_at(12, 0, 0);
    BOOST_TEST(book.try_take("alpha", t0, noon).allowed);
    BOOST_TEST(book.try_take("alpha", t0, noon).allowed);
    BOOST_TEST(!book.try_take("alpha", t0, noon).allowed);
    BOOST_TEST(book.try_take("beta", t0, noon).allowed);
    BOOST_TEST(*book.remaining("beta", t0, noon).minute == 1u);
    BOOST_TEST(*book.remaining("never-seen", t0, noon).minute == 2u);
    book.mark_exhausted("gamma", t0 + 1s);
    BOOST_TEST(!book.try_take("gamma", t0, noon).allowed);
    BOOST_TEST(book.try_take("beta", t0, noon).allowed);
    const std::vector<std::string> expected{"alpha", "beta", "gamma"};
    BOOST_TEST(book.keys() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(quota_concurrent_try_take_never_over_allows) {
    QuotaBook book({4, 7});
    const auto noon = wall_at(12, 0, 0);
    // Four threads hammer one key at the same instant; returns how many requests got through.
    const auto hammer = [&book, noon](SteadyTime now) {
        std::atomic<int> allowed{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&book, &allowed, noon, now] {
                for (int i = 0; i < 500; ++i)
                    if (book.try_take("shared", now, noon).allowed) ++allowed;
            });
        }
        for (auto& thread : threads)
            thread.join();
        return allowed.load();
    };
    BOOST_TEST(hammer(t0) == 4);       // the whole window
    BOOST_TEST(hammer(t0 + 30s) == 0); // the four are still in it
    BOOST_TEST(hammer(t0 + 60s) == 3); // the window is free again, but only three are left of the day's seven
    BOOST_TEST(*book.remaining("shared", t0 + 60s, noon).day == 0u);
    BOOST_TEST(*book.remaining("shared", t0 + 60s, noon).minute == 1u);
}

// ---- parse_retry_after ----

BOOST_AUTO_TEST_CASE(retry_after_delta_seconds) {
    using shim::economy::parse_retry_after;
    const auto wall = wall_at(12, 0, 0);
    BOOST_TEST(parse_retry_after("2", wall).value().count() == 2);
    BOOST_TEST(parse_retry_after("0", wall).value().count() == 0);
    BOOST_TEST(parse_retry_after(" 10 ", wall).value().count() == 10);
    BOOST_TEST(parse_retry_after("\t120", wall).value().count() == 120);
    BOOST_TEST(!parse_retry_after("-1", wall).has_value());
    BOOST_TEST(!parse_retry_after("+1", wall).has_value());
    BOOST_TEST(!parse_retry_after("abc", wall).has_value());
    BOOST_TEST(!parse_retry_after("", wall).has_value());
    BOOST_TEST(!parse_retry_after("   ", wall).has_value());
    BOOST_TEST(!parse_retry_after("1.5", wall).has_value());
    BOOST_TEST(!parse_retry_after("10 s", wall).has_value());
    BOOST_TEST(!parse_retry_after("99999999999999999999999", wall).has_value());
}

BOOST_AUTO_TEST_CASE(retry_after_http_date) {
    using shim::economy::parse_retry_after;
    // Sunday 2024-03-10 12:00:00 UTC; 90 s later is 12:01:30.
    const auto wall = wall_at(12, 0, 0);
    BOOST_TEST(parse_retry_after("Sun, 10 Mar 2024 12:01:30 GMT", wall).value().count() == 90);
    BOOST_TEST(parse_retry_after("  Sun, 10 Mar 2024 12:01:30 GMT ", wall).value().count() == 90);
    // A wall time part-way through a second rounds the wait up.
    BOOST_TEST(parse_retry_after("Sun, 10 Mar 2024 12:01:30 GMT", wall + 400ms).value().count() == 90);
    BOOST_TEST(parse_retry_after("Mon, 11 Mar 2024 00:00:00 GMT", wall).value().count() == 12 * 3600);
    // A date in the past means "now".
    BOOST_TEST(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", wall).value().count() == 0);
    BOOST_TEST(parse_retry_after("Sun, 10 Mar 2024 12:00:00 GMT", wall).value().count() == 0);
    // A far-off year does not overflow.
    BOOST_TEST(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", wall).value().count() > 0);

    BOOST_TEST(!parse_retry_after("Sun, 10 Mar 2024 12:01:30 UTC", wall).has_value());
    BOOST_TEST(!parse_retry_after("Sun, 10 Foo 2024 12:01:30 GMT", wall).has_value());
    BOOST_TEST(!parse_retry_after("Xyz, 10 Mar 2024 12:01:30 GMT", wall).has_value());
    BOOST_TEST(!parse_retry_after("Sun, 31 Feb 2024 12:01:30 GMT", wall).has_value());
    BOOST_TEST(!parse_retry_after("Sun, 10 Mar 2024 24:01:30 GMT", wall).has_value());
    BOOST_TEST(!parse_retry_after("Sun, 10 Mar 2024 12:61:30 GMT", wall).has_value());
    BOOST_TEST(!parse_retry_after("Sun, 1 Mar 2024 12:01:30 GMT", wall).has_value());
    BOOST_TEST(!parse_retry_after("Sunday, 10-Mar-24 12:01:30 GMT", wall).has_value());
}

BOOST_AUTO_TEST_CASE(retry_after_default_backoff_is_one_minute_window) {
    BOOST_TEST(shim::economy::default_upstream_backoff.count() == 60);
}

BOOST_AUTO_TEST_SUITE_END()
