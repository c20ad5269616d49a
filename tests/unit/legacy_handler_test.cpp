// The legacy routes answered from upstream objects, with a scripted upstream serving the real fixtures: the
// answers (against the legacy examples and the golden files), what is asked upstream and when, the errors,
// and the answer memo.
#include "economy/byte_lru.hpp"
#include "fake_upstream.hpp"
#include "ops/metrics.hpp"
#include "serve/answer_memo.hpp"
#include "serve/legacy_handler.hpp"
#include "serve/router.hpp"
#include "serve/server_state.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <set>

namespace {

namespace json = boost::json;
namespace ts = test_support;
using shim::serve::HttpAnswer;
using shim::upstream::Failure;
using shim::upstream::UpstreamResponse;

const std::string F912 = "f912398cb3542ab704fe917af4a60d4feee21ac577535b10453170f10c6fd6de";
const std::string DOCS_OBJ = "c885691ab568bd5bff581555e1d15ef82558c5a655c9c51ae5bd554b85fc7424";
const std::string DOCS_REL = "c8846914b9644d1bff54155ce4d14ef82548c64655c9431ae94d56448bfc7424";
const std::string F568 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9";
const std::string F568_MD5 = "2a0ac716254c23667b8a223a6e5f6e13";
const std::string PS1 = "020876e69dac4b2cb5b75a616dbdac8b913f3cc06fbabd8f8dd3277691ba48b6";
const std::string STATS_ONLY = "03bd9a94482f180bb047626cb2f27ccf8daa0e201345480b43585580e09c311b";
const std::string RULE_5C3E = "5c3ea6806114163b8cdf5735aeb07e702ab63e0e486f721df84cf675e2b0a04b";
const std::string RULE_3BC9_PREFIX = "3bc9d141";

std::string files(const std::string& id) {
    return "/api/v3/files/" + id;
}
std::string behaviours(const std::string& id) {
    return files(id) + "/behaviours";
}
std::string rule(const std::string& id) {
    return "/api/v3/sigma_rules/" + id;
}
std::string roundtrip(const std::string& name) {
    return ts::read_file(ts::fixture("roundtrip/" + name));
}
std::string legacy_example(const std::string& name) {
    return ts::read_file(ts::fixture("vt/" + name));
}

std::string header(const HttpAnswer& a, std::string_view name) {
    std::string value;
    std::size_t seen = 0;
    for (const auto& [n, v] : a.header_list()) {
        if (n == name) {
            value = v;
            ++seen;
        }
    }
    BOOST_TEST(seen <= 1u, name << " set " << seen << " times");
    return value;
}

std::string error_code_of(const HttpAnswer& a) {
    const auto doc = json::parse(a.body);
    return std::string(doc.at_pointer("/error/code").as_string());
}

std::multiset<std::string> targets(const ts::FakeUpstream& up) {
    std::multiset<std::string> t;
    for (const auto& r : up.requests)
        t.insert(r.target);
    return t;
}

std::size_t rule_requests(const ts::FakeUpstream& up) {
    return static_cast<std::size_t>(std::count_if(up.requests.begin(), up.requests.end(), [](const auto& r) {
        return r.target.starts_with("/api/v3/sigma_rules/");
    }));
}

// A behaviour page with a cursor to the next one (none: the last page).
std::string with_cursor(const std::string& page, const std::string& cursor) {
    auto doc = json::parse(page);
    auto& meta = doc.as_object()["meta"].emplace_object();
    if (!cursor.empty()) meta["cursor"] = cursor;
    return json::serialize(doc);
}

const std::string empty_page = R"({"data": [], "meta": {"count": 0}})";

// One LegacyHandler over a FakeUpstream, on its own io_context.
struct Bench {
    boost::asio::io_context ioc;
    ts::FakeUpstream up;
    shim::serve::ServeConfig config;
    shim::economy::ByteLru lru{0};
    shim::ops::Metrics metrics;
    shim::serve::AnswerMemo memo{lru, metrics};
    shim::serve::LegacyHandler handler{up, config, memo, metrics};

    explicit Bench(std::size_t cache_bytes = 0) : lru(cache_bytes) {
        shim::serve::register_server_metrics(metrics);
    }

    void serve(const std::string& target, std::string body) { up.always(target, ts::json_answer(200, body)); }
    // The File object and its one behaviour page, from the round-trip fixtures.
    void serve_file(const std::string& sha256, const std::string& file_name, const std::string& page_name) {
        serve(files(sha256), roundtrip(file_name));
        serve(behaviours(sha256), roundtrip(page_name));
    }

    static shim::serve::LegacyRequest request(const std::string& target) {
        return {shim::serve::route_request("GET", target), "test-key", "req-1", target, {}};
    }
    boost::asio::awaitable<HttpAnswer> answer(shim::serve::LegacyRequest request) {
        co_return co_await handler.handle(request);
    }
    HttpAnswer get(const std::string& target) { return ts::run_to_end(ioc, answer(request(target))); }
};

void check_same_json(const std::string& produced, const std::string& expected) {
    std::string diff;
    BOOST_TEST(ts::same_json(produced, expected, diff), diff);
}

void check_reconstructed(const HttpAnswer& a, const std::string& sha256, std::string_view fidelity) {
    BOOST_TEST(a.status == 200u, a.body.substr(0, 300));
    BOOST_TEST(header(a, "Content-Type") == "application/json; charset=utf-8");
    BOOST_TEST(header(a, "X-Sigma-Shim") == "reconstructed");
    BOOST_TEST(header(a, "Deprecation") == "true");
    BOOST_TEST(header(a, "Link") ==
               "<https://www.virustotal.com/api/v3/files/" + sha256 + ">; rel=\"successor-version\"");
    BOOST_TEST(header(a, "X-Sigma-Shim-Fidelity") == fidelity, a.note);
}

// In these tests the shim's own errors are these codes; any other is VirusTotal's, relayed.
void check_error(const HttpAnswer& a, unsigned status, const std::string& code) {
    BOOST_TEST(a.status == status, a.body.substr(0, 300));
    BOOST_TEST(error_code_of(a) == code);
    const bool ours =
        code == "InvalidArgumentError" || code == "TransientError" || code == "DeadlineExceededError";
    BOOST_TEST(header(a, "X-Sigma-Shim") == (ours ? "local" : "reconstructed"));
}

} // namespace

BOOST_AUTO_TEST_SUITE(legacy_handler)

// -- the answers -------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(relationship_form_gives_the_real_legacy_answer) {
    Bench b;
    b.serve_file(F912, "f912398c.file.json", "f912398c.behaviours.json");
    const auto a = b.get(files(F912) + "/sigma_analysis");
    check_reconstructed(a, F912, "full");
    check_same_json(a.body, legacy_example("legacy_files_sigma_analysis.real_f912398c.json"));
    BOOST_TEST((targets(b.up) == std::multiset<std::string>{files(F912), behaviours(F912)}),
               "the File object and one behaviour page, nothing else");
    BOOST_TEST(a.upstream_calls == 2u);
}

BOOST_AUTO_TEST_CASE(object_form_gives_the_documented_object) {
    Bench b;
    b.serve_file(DOCS_OBJ, "docs_sigma_analyses.file.json", "docs_sigma_analyses.behaviours.json");
    const auto a = b.get("/api/v3/sigma_analyses/" + DOCS_OBJ);
    check_reconstructed(a, DOCS_OBJ, "full");
    check_same_json(a.body, legacy_example("legacy_sigma_analysis_object.docs_example_copy.virscan-py.json"));
    BOOST_TEST(rule_requests(b.up) == 0u, "the object form in `all` mode needs no rule object");
}

BOOST_AUTO_TEST_CASE(rules_form_embeds_the_upstream_rule_objects) {
    Bench b;
    b.serve_file(DOCS_OBJ, "docs_sigma_analyses.file.json", "docs_sigma_analyses.behaviours.json");
    b.serve(rule(RULE_5C3E), roundtrip("rules/" + RULE_5C3E + ".json"));
    const auto a = b.get("/api/v3/sigma_analyses/" + DOCS_OBJ + "/rules?limit=2");
    BOOST_TEST(a.status == 200u, a.body.substr(0, 300));
    const auto produced = json::parse(a.body);
    const auto expected =
        json::parse(legacy_example("legacy_sigma_analyses_rules_relationship.docs_example.json"));
    BOOST_TEST(produced.at("data") == expected.at("data"));
    BOOST_TEST(produced.at_pointer("/meta/count") == expected.at_pointer("/meta/count"));
    // Every distinct rule of the file was asked for, once.
    BOOST_TEST(b.up.count(rule(RULE_5C3E)) == 1u);
    BOOST_TEST(rule_requests(b.up) == 2u);
}

BOOST_AUTO_TEST_CASE(a_missing_rule_object_makes_the_answer_partial_not_failed) {
    Bench b;
    b.serve_file(DOCS_OBJ, "docs_sigma_analyses.file.json", "docs_sigma_analyses.behaviours.json");
    // No rule object at all: every sigma_rules fetch gets the upstream's 404.
    const auto a = b.get("/api/v3/sigma_analyses/" + DOCS_OBJ + "/rules?limit=2");
    check_reconstructed(a, DOCS_OBJ, "partial");
    BOOST_TEST(a.note.find("missing_rule_objects=") != std::string::npos, a.note);
    const auto items = json::parse(a.body).at("data").as_array();
    BOOST_TEST(items.size() == 2u, "every match is still listed");
    BOOST_TEST(rule_requests(b.up) == 2u);
}

BOOST_AUTO_TEST_CASE(rule_fields_mode_fetches_rules_and_selects_the_legacy_fields) {
    Bench b;
    b.config.match_context = sigma_analysis::ContextMode::rule_fields;
    b.serve_file(DOCS_REL, "docs_files_sigma_analysis.wide.file.json",
                 "docs_files_sigma_analysis.wide.behaviours.json");
    b.serve(rule(RULE_5C3E), roundtrip("rules/" + RULE_5C3E + ".json"));
    const auto a = b.get(files(DOCS_REL) + "/sigma_analysis");
    // 3bc9d141 has no rule object: it falls back to every field, and the answer says so.
    check_reconstructed(a, DOCS_REL, "partial");
    BOOST_TEST(a.note == "rule_fallbacks=1");
    check_same_json(a.body, legacy_example("legacy_files_sigma_analysis_relationship.docs_example.json"));
    BOOST_TEST(b.up.count(rule(RULE_5C3E)) == 1u);
    BOOST_TEST(rule_requests(b.up) == 2u);
}

BOOST_AUTO_TEST_CASE(every_form_and_mode_matches_the_golden_answers) {
    // The golden answers are `convert` on the File object alone: here the behaviour page is empty.
    const std::pair<std::string, std::string> inputs[] = {
        {"file_object.real.azul_Win32DLL_multipurpose", F568},
        {"file_object.real.azul_powershell_script", PS1},
        {"file_object.real.msticpy_vt3_file_1", STATS_ONLY},
    };
    const std::pair<std::string, std::string> forms[] = {
        {"object", "/api/v3/sigma_analyses/{}"},
        {"relationship", "/api/v3/files/{}/sigma_analysis"},
        {"descriptor", "/api/v3/files/{}/relationships/sigma_analysis"},
        {"embedded", "/api/v3/files/{}?relationships=sigma_analysis"},
    };
    for (const auto& [name, sha256] : inputs) {
        for (const auto mode : {sigma_analysis::ContextMode::all, sigma_analysis::ContextMode::rule_fields}) {
            const std::string mode_name = mode == sigma_analysis::ContextMode::all ? "all" : "rule-fields";
            for (const auto& [form, pattern] : forms) {
                BOOST_TEST_CONTEXT(name << " " << form << " " << mode_name) {
                    Bench b;
                    b.config.match_context = mode;
                    b.serve(files(sha256), ts::read_file(ts::fixture("vt/" + name + ".json")));
                    b.serve(behaviours(sha256), empty_page);
                    std::string target = pattern;
                    target.replace(target.find("{}"), 2, sha256);
                    const auto a = b.get(target);
                    std::string golden = ts::source_dir() + "/tests/golden/" + name + "/" + form;
                    if (form != "descriptor" && form != "embedded") golden += "." + mode_name;
                    BOOST_TEST(a.status == 200u);
                    BOOST_TEST((a.body == ts::minify_json_text(ts::read_file(golden + ".json"))),
                               "differs from " << golden);
                    // Rule objects are asked for in rule-fields mode only (none of these forms embeds them),
                    // and only for a file with results (msticpy's has its stats alone).
                    const bool has_results = sha256 != STATS_ONLY;
                    BOOST_TEST((rule_requests(b.up) > 0) ==
                               (mode == sigma_analysis::ContextMode::rule_fields && has_results));
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(list_forms_answer_a_window_of_the_golden_items) {
    Bench b;
    b.serve(files(PS1), ts::read_file(ts::fixture("vt/file_object.real.azul_powershell_script.json")));
    b.serve(behaviours(PS1), empty_page);
    const auto all_items =
        json::parse(ts::read_file(ts::source_dir() +
                                  "/tests/golden/file_object.real.azul_powershell_script/rules.all.json"))
            .at("data")
            .as_array();
    BOOST_REQUIRE(all_items.size() > 12u);

    // No limit: VirusTotal's ten.
    const auto first = json::parse(b.get("/api/v3/sigma_analyses/" + PS1 + "/rules").body);
    BOOST_TEST(first.at("data").as_array() == json::array(all_items.begin(), all_items.begin() + 10));
    BOOST_TEST(first.at_pointer("/meta/count").as_int64() == static_cast<std::int64_t>(all_items.size()));
    BOOST_TEST(first.at_pointer("/meta/cursor").as_string() == "10");
    BOOST_TEST(first.at_pointer("/links/self").as_string() ==
               "https://www.virustotal.com/api/v3/sigma_analyses/" + PS1 + "/rules?limit=10");

    const auto second = json::parse(b.get("/api/v3/sigma_analyses/" + PS1 + "/rules?limit=2&cursor=10").body);
    BOOST_TEST(second.at("data").as_array() == json::array(all_items.begin() + 10, all_items.begin() + 12));
    BOOST_TEST(second.at_pointer("/links/next").as_string() ==
               "https://www.virustotal.com/api/v3/sigma_analyses/" + PS1 + "/rules?cursor=12&limit=2");

    b.up.requests.clear();
    const auto descriptors = b.get("/api/v3/sigma_analyses/" + PS1 + "/relationships/rules?limit=3");
    BOOST_TEST(descriptors.status == 200u);
    const auto descriptor_doc = json::parse(descriptors.body);
    const auto& items = descriptor_doc.at("data").as_array();
    BOOST_REQUIRE(items.size() == 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        BOOST_TEST(items[i].at("id") == all_items[i].at("id"));
        BOOST_TEST(items[i].at("type").as_string() == "sigma_rule");
    }
    BOOST_TEST(rule_requests(b.up) == 0u, "descriptors need no rule object");
}

BOOST_AUTO_TEST_CASE(an_md5_or_upper_case_id_asks_for_the_file_by_it_and_links_its_sha256) {
    Bench b;
    const std::string file = ts::read_file(ts::source_dir() + "/shim/demo/files/" + F568 + ".json");
    const std::string page = ts::read_file(ts::source_dir() + "/shim/demo/behaviours/" + F568 + ".json");
    for (const std::string& id : {F568_MD5, std::string("2A0AC716254C23667B8A223A6E5F6E13")}) {
        b.serve(files(F568_MD5), file);
        b.serve(behaviours(F568_MD5), page);
        b.up.requests.clear();
        const auto a = b.get("/api/v3/sigma_analyses/" + id);
        check_reconstructed(a, F568, "full");
        BOOST_TEST((targets(b.up) == std::multiset<std::string>{files(F568_MD5), behaviours(F568_MD5)}));
        const auto doc = json::parse(a.body);
        BOOST_TEST(doc.at_pointer("/data/id").as_string() == F568, "the analysis is the SHA-256's");
    }
}

BOOST_AUTO_TEST_CASE(embedded_form_keeps_the_other_relationships_and_drops_its_own_upstream) {
    Bench b;
    const std::string upstream_target = files(F568) + "?relationships=comments";
    auto file = json::parse(ts::read_file(ts::source_dir() + "/shim/demo/files/" + F568 + ".json"));
    file.at("data").as_object()["relationships"] = json::parse(R"({"comments": {"data": []}})");
    b.serve(upstream_target, json::serialize(file));
    b.serve(behaviours(F568), ts::read_file(ts::source_dir() + "/shim/demo/behaviours/" + F568 + ".json"));
    const auto a = b.get(files(F568) + "?relationships=comments,sigma_analysis");
    check_reconstructed(a, F568, "full");
    BOOST_TEST((targets(b.up) == std::multiset<std::string>{upstream_target, behaviours(F568)}));
    const auto relationships = json::parse(a.body).at_pointer("/data/relationships").as_object();
    BOOST_TEST(relationships.contains("comments"));
    BOOST_TEST(relationships.at("sigma_analysis").at("data") ==
               json::parse(R"({"id": ")" + F568 + R"(", "type": "sigma_analysis"})"));
}

// -- relationship counters ---------------------------------------------------------------------------------

// The demo File object with VirusTotal's counters for comments, compact and without its numbers that are not
// whole (the shim writes those in its own spelling), and without its Sigma fields when `sigma` is false.
std::string file_with_counters(bool sigma) {
    auto file = json::parse(ts::read_file(ts::source_dir() + "/shim/demo/files/" + F568 + ".json"));
    auto& data = file.at("data").as_object();
    auto& attributes = data.at("attributes").as_object();
    for (const char* key : {"pe_info", "trid", "sandbox_verdicts"})
        attributes.erase(key);
    if (!sigma) {
        for (const char* key : {"sigma_analysis_results", "sigma_analysis_stats", "sigma_analysis_summary"})
            attributes.erase(key);
    }
    data["relationships"] = json::parse(R"({"comments": {"meta": {"count": 3}}})");
    return json::serialize(file);
}

// The upstream's bytes with the counter put last in relationships: nothing else moved or rewritten.
std::string with_sigma_counter(const std::string& upstream, int count) {
    const std::string comments = R"("comments":{"meta":{"count":3}})";
    std::string expected = upstream;
    expected.insert(expected.find(comments) + comments.size(),
                    R"(,"sigma_analysis":{"meta":{"count":)" + std::to_string(count) + "}}");
    return expected;
}

void check_counter_answer(const HttpAnswer& a, const std::string& expected_body) {
    BOOST_TEST(a.status == 200u, a.body.substr(0, 300));
    BOOST_TEST(a.body == expected_body);
    BOOST_TEST(header(a, "X-Sigma-Shim") == "reconstructed");
    BOOST_TEST(header(a, "X-Sigma-Shim-Fidelity") == "full");
    BOOST_TEST(header(a, "Content-Type") == "application/json; charset=utf-8");
    // The File object is no deprecated route, and its own successor.
    BOOST_TEST(header(a, "Deprecation").empty());
    BOOST_TEST(header(a, "Link").empty());
}

BOOST_AUTO_TEST_CASE(counters_alone_count_one_from_the_file_object_without_asking_behaviours) {
    Bench b;
    const std::string target = files(F568) + "?relationship_counters=true";
    const std::string upstream = file_with_counters(true);
    b.serve(target, upstream);
    b.serve(behaviours(F568), ts::read_file(ts::source_dir() + "/shim/demo/behaviours/" + F568 + ".json"));
    check_counter_answer(b.get(target), with_sigma_counter(upstream, 1));
    BOOST_TEST((targets(b.up) == std::multiset<std::string>{target}), "the query as sent; no behaviours");
}

BOOST_AUTO_TEST_CASE(counters_alone_count_the_stats_only_file_as_an_analysis) {
    Bench b;
    const std::string target = files(STATS_ONLY) + "?relationship_counters=true";
    b.serve(target, legacy_example("file_object.real.msticpy_vt3_file_1.json"));
    const auto a = b.get(target);
    BOOST_TEST(a.status == 200u, a.body.substr(0, 300));
    BOOST_TEST(json::parse(a.body).at_pointer("/data/relationships/sigma_analysis") ==
               json::parse(R"({"meta": {"count": 1}})"));
    BOOST_TEST(header(a, "X-Sigma-Shim-Fidelity") == "full");
    BOOST_TEST(b.up.requests.size() == 1u);
}

BOOST_AUTO_TEST_CASE(counters_alone_ask_the_behaviours_when_the_file_object_has_no_sigma_data) {
    // Behaviours with results: an analysis exists (the legacy routes answer it), so the count is 1.
    Bench with;
    const std::string target = files(F568) + "?relationship_counters=true";
    const std::string upstream = file_with_counters(false);
    with.serve(target, upstream);
    with.serve(behaviours(F568), ts::read_file(ts::source_dir() + "/shim/demo/behaviours/" + F568 + ".json"));
    check_counter_answer(with.get(target), with_sigma_counter(upstream, 1));
    BOOST_TEST((targets(with.up) == std::multiset<std::string>{target, behaviours(F568)}));

    // Nothing anywhere: the 404 of the legacy routes, so 0.
    Bench without;
    without.serve(target, upstream);
    without.serve(behaviours(F568), empty_page);
    check_counter_answer(without.get(target), with_sigma_counter(upstream, 0));
    BOOST_TEST(rule_requests(without.up) == 0u);
}

BOOST_AUTO_TEST_CASE(counters_alone_add_relationships_when_the_upstream_gave_none) {
    Bench b;
    const std::string target = files(F912) + "?relationship_counters=true";
    const std::string upstream = R"({"data":{"attributes":{},"id":")" + F912 + R"(","type":"file"},"x":1})";
    b.serve(target, upstream);
    b.serve(behaviours(F912), empty_page);
    const auto a = b.get(target);
    BOOST_TEST(a.body ==
               R"({"data":{"attributes":{},"id":")" + F912 +
                   R"(","type":"file","relationships":{"sigma_analysis":{"meta":{"count":0}}}},"x":1})");
}

BOOST_AUTO_TEST_CASE(counters_with_the_embedded_form_count_in_the_descriptor) {
    for (const bool sigma : {true, false}) {
        BOOST_TEST_CONTEXT("sigma data: " << sigma) {
            Bench b;
            const std::string upstream_target = files(F568) + "?relationship_counters=true";
            b.serve(upstream_target, file_with_counters(sigma));
            b.serve(behaviours(F568), empty_page);
            const auto a = b.get(files(F568) + "?relationships=sigma_analysis&relationship_counters=true");
            check_reconstructed(a, F568, "full");
            BOOST_TEST((targets(b.up) == std::multiset<std::string>{upstream_target, behaviours(F568)}));
            const auto doc = json::parse(a.body);
            const std::string links =
                R"("links": {"related": "https://www.virustotal.com/api/v3/files/)" + F568 +
                R"(/sigma_analysis", "self": "https://www.virustotal.com/api/v3/files/)" + F568 +
                R"(/relationships/sigma_analysis"})";
            const std::string expected = sigma ? R"({"data": {"id": ")" + F568 +
                                                     R"(", "type": "sigma_analysis"}, )" + links +
                                                     R"(, "meta": {"count": 1}})"
                                               : R"({"data": null, )" + links + R"(, "meta": {"count": 0}})";
            BOOST_TEST(doc.at_pointer("/data/relationships/sigma_analysis") == json::parse(expected));
            BOOST_TEST(doc.at_pointer("/data/relationships/comments") ==
                       json::parse(R"({"meta": {"count": 3}})"));
        }
    }
}

BOOST_AUTO_TEST_CASE(counters_of_a_file_the_upstream_does_not_know_give_its_404_as_it_came) {
    const std::string unknown(64, 'a');
    const std::string own_error = R"({"error": {"code": "NotFoundError", "message": "no such file here"}})";
    Bench b;
    const std::string target = files(unknown) + "?relationship_counters=true";
    b.up.always(target, ts::json_answer(404, own_error));
    const auto a = b.get(target);
    check_error(a, 404, "NotFoundError");
    BOOST_TEST(a.body == own_error);
    BOOST_TEST(b.up.requests.size() == 1u);
}

// -- behaviour pages ---------------------------------------------------------------------------------------

// Three pages of real behaviours, each adding rules the others lack: f912's, then f568's, then c885691a's.
void serve_three_pages(Bench& b) {
    b.serve(files(F912), roundtrip("f912398c.file.json"));
    b.serve(behaviours(F912), with_cursor(roundtrip("f912398c.behaviours.json"), "page 2/x"));
    b.serve(behaviours(F912) + "?cursor=page%202%2Fx",
            with_cursor(ts::read_file(ts::source_dir() + "/shim/demo/behaviours/" + F568 + ".json"), "p3"));
    b.serve(behaviours(F912) + "?cursor=p3",
            with_cursor(roundtrip("docs_sigma_analyses.behaviours.json"), ""));
}

std::set<std::string> rule_ids_matched(const HttpAnswer& a) {
    std::set<std::string> ids;
    const auto doc = json::parse(a.body);
    for (const auto& m : doc.at_pointer("/data/attributes/rule_matches").as_array())
        ids.insert(std::string(m.at("rule_id").as_string()).substr(0, 8));
    return ids;
}

BOOST_AUTO_TEST_CASE(behaviour_pages_are_followed_by_cursor) {
    Bench b;
    serve_three_pages(b);
    const auto a = b.get("/api/v3/sigma_analyses/" + F912);
    check_reconstructed(a, F912, "full");
    BOOST_TEST((targets(b.up) == std::multiset<std::string>{files(F912), behaviours(F912),
                                                            behaviours(F912) + "?cursor=page%202%2Fx",
                                                            behaviours(F912) + "?cursor=p3"}));
    const auto ids = rule_ids_matched(a);
    BOOST_TEST(ids.count("cf90b923") == 1u);       // page 1
    BOOST_TEST(ids.count("1dfbc92a") == 1u);       // page 2
    BOOST_TEST(ids.count(RULE_3BC9_PREFIX) == 1u); // page 3
    BOOST_TEST(a.upstream_calls == 4u);
}

BOOST_AUTO_TEST_CASE(behaviour_pages_are_capped_and_the_cut_is_reported) {
    Bench b;
    b.config.behaviour_pages = 2;
    serve_three_pages(b);
    const auto a = b.get("/api/v3/sigma_analyses/" + F912);
    check_reconstructed(a, F912, "partial");
    BOOST_TEST(a.note == "behaviours_truncated=1");
    BOOST_TEST(b.up.count(behaviours(F912) + "?cursor=p3") == 0u);
    BOOST_TEST(b.up.requests.size() == 3u);
    const auto ids = rule_ids_matched(a);
    BOOST_TEST(ids.count("1dfbc92a") == 1u);
    BOOST_TEST(ids.count(RULE_3BC9_PREFIX) == 0u);
}

BOOST_AUTO_TEST_CASE(no_behaviour_page_is_asked_with_a_cap_of_zero) {
    Bench b;
    b.config.behaviour_pages = 0;
    serve_three_pages(b);
    const auto a = b.get("/api/v3/sigma_analyses/" + F912);
    BOOST_TEST(a.status == 200u);
    BOOST_TEST((targets(b.up) == std::multiset<std::string>{files(F912)}));
}

// -- rule fetches ------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(rule_objects_are_fetched_at_most_rule_fetch_concurrency_at_once) {
    Bench b;
    b.config.rule_fetch_concurrency = 3;
    b.serve(files(PS1), ts::read_file(ts::fixture("vt/file_object.real.azul_powershell_script.json")));
    b.serve(behaviours(PS1), empty_page);
    b.up.hold();
    auto task = ts::start_task(b.ioc, b.answer(Bench::request("/api/v3/sigma_analyses/" + PS1 + "/rules")));
    b.ioc.poll();
    BOOST_TEST(b.up.waiting() == 2u, "the File object and the first page, together");
    BOOST_TEST(rule_requests(b.up) == 0u);

    std::size_t most = 0;
    std::size_t rounds = 0;
    while (!task->done) {
        BOOST_REQUIRE(b.up.waiting() > 0u);
        BOOST_REQUIRE(++rounds < 1000u);
        b.up.release();
        b.up.hold();
        b.ioc.poll();
        if (rule_requests(b.up) > 0) most = std::max(most, b.up.waiting());
    }
    const auto a = task->get();
    BOOST_TEST(a.status == 200u);
    BOOST_TEST(most == 3u, "the rule fetches ran three at a time");
    // Each distinct rule once.
    std::set<std::string> distinct;
    for (const auto& r : b.up.requests)
        if (r.target.starts_with("/api/v3/sigma_rules/")) distinct.insert(r.target);
    BOOST_TEST(distinct.size() == rule_requests(b.up));
    BOOST_TEST(distinct.size() > 3u);
}

// -- errors ------------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(an_invalid_id_or_window_is_400_and_asks_nothing) {
    Bench b;
    const std::vector<std::string> bad = {
        "/api/v3/sigma_analyses/not-a-hash",
        "/api/v3/files/" + F912.substr(1) + "/sigma_analysis",
        "/api/v3/files/" + std::string(32, 'g') + "/relationships/sigma_analysis",
        "/api/v3/sigma_analyses/" + F912 + "/rules?limit=abc",
        "/api/v3/sigma_analyses/" + F912 + "/rules?limit=0",
        "/api/v3/sigma_analyses/" + F912 + "/relationships/rules?limit=-1",
        "/api/v3/sigma_analyses/" + F912 + "/rules?cursor=%25%25x",
        "/api/v3/sigma_analyses/" + F912 + "/relationships/rules?cursor=%25%25x"};
    for (const auto& target : bad) {
        BOOST_TEST_CONTEXT(target) {
            const auto a = b.get(target);
            check_error(a, 400, "InvalidArgumentError");
        }
    }
    BOOST_TEST(b.up.requests.empty());
}

BOOST_AUTO_TEST_CASE(the_upstream_404_for_the_file_is_passed_through_in_every_form) {
    const std::string unknown(64, 'a');
    const std::string own_error = R"({"error": {"code": "NotFoundError", "message": "no such file here"}})";
    for (const std::string target :
         {"/api/v3/sigma_analyses/{}", "/api/v3/files/{}/sigma_analysis",
          "/api/v3/files/{}/relationships/sigma_analysis", "/api/v3/files/{}?relationships=sigma_analysis",
          "/api/v3/sigma_analyses/{}/rules", "/api/v3/sigma_analyses/{}/relationships/rules"}) {
        BOOST_TEST_CONTEXT(target) {
            Bench b;
            b.up.always(files(unknown), ts::json_answer(404, own_error));
            b.serve(behaviours(unknown), empty_page);
            std::string asked = target;
            asked.replace(asked.find("{}"), 2, unknown);
            const auto a = b.get(asked);
            check_error(a, 404, "NotFoundError");
            BOOST_TEST((a.body == own_error), "the upstream's own error body");
            BOOST_TEST(rule_requests(b.up) == 0u);
        }
    }
}

BOOST_AUTO_TEST_CASE(upstream_failures_for_the_file) {
    struct Case {
        std::string what;
        UpstreamResponse response;
        unsigned status;
        std::string code;
    };
    const Case cases[] = {
        {"unreachable", ts::failure_answer(Failure::transient), 503, "TransientError"},
        {"too slow", ts::failure_answer(Failure::deadline), 504, "DeadlineExceededError"},
        {"not JSON", ts::json_answer(200, "<html>maintenance</html>"), 503, "TransientError"},
        {"not a File object", ts::json_answer(200, roundtrip("f912398c.behaviours.json")), 503,
         "TransientError"},
        {"an error page without a VirusTotal error", ts::json_answer(502, "<html>bad gateway</html>"), 503,
         "TransientError"},
        {"a VirusTotal error", ts::json_answer(429, R"({"error": {"code": "QuotaExceededError"}})"), 429,
         "QuotaExceededError"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.what) {
            Bench b;
            b.up.always(files(F912), c.response);
            b.serve(behaviours(F912), roundtrip("f912398c.behaviours.json"));
            const auto a = b.get(files(F912) + "/sigma_analysis");
            check_error(a, c.status, c.code);
            BOOST_TEST(a.note.starts_with("file: "), a.note);
            BOOST_TEST(rule_requests(b.up) == 0u);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_failing_behaviour_page_fails_the_answer) {
    struct Case {
        std::string what;
        bool first_page; // else the second, reached by cursor
        UpstreamResponse response;
        unsigned status;
        std::string code;
    };
    const Case cases[] = {
        {"first page unreachable", true, ts::failure_answer(Failure::transient), 503, "TransientError"},
        {"first page too slow", true, ts::failure_answer(Failure::deadline), 504, "DeadlineExceededError"},
        {"first page not a list of behaviours", true, ts::json_answer(200, roundtrip("f912398c.file.json")),
         503, "TransientError"},
        {"second page not JSON", false, ts::json_answer(200, "{\"data\": ["), 503, "TransientError"},
        {"second page a VirusTotal error", false,
         ts::json_answer(404, R"({"error": {"code": "NotFoundError", "message": "no such cursor"}})"), 404,
         "NotFoundError"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.what) {
            Bench b;
            serve_three_pages(b);
            b.up.always(c.first_page ? behaviours(F912) : behaviours(F912) + "?cursor=page%202%2Fx",
                        c.response);
            const auto a = b.get(files(F912) + "/sigma_analysis");
            check_error(a, c.status, c.code);
            BOOST_TEST(a.note.starts_with("behaviours: "), a.note);
            BOOST_TEST(b.up.count(behaviours(F912) + "?cursor=p3") == 0u);
        }
    }
}

// -- the answer memo ---------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_repeated_request_with_every_source_fresh_is_answered_from_the_memo) {
    Bench b(1 << 20);
    const auto fresh = std::chrono::steady_clock::now() + std::chrono::hours(1);
    for (const auto& [target, name] : {std::pair{files(F912), "f912398c.file.json"},
                                       std::pair{behaviours(F912), "f912398c.behaviours.json"}}) {
        auto r = ts::json_answer(200, roundtrip(name));
        r.cache = shim::upstream::CacheStatus::hit;
        r.fresh_until = fresh;
        b.up.always(target, r);
    }
    const std::string target = files(F912) + "/sigma_analysis";
    const auto first = b.get(target);
    check_reconstructed(first, F912, "full");
    BOOST_TEST(header(first, "X-Sigma-Shim-Cache") == "hit");
    BOOST_TEST(b.up.requests.size() == 2u);

    const auto second = b.get(target);
    BOOST_TEST(b.up.requests.size() == 2u, "the memo's answer asks nothing upstream");
    check_reconstructed(second, F912, "full");
    BOOST_TEST(header(second, "X-Sigma-Shim-Cache") == "hit");
    BOOST_TEST(second.body_text() == first.body_text());
    BOOST_TEST(second.upstream_calls == 0u);

    // Another key never gets this key's answer.
    auto other = Bench::request(target);
    other.api_key = "another-key";
    const auto third = ts::run_to_end(b.ioc, b.answer(other));
    BOOST_TEST(third.body == first.body);
    BOOST_TEST(b.up.requests.size() == 4u);
}

BOOST_AUTO_TEST_CASE(an_answer_with_a_source_not_known_fresh_is_not_kept) {
    Bench b(1 << 20);
    auto file = ts::json_answer(200, roundtrip("f912398c.file.json"));
    file.fresh_until = std::chrono::steady_clock::now() + std::chrono::hours(1);
    b.up.always(files(F912), file);
    b.serve(behaviours(F912), roundtrip("f912398c.behaviours.json")); // not from the cache
    const std::string target = files(F912) + "/sigma_analysis";
    b.get(target);
    const auto again = b.get(target);
    check_reconstructed(again, F912, "full");
    BOOST_TEST(header(again, "X-Sigma-Shim-Cache") == "miss");
    BOOST_TEST(b.up.requests.size() == 4u);
}

BOOST_AUTO_TEST_SUITE_END()
