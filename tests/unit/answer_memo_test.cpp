// Rendered legacy answers kept in the cache: per key and target, only 200s, only until the least fresh of
// their objects, never with a zero budget; a hit gives back the body, headers and note as kept.
#include "economy/byte_lru.hpp"
#include "ops/metrics.hpp"
#include "serve/answer_memo.hpp"
#include "serve/server_state.hpp"
#include "util/gzip.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <thread>

namespace {

using namespace std::chrono_literals;
using shim::economy::ByteLru;
using shim::serve::AnswerMemo;
using shim::serve::HttpAnswer;

const std::string target =
    "/api/v3/files/f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9/sigma_analysis";

HttpAnswer rendered(unsigned status = 200) {
    HttpAnswer a;
    a.status = status;
    a.body = R"({"data":{"type":"sigma_analysis"}})";
    a.note = "partial: 1 rule without its object";
    a.set("Content-Type", "application/json; charset=utf-8");
    a.set("X-Sigma-Shim-Fidelity", "partial");
    return a;
}

auto in(std::chrono::seconds s) {
    return std::chrono::steady_clock::now() + s;
}

} // namespace

BOOST_AUTO_TEST_SUITE(answer_memo)

BOOST_AUTO_TEST_CASE(a_kept_answer_comes_back_whole_for_the_same_key_and_target_only) {
    ByteLru lru(1 << 20);
    shim::ops::Metrics metrics;
    shim::serve::register_server_metrics(metrics); // the memo reports the cache's size
    AnswerMemo memo(lru, metrics);
    BOOST_TEST(!memo.find("key-a", target));
    memo.keep("key-a", target, rendered(), 2, in(60s));

    const auto hit = memo.find("key-a", target);
    BOOST_REQUIRE(hit);
    BOOST_TEST(hit->status == 200u);
    BOOST_TEST(hit->body_text() == rendered().body);
    BOOST_TEST(hit->note == rendered().note);
    BOOST_TEST((hit->header_list() == rendered().headers));
    BOOST_TEST(hit->body.empty(), "written from the kept object, not copied");
    BOOST_TEST(hit->upstream_calls == 0u);
    // Ready to write: the header lines and the gzip body were made when it was kept.
    BOOST_TEST(hit->kept->header_lines == shim::serve::header_lines(rendered().headers));
    std::string error;
    BOOST_TEST(shim::util::gunzip(hit->kept->gzip_body, 1 << 20, error).value_or("") == rendered().body);

    BOOST_TEST(!memo.find("key-b", target), "another key never gets key A's answer");
    BOOST_TEST(!memo.find("key-a", target + "?x=1"));
    BOOST_TEST(lru.stats_by_kind()["answer"].entries == 1u);
}

BOOST_AUTO_TEST_CASE(only_fresh_200_answers_are_kept) {
    ByteLru lru(1 << 20);
    shim::ops::Metrics metrics;
    shim::serve::register_server_metrics(metrics); // the memo reports the cache's size
    AnswerMemo memo(lru, metrics);
    memo.keep("k", target, rendered(404), 2, in(60s));
    BOOST_TEST(!memo.find("k", target));
    memo.keep("k", target, rendered(), 2, in(-1s));
    BOOST_TEST(!memo.find("k", target), "objects already past their freshness");
    BOOST_TEST(lru.entries() == 0u);
}

BOOST_AUTO_TEST_CASE(an_answer_is_not_served_after_its_objects_stop_being_fresh) {
    ByteLru lru(1 << 20);
    shim::ops::Metrics metrics;
    shim::serve::register_server_metrics(metrics); // the memo reports the cache's size
    AnswerMemo memo(lru, metrics);
    memo.keep("k", target, rendered(), 2, std::chrono::steady_clock::now() + 50ms);
    BOOST_TEST(memo.find("k", target).has_value());
    std::this_thread::sleep_for(80ms);
    BOOST_TEST(!memo.find("k", target));
}

BOOST_AUTO_TEST_CASE(nothing_is_kept_without_a_cache) {
    ByteLru lru(0);
    shim::ops::Metrics metrics;
    shim::serve::register_server_metrics(metrics); // the memo reports the cache's size
    AnswerMemo memo(lru, metrics);
    memo.keep("k", target, rendered(), 2, in(60s));
    BOOST_TEST(!memo.find("k", target));
}

BOOST_AUTO_TEST_CASE(headers_and_note_count_against_the_budget) {
    shim::economy::CachedObject o;
    o.body = "12345";
    const auto plain = shim::economy::byte_lru_entry_size("key", o);
    o.headers.emplace_back("Link", "<x>");
    o.note = "abc";
    BOOST_TEST(shim::economy::byte_lru_entry_size("key", o) == plain + 4 + 3 + 3);
}

BOOST_AUTO_TEST_SUITE_END()
