// The router: which handler a method and a request target go to (shim/serve/router.hpp). Pure, so every case
// is one call.
#include "serve/router.hpp"
#include "sigma_analysis/file_id.hpp"

#include <boost/test/unit_test.hpp>
#include <boost/url/parse.hpp>
#include <cstdint>
#include <string>
#include <vector>

using shim::serve::route_class_name;
using shim::serve::route_request;
using shim::serve::RouteClass;
using sigma_analysis::Form;

namespace {

const std::string sha256 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9";
const std::string sha256_upper = "F568A0362C238EBBADCA53FD4307DAC2FE209DDC6257FD300379EBC3C10261E9";
const std::string md5 = "44d88612fea8a8f36de82e1278abb02f";

std::string cls(RouteClass c) {
    return std::string(route_class_name(c));
}

std::string form(Form f) {
    return std::string(sigma_analysis::form_name(f));
}

} // namespace

BOOST_AUTO_TEST_SUITE(router)

BOOST_AUTO_TEST_CASE(class_names) {
    BOOST_TEST(route_class_name(RouteClass::legacy) == "legacy");
    BOOST_TEST(route_class_name(RouteClass::passthrough) == "passthrough");
    BOOST_TEST(route_class_name(RouteClass::shim) == "shim");
    BOOST_TEST(route_class_name(RouteClass::invalid) == "invalid");
}

BOOST_AUTO_TEST_CASE(each_legacy_route_maps_to_its_form) {
    struct Case {
        std::string target;
        Form form;
        bool list;
    };
    const std::vector<Case> cases = {
        {"/api/v3/sigma_analyses/" + sha256, Form::object, false},
        {"/api/v3/files/" + sha256 + "/sigma_analysis", Form::relationship, false},
        {"/api/v3/files/" + sha256 + "/relationships/sigma_analysis", Form::descriptor, false},
        {"/api/v3/files/" + sha256 + "?relationships=sigma_analysis", Form::embedded, false},
        {"/api/v3/sigma_analyses/" + sha256 + "/rules", Form::rules, true},
        {"/api/v3/sigma_analyses/" + sha256 + "/relationships/rules", Form::rules_descriptors, true},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.target) {
            const auto r = route_request("GET", c.target);
            BOOST_TEST(cls(r.route_class) == "legacy");
            BOOST_TEST(form(r.form) == form(c.form));
            BOOST_TEST(r.id == sha256);
            BOOST_TEST(r.file_target == "/api/v3/files/" + sha256);
            BOOST_TEST(r.error.empty());
            BOOST_TEST(r.page.has_value() == c.list);
        }
    }
}

BOOST_AUTO_TEST_CASE(md5_id_is_kept_as_sent) {
    const auto r = route_request("GET", "/api/v3/sigma_analyses/" + md5);
    BOOST_TEST(cls(r.route_class) == "legacy");
    BOOST_TEST(r.id == md5);
    BOOST_TEST(r.file_target == "/api/v3/files/" + md5);
}

BOOST_AUTO_TEST_CASE(file_without_relationships_is_passthrough) {
    BOOST_TEST(cls(route_request("GET", "/api/v3/files/" + sha256).route_class) == "passthrough");
    BOOST_TEST(cls(route_request("GET", "/api/v3/files/" + sha256 + "?x=1").route_class) == "passthrough");
    BOOST_TEST(cls(route_request("GET", "/api/v3/files/" + sha256 + "?relationships=comments").route_class) ==
               "passthrough");
    // A name that only contains sigma_analysis is not it.
    BOOST_TEST(cls(route_request("GET", "/api/v3/files/" + sha256 + "?relationships=sigma_analysis_x")
                       .route_class) == "passthrough");
    BOOST_TEST(cls(route_request("GET", "/api/v3/files/" + sha256 + "?sigma_analysis=1").route_class) ==
               "passthrough");
    BOOST_TEST(cls(route_request("GET", "/api/v3/files/" + sha256 + "/behaviours").route_class) ==
               "passthrough");
    BOOST_TEST(cls(route_request("GET", "/api/v3/sigma_rules/abc").route_class) == "passthrough");
    BOOST_TEST(cls(route_request("GET", "/api/v3/users/me").route_class) == "passthrough");
}

BOOST_AUTO_TEST_CASE(embedded_only_sigma_drops_the_query) {
    const auto r = route_request("GET", "/api/v3/files/" + sha256 + "?relationships=sigma_analysis");
    BOOST_TEST(cls(r.route_class) == "legacy");
    BOOST_TEST(form(r.form) == "embedded");
    BOOST_TEST(r.file_target == "/api/v3/files/" + sha256);
    BOOST_TEST(!r.page.has_value());
}

BOOST_AUTO_TEST_CASE(embedded_keeps_other_relationships_and_parameters_in_order) {
    const auto r =
        route_request("GET", "/api/v3/files/" + sha256 + "?relationships=comments,sigma_analysis&x=1");
    BOOST_TEST(cls(r.route_class) == "legacy");
    BOOST_TEST(form(r.form) == "embedded");
    BOOST_TEST(r.file_target == "/api/v3/files/" + sha256 + "?relationships=comments&x=1");

    const auto before =
        route_request("GET", "/api/v3/files/" + sha256 + "?x=1&relationships=sigma_analysis,votes&y=2");
    BOOST_TEST(before.file_target == "/api/v3/files/" + sha256 + "?x=1&relationships=votes&y=2");

    // More than one kept relationship: the commas stay commas (the upstream splits on them).
    const auto several =
        route_request("GET", "/api/v3/files/" + sha256 + "?relationships=comments,sigma_analysis,votes");
    BOOST_TEST(several.file_target == "/api/v3/files/" + sha256 + "?relationships=comments,votes");

    // Only sigma_analysis, with other parameters: the parameter is dropped, the rest kept.
    const auto others =
        route_request("GET", "/api/v3/files/" + sha256 + "?a=1&relationships=sigma_analysis&b=2");
    BOOST_TEST(others.file_target == "/api/v3/files/" + sha256 + "?a=1&b=2");
}

BOOST_AUTO_TEST_CASE(embedded_sigma_listed_twice) {
    const auto twice =
        route_request("GET", "/api/v3/files/" + sha256 + "?relationships=sigma_analysis,sigma_analysis");
    BOOST_TEST(cls(twice.route_class) == "legacy");
    BOOST_TEST(form(twice.form) == "embedded");
    BOOST_TEST(twice.file_target == "/api/v3/files/" + sha256);

    const auto with_other = route_request("GET", "/api/v3/files/" + sha256 +
                                                     "?relationships=sigma_analysis,comments,sigma_analysis");
    BOOST_TEST(with_other.file_target == "/api/v3/files/" + sha256 + "?relationships=comments");

    const auto two_params = route_request(
        "GET", "/api/v3/files/" + sha256 + "?relationships=sigma_analysis&relationships=sigma_analysis");
    BOOST_TEST(cls(two_params.route_class) == "legacy");
    BOOST_TEST(two_params.file_target == "/api/v3/files/" + sha256);
}

BOOST_AUTO_TEST_CASE(uppercase_id_gives_lower_case_file_target) {
    for (const std::string& target : std::vector<std::string>{
             "/api/v3/sigma_analyses/" + sha256_upper, "/api/v3/files/" + sha256_upper + "/sigma_analysis",
             "/api/v3/files/" + sha256_upper + "/relationships/sigma_analysis",
             "/api/v3/sigma_analyses/" + sha256_upper + "/rules",
             "/api/v3/sigma_analyses/" + sha256_upper + "/relationships/rules"}) {
        BOOST_TEST_CONTEXT(target) {
            const auto r = route_request("GET", target);
            BOOST_TEST(cls(r.route_class) == "legacy");
            BOOST_TEST(r.id == sha256_upper); // as sent
            BOOST_TEST(r.file_target == "/api/v3/files/" + sha256);
        }
    }
    const auto embedded =
        route_request("GET", "/api/v3/files/" + sha256_upper + "?relationships=comments,sigma_analysis");
    BOOST_TEST(embedded.id == sha256_upper);
    BOOST_TEST(embedded.file_target == "/api/v3/files/" + sha256 + "?relationships=comments");
}

BOOST_AUTO_TEST_CASE(relationship_counters_alone_asks_the_file_with_the_query_as_sent) {
    using sigma_analysis::Embedded;
    for (const std::string& query :
         {std::string("relationship_counters=true"), std::string("x=1&relationship_counters=TRUE&y=%20"),
          std::string("relationships=comments,votes&relationship_counters=true")}) {
        BOOST_TEST_CONTEXT(query) {
            const auto r = route_request("GET", "/api/v3/files/" + sha256_upper + "?" + query);
            BOOST_TEST(cls(r.route_class) == "legacy");
            BOOST_TEST(form(r.form) == "embedded");
            BOOST_TEST((r.embedded == Embedded::count));
            BOOST_TEST(r.id == sha256_upper);
            BOOST_TEST(r.file_target == "/api/v3/files/" + sha256 + "?" + query);
        }
    }
    const auto by_md5 = route_request("GET", "/api/v3/files/" + md5 + "?relationship_counters=true");
    BOOST_TEST((by_md5.embedded == Embedded::count));
    BOOST_TEST(by_md5.file_target == "/api/v3/files/" + md5 + "?relationship_counters=true");
}

BOOST_AUTO_TEST_CASE(relationship_counters_with_sigma_analysis_counts_in_the_descriptor) {
    using sigma_analysis::Embedded;
    const auto r =
        route_request("GET", "/api/v3/files/" + sha256 +
                                 "?relationships=comments,sigma_analysis&relationship_counters=true");
    BOOST_TEST(cls(r.route_class) == "legacy");
    BOOST_TEST(form(r.form) == "embedded");
    BOOST_TEST((r.embedded == Embedded::descriptor_and_count));
    BOOST_TEST(r.file_target ==
               "/api/v3/files/" + sha256 + "?relationships=comments&relationship_counters=true");
    const auto without = route_request("GET", "/api/v3/files/" + sha256 + "?relationships=sigma_analysis");
    BOOST_TEST((without.embedded == Embedded::descriptor));
    const auto off = route_request("GET", "/api/v3/files/" + sha256 +
                                              "?relationships=sigma_analysis&relationship_counters=false");
    BOOST_TEST((off.embedded == Embedded::descriptor));
}

BOOST_AUTO_TEST_CASE(relationship_counters_not_true_or_not_on_a_file_passes_through) {
    for (const std::string& target :
         std::vector<std::string>{"/api/v3/files/" + sha256 + "?relationship_counters=false",
                                  "/api/v3/files/" + sha256 + "?relationship_counters=1",
                                  "/api/v3/files/" + sha256 + "?relationship_counters",
                                  "/api/v3/files/" + sha256 + "?relationship_counters=",
                                  "/api/v3/files/" + sha256 + "?relationship_counters=truex",
                                  "/api/v3/files/" + sha256 + "?x_relationship_counters=true",
                                  "/api/v3/files/not-a-hash?relationship_counters=true",
                                  "/api/v3/files/" + sha256 + "/behaviours?relationship_counters=true",
                                  "/api/v3/urls/" + sha256 + "?relationship_counters=true",
                                  "/api/v3/domains/example.com?relationship_counters=true"}) {
        BOOST_TEST_CONTEXT(target) {
            BOOST_TEST(cls(route_request("GET", target).route_class) == "passthrough");
        }
    }
    BOOST_TEST(
        cls(route_request("POST", "/api/v3/files/" + sha256 + "?relationship_counters=true").route_class) ==
        "passthrough");
}

BOOST_AUTO_TEST_CASE(non_get_methods_on_legacy_paths_pass_through) {
    const std::vector<std::string> targets = {
        "/api/v3/sigma_analyses/" + sha256,
        "/api/v3/files/" + sha256 + "/sigma_analysis",
        "/api/v3/files/" + sha256 + "/relationships/sigma_analysis",
        "/api/v3/files/" + sha256 + "?relationships=sigma_analysis",
        "/api/v3/sigma_analyses/" + sha256 + "/rules",
        "/api/v3/sigma_analyses/" + sha256 + "/relationships/rules",
    };
    for (const auto& method : {"POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "get"}) {
        for (const auto& target : targets) {
            BOOST_TEST_CONTEXT(method << " " << target) {
                const auto r = route_request(method, target);
                BOOST_TEST(cls(r.route_class) == "passthrough");
                BOOST_TEST(r.error.empty());
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(shim_endpoints_keep_name_and_query) {
    for (const std::string name : {"livez", "readyz", "metrics"}) {
        BOOST_TEST_CONTEXT(name) {
            const auto r = route_request("GET", "/_shim/" + name);
            BOOST_TEST(cls(r.route_class) == "shim");
            BOOST_TEST(r.shim_endpoint == name);
            BOOST_TEST(r.shim_query.empty());

            const auto q = route_request("GET", "/_shim/" + name + "?a=1&b=2");
            BOOST_TEST(cls(q.route_class) == "shim");
            BOOST_TEST(q.shim_endpoint == name);
            BOOST_TEST(q.shim_query == "a=1&b=2");
        }
    }
    const auto verbose = route_request("GET", "/_shim/readyz?verbose");
    BOOST_TEST(cls(verbose.route_class) == "shim");
    BOOST_TEST(verbose.shim_endpoint == "readyz");
    BOOST_TEST(verbose.shim_query == "verbose");

    // Other methods still reach the shim (its handler decides what to answer).
    BOOST_TEST(cls(route_request("POST", "/_shim/livez").route_class) == "shim");
    // Unknown or nested names: still the shim's, which answers 404; the router does not invent a name.
    BOOST_TEST(route_request("GET", "/_shim/nope").shim_endpoint == "nope");
    BOOST_TEST(route_request("GET", "/_shim/livez/x").shim_endpoint.empty());
    BOOST_TEST(route_request("GET", "/_shim").shim_endpoint.empty());
}

BOOST_AUTO_TEST_CASE(connect_is_invalid) {
    const auto r = route_request("CONNECT", "www.virustotal.com:443");
    BOOST_TEST(cls(r.route_class) == "invalid");
    BOOST_TEST(!r.error.empty());
    BOOST_TEST(cls(route_request("CONNECT", "/api/v3/files/" + sha256).route_class) == "invalid");
}

BOOST_AUTO_TEST_CASE(non_origin_form_targets_are_invalid) {
    for (const std::string& target : std::vector<std::string>{
             "http://x/api/v3/files/a", "https://www.virustotal.com/api/v3/sigma_analyses/a", "*", "",
             "api/v3/files/a", "x"}) {
        BOOST_TEST_CONTEXT("'" << target << "'") {
            const auto r = route_request("GET", target);
            BOOST_TEST(cls(r.route_class) == "invalid");
            BOOST_TEST(!r.error.empty());
        }
    }
    BOOST_TEST(cls(route_request("OPTIONS", "*").route_class) == "invalid");
}

BOOST_AUTO_TEST_CASE(paths_outside_api_v3_and_shim_are_invalid) {
    for (const std::string& target : std::vector<std::string>{
             "/", "/foo", "/api", "/api/v2/files/" + sha256, "/api/v2/sigma_analyses/" + sha256,
             "/API/v3/files/" + sha256, "/api/V3/files/" + sha256, "//api/v3/files/" + sha256,
             "/_shimx/livez", "/api/v3x/files/" + sha256}) {
        BOOST_TEST_CONTEXT(target) {
            const auto r = route_request("GET", target);
            BOOST_TEST(cls(r.route_class) == "invalid");
            BOOST_TEST(!r.error.empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(dot_segments_are_invalid) {
    for (const std::string& target : std::vector<std::string>{
             "/api/v3/files/../x", "/api/v3/./files/x", "/api/v3/files/%2e%2e/x", "/api/v3/files/%2E%2E/x",
             "/api/v3/files/%2e%2E/x", "/api/v3/files/%2E%2e/x", "/api/v3/files/.%2e/x",
             "/api/v3/files/%2e/x", "/api/v3/sigma_analyses/" + sha256 + "/..",
             "/api/v3/files/" + sha256 + "/./sigma_analysis", "/_shim/../api/v3/files/x",
             "/api/v3/sigma_analyses/../../_shim/metrics",
             "/api/../api/v3/files/" + sha256 + "/sigma_analysis"}) {
        BOOST_TEST_CONTEXT(target) {
            const auto r = route_request("GET", target);
            BOOST_TEST(cls(r.route_class) == "invalid");
            BOOST_TEST(!r.error.empty());
        }
    }
}

// A leading "/./" is a dot segment like any other. Boost.URL's segment views hide a leading "." that it would
// have to add itself to keep a path unambiguous, so this is checked on its own.
BOOST_AUTO_TEST_CASE(leading_dot_segment_is_invalid) {
    for (const std::string& target :
         std::vector<std::string>{"/./api/v3/files/" + sha256 + "/sigma_analysis", "/./_shim/livez",
                                  "/../api/v3/files/" + sha256 + "/sigma_analysis"}) {
        BOOST_TEST_CONTEXT(target) {
            const auto r = route_request("GET", target);
            BOOST_TEST(cls(r.route_class) == "invalid");
        }
    }
}

BOOST_AUTO_TEST_CASE(percent_encoded_slash_in_an_id_is_not_a_file_id) {
    const auto r = route_request("GET", "/api/v3/sigma_analyses/abc%2Fdef");
    BOOST_TEST(cls(r.route_class) == "legacy");
    BOOST_TEST(form(r.form) == "object");
    BOOST_TEST(r.id == "abc%2Fdef");
    BOOST_TEST(!sigma_analysis::is_file_id(r.id));

    // A valid-looking id with an encoded slash inside must not become two segments either.
    const auto split = route_request("GET", "/api/v3/files/" + sha256 + "%2Fsigma_analysis");
    BOOST_TEST(cls(split.route_class) == "passthrough");

    const auto rel = route_request("GET", "/api/v3/files/abc%2fdef/sigma_analysis");
    BOOST_TEST(cls(rel.route_class) == "legacy");
    BOOST_TEST(rel.id == "abc%2fdef");
    BOOST_TEST(!sigma_analysis::is_file_id(rel.id));
}

BOOST_AUTO_TEST_CASE(percent_encoded_nul_in_an_id_is_not_a_file_id) {
    const auto r = route_request("GET", "/api/v3/sigma_analyses/" + sha256.substr(0, 62) + "%00");
    BOOST_TEST(cls(r.route_class) == "legacy");
    BOOST_TEST(r.id == sha256.substr(0, 62) + "%00");
    BOOST_TEST(!sigma_analysis::is_file_id(r.id));

    const auto rules = route_request("GET", "/api/v3/sigma_analyses/%00/rules");
    BOOST_TEST(cls(rules.route_class) == "legacy");
    BOOST_TEST(rules.id == "%00");
    BOOST_TEST(!sigma_analysis::is_file_id(rules.id));
}

BOOST_AUTO_TEST_CASE(very_long_path_does_not_crash) {
    std::string target = "/api/v3/sigma_analyses/";
    target += std::string(8 * 1024, 'a');
    const auto r = route_request("GET", target);
    BOOST_TEST(cls(r.route_class) == "legacy");
    BOOST_TEST(!sigma_analysis::is_file_id(r.id));

    std::string deep = "/api/v3/files";
    while (deep.size() < 8 * 1024)
        deep += "/x";
    const auto d = route_request("GET", deep);
    BOOST_TEST(cls(d.route_class) == "passthrough");

    std::string dots = "/api/v3";
    while (dots.size() < 8 * 1024)
        dots += "/..";
    BOOST_TEST(cls(route_request("GET", dots).route_class) == "invalid");

    const std::string query =
        "/api/v3/files/" + sha256 + "?relationships=" + std::string(8 * 1024, ',') + "sigma_analysis";
    const auto q = route_request("GET", query);
    BOOST_TEST(cls(q.route_class) == "legacy");
    BOOST_TEST(q.file_target == "/api/v3/files/" + sha256);
}

BOOST_AUTO_TEST_CASE(trailing_slash_is_not_legacy) {
    for (const std::string& target : std::vector<std::string>{
             "/api/v3/files/" + sha256 + "/sigma_analysis/",
             "/api/v3/files/" + sha256 + "/relationships/sigma_analysis/",
             "/api/v3/sigma_analyses/" + sha256 + "/", "/api/v3/sigma_analyses/" + sha256 + "/rules/",
             "/api/v3/sigma_analyses/" + sha256 + "/relationships/rules/",
             "/api/v3/files/" + sha256 + "/?relationships=sigma_analysis"}) {
        BOOST_TEST_CONTEXT(target) {
            const auto r = route_request("GET", target);
            BOOST_TEST(cls(r.route_class) == "passthrough");
        }
    }
    // An empty id is the object route with an id the handler rejects (400, never sent upstream).
    const auto empty = route_request("GET", "/api/v3/sigma_analyses/");
    BOOST_TEST(cls(empty.route_class) == "legacy");
    BOOST_TEST(empty.id.empty());
    BOOST_TEST(!sigma_analysis::is_file_id(empty.id));
}

BOOST_AUTO_TEST_CASE(rules_page_from_limit_and_cursor) {
    for (const std::string suffix : {"/rules", "/relationships/rules"}) {
        BOOST_TEST_CONTEXT(suffix) {
            const auto r =
                route_request("GET", "/api/v3/sigma_analyses/" + sha256 + suffix + "?limit=2&cursor=4");
            BOOST_TEST(cls(r.route_class) == "legacy");
            BOOST_TEST(r.error.empty());
            BOOST_TEST_REQUIRE(r.page.has_value());
            BOOST_TEST(r.page->offset == 4u);
            BOOST_TEST(r.page->limit == 2u);

            const auto order =
                route_request("GET", "/api/v3/sigma_analyses/" + sha256 + suffix + "?cursor=4&limit=2");
            BOOST_TEST_REQUIRE(order.page.has_value());
            BOOST_TEST(order.page->offset == 4u);
            BOOST_TEST(order.page->limit == 2u);
        }
    }
}

BOOST_AUTO_TEST_CASE(rules_page_errors) {
    for (const std::string query :
         {"limit=0", "limit=-1", "limit=abc", "cursor=x", "limit=2x", "limit=", "limit=+3",
          "limit=99999999999999999999999999", "cursor=-1", "cursor=4x"}) {
        for (const std::string suffix : {"/rules", "/relationships/rules"}) {
            BOOST_TEST_CONTEXT(suffix << "?" << query) {
                const auto r =
                    route_request("GET", "/api/v3/sigma_analyses/" + sha256 + suffix + "?" + query);
                BOOST_TEST(cls(r.route_class) == "legacy");
                BOOST_TEST(!r.error.empty());
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(rules_page_limit_is_clamped_and_defaults) {
    const auto big = route_request("GET", "/api/v3/sigma_analyses/" + sha256 + "/rules?limit=1000");
    BOOST_TEST(big.error.empty());
    BOOST_TEST_REQUIRE(big.page.has_value());
    BOOST_TEST(big.page->limit == shim::serve::max_page_limit);
    BOOST_TEST(big.page->limit == 40u);

    const auto forty = route_request("GET", "/api/v3/sigma_analyses/" + sha256 + "/rules?limit=40");
    BOOST_TEST_REQUIRE(forty.page.has_value());
    BOOST_TEST(forty.page->limit == 40u);

    const auto one = route_request("GET", "/api/v3/sigma_analyses/" + sha256 + "/rules?limit=1");
    BOOST_TEST_REQUIRE(one.page.has_value());
    BOOST_TEST(one.page->limit == 1u);

    for (const std::string& target :
         std::vector<std::string>{"/api/v3/sigma_analyses/" + sha256 + "/rules",
                                  "/api/v3/sigma_analyses/" + sha256 + "/relationships/rules",
                                  "/api/v3/sigma_analyses/" + sha256 + "/rules?x=1"}) {
        BOOST_TEST_CONTEXT(target) {
            const auto r = route_request("GET", target);
            BOOST_TEST(r.error.empty());
            BOOST_TEST_REQUIRE(r.page.has_value());
            BOOST_TEST(r.page->limit == shim::serve::default_page_limit);
            BOOST_TEST(r.page->limit == 10u);
            BOOST_TEST(r.page->offset == 0u);
        }
    }
    // The non-list routes ignore limit and cursor altogether.
    const auto object = route_request("GET", "/api/v3/sigma_analyses/" + sha256 + "?limit=abc&cursor=x");
    BOOST_TEST(cls(object.route_class) == "legacy");
    BOOST_TEST(object.error.empty());
    BOOST_TEST(!object.page.has_value());
}

BOOST_AUTO_TEST_CASE(pseudo_random_targets_never_throw) {
    // A fixed-seed linear congruential generator, so a failure repeats.
    std::uint64_t state = 0x5eed5eed12345678ull;
    const auto next = [&state] {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<std::uint32_t>(state >> 33);
    };
    // clang-format off
    const std::vector<std::string> pieces = {
        "/", "%", "?", "&", "=", ".", "#", "a", "F", "0", "9", "%2e", "%2F", "%00", "%", "%g", "..",
        "api", "v3", "files", "sigma_analyses", "sigma_analysis", "relationships", "rules", "_shim", "livez",
        "limit", "cursor", "-1", "1000", ",", "+", ";", "[", "]", " ", "\t", "\r", "\n", std::string(1, '\0'),
        "\x7f", "\x01", "\x1b", "\xc3\xa9", "\xff", "\xfe", "\x80", "\xe2\x80\xae", sha256, sha256_upper,
    };
    // clang-format on
    const std::vector<std::string> prefixes = {"",
                                               "/",
                                               "/api/v3/",
                                               "/api/v3/files/",
                                               "/api/v3/sigma_analyses/",
                                               "/_shim/",
                                               "/api/v3/files/" + sha256 + "?relationships=sigma_analysis,",
                                               "/api/v3/files/" + sha256 + "?x=1&relationships=",
                                               "/api/v3/sigma_analyses/" + sha256 + "/rules?limit="};
    const std::vector<std::string> methods = {"GET", "POST", "CONNECT", "HEAD", "", "G\x01T"};
    std::size_t counts[4] = {0, 0, 0, 0};
    for (int i = 0; i < 10'000; ++i) {
        std::string target = prefixes[next() % prefixes.size()];
        const auto n = next() % 24;
        for (std::uint32_t k = 0; k < n; ++k)
            target += pieces[next() % pieces.size()];
        const auto& method = methods[next() % 5 == 0 ? next() % methods.size() : 0];
        try {
            const auto r = route_request(method, target);
            counts[static_cast<int>(r.route_class)]++;
            if (r.route_class == RouteClass::legacy) {
                BOOST_TEST(r.file_target.starts_with("/api/v3/files/"));
                // What goes upstream is itself a valid request target.
                BOOST_TEST(boost::urls::parse_origin_form(r.file_target).has_value(), r.file_target);
                // A legacy id never smuggles a raw slash, '?' or control byte into the upstream request.
                BOOST_TEST(r.id.find_first_of(std::string("/?#\0\r\n", 6)) == std::string::npos);
            }
            if (r.route_class == RouteClass::invalid) BOOST_TEST(!r.error.empty());
        } catch (const std::exception& e) {
            BOOST_ERROR("route_request threw on '" << target << "': " << e.what());
        } catch (...) {
            BOOST_ERROR("route_request threw a non-exception on '" << target << "'");
        }
    }
    // The generator reaches every class, so the loop exercises more than the invalid branch.
    for (int c = 0; c < 4; ++c)
        BOOST_TEST(counts[c] > 0u, route_class_name(static_cast<RouteClass>(c)));
}

BOOST_AUTO_TEST_SUITE_END()
