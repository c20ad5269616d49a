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
    BOOST_TEST((a.headers == Headers{{"Content-Type", "application/json"}}));
}

BOOST_AUTO_TEST_SUITE_END()
