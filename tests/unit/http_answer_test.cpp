// HttpAnswer: the answer the server writes. Setting a header twice must not send it twice.
#include "serve/http_answer.hpp"

#include <boost/test/unit_test.hpp>

using shim::serve::HttpAnswer;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

} // namespace

BOOST_AUTO_TEST_SUITE(http_answer)

BOOST_AUTO_TEST_CASE(set_replaces_a_header_of_the_same_name_in_any_case) {
    HttpAnswer a;
    a.set("Content-Type", "text/plain");
    a.set("X-Sigma-Shim-Cache", "miss");
    a.set("content-type", "application/json");
    a.set("X-SIGMA-SHIM-CACHE", "hit");
    a.set("Retry-After", "3");
    // In place, with the name as last given.
    BOOST_TEST(
        (a.headers ==
         Headers{{"content-type", "application/json"}, {"X-SIGMA-SHIM-CACHE", "hit"}, {"Retry-After", "3"}}));
}

BOOST_AUTO_TEST_CASE(set_leaves_one_header_where_several_were_put) {
    HttpAnswer a;
    a.headers = {{"Link", "<a>"}, {"Vary", "x"}, {"LINK", "<b>"}};
    a.set("link", "<c>");
    BOOST_TEST((a.headers == Headers{{"link", "<c>"}, {"Vary", "x"}}));
}

BOOST_AUTO_TEST_CASE(names_differing_in_more_than_case_are_kept_apart) {
    HttpAnswer a;
    a.set("X-Sigma-Shim", "reconstructed");
    a.set("X-Sigma-Shim-Fidelity", "full");
    a.set("X-Sigma-Shim", "shadow");
    BOOST_TEST((a.headers == Headers{{"X-Sigma-Shim", "shadow"}, {"X-Sigma-Shim-Fidelity", "full"}}));
}

BOOST_AUTO_TEST_CASE(error_answers_carry_one_content_type) {
    auto a = shim::serve::error_answer("NotFoundError", "nothing");
    a.set("Content-Type", "application/json");
    BOOST_TEST(a.status == 404u);
    BOOST_TEST((a.headers == Headers{{"Content-Type", "application/json"}, {"X-Sigma-Shim", "local"}}));
    BOOST_TEST(a.has("x-sigma-shim"));
    BOOST_TEST(!a.has("X-Sigma-Shim-Cache"));
}

BOOST_AUTO_TEST_CASE(an_upstream_error_is_local_only_when_the_shim_made_it) {
    using shim::upstream::Failure;
    using shim::upstream::UpstreamResponse;
    auto label = [](const HttpAnswer& a) {
        for (const auto& [n, v] : a.headers) {
            if (n == "X-Sigma-Shim") return v;
        }
        return std::string("(none)");
    };
    UpstreamResponse vt;
    vt.status = 429;
    vt.body = R"({"error": {"code": "QuotaExceededError", "message": "VirusTotal's"}})";
    vt.retry_after = "7";
    // VirusTotal's own error is relayed unlabelled: the handler that relays it says how (reconstructed).
    BOOST_TEST(label(shim::serve::upstream_error(vt, "file")) == "(none)");
    UpstreamResponse quota = vt;
    quota.local = true;
    const auto refused = shim::serve::upstream_error(quota, "file");
    BOOST_TEST(refused.status == 429u);
    BOOST_TEST(label(refused) == "local");
    UpstreamResponse unreachable;
    unreachable.failure = Failure::transient;
    BOOST_TEST(label(shim::serve::upstream_error(unreachable, "file")) == "local");
    UpstreamResponse slow;
    slow.failure = Failure::deadline;
    BOOST_TEST(label(shim::serve::upstream_error(slow, "file")) == "local");
    UpstreamResponse html;
    html.status = 502;
    html.body = "<html>bad gateway</html>";
    BOOST_TEST(label(shim::serve::upstream_error(html, "file")) == "local");
}

BOOST_AUTO_TEST_CASE(header_lines_leave_out_what_is_written_per_request_and_label_what_says_nothing) {
    HttpAnswer a;
    a.set("Content-Type", "application/json");
    a.set("X-Request-Id", "not-this-one");
    a.set("Content-Length", "1");
    a.set("Connection", "close");
    a.set("Vary", "Cookie");
    a.set("Link", "<https://x/\r\nInjected: yes>; rel=\"successor-version\"");
    BOOST_TEST(shim::serve::header_lines(a.headers) ==
               "Content-Type: application/json\r\n"
               "Link: <https://x/  Injected: yes>; rel=\"successor-version\"\r\n"
               "X-Sigma-Shim-Cache: bypass\r\nX-Sigma-Shim: local\r\n");
    a.set("x-sigma-shim", "reconstructed");
    a.set("X-Sigma-Shim-Cache", "hit");
    const auto lines = shim::serve::header_lines(a.headers);
    BOOST_TEST(lines.find("X-Sigma-Shim-Cache: hit\r\n") != std::string::npos);
    BOOST_TEST(lines.find("x-sigma-shim: reconstructed\r\n") != std::string::npos);
    BOOST_TEST(lines.find("local") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_kept_answer_reads_as_its_object_until_set_makes_it_its_own) {
    auto object = std::make_shared<shim::economy::CachedObject>();
    object->body = "{}";
    object->headers = {{"Content-Type", "application/json"}, {"X-Sigma-Shim", "reconstructed"}};
    HttpAnswer a;
    a.kept = object;
    BOOST_TEST(a.has("x-sigma-shim"));
    BOOST_TEST(a.body_text() == "{}");
    BOOST_TEST(a.headers.empty());
    a.set("X-Sigma-Shim", "shadow");
    BOOST_TEST(!a.kept, "changed: no longer written from the kept lines");
    BOOST_TEST(a.body == "{}");
    BOOST_TEST((a.headers == Headers{{"Content-Type", "application/json"}, {"X-Sigma-Shim", "shadow"}}));
    BOOST_TEST(object->headers.size() == 2u);
    BOOST_TEST(object->headers[1].second == "reconstructed", "the kept object itself never changes");
}

BOOST_AUTO_TEST_SUITE_END()
