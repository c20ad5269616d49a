// The comparison engine on hand-made pairs: each rule of comparison.cpp's header comment, the match-context
// parser, path globs and redaction.
#include "compare/comparison.hpp"
#include "compare/match_context_pairs.hpp"
#include "compare/path_glob.hpp"
#include "compare/redact.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

// For Boost.Test's messages; found by argument-dependent lookup.
namespace shim::compare {
std::ostream& operator<<(std::ostream& os, Verdict v) {
    return os << verdict_name(v);
}
} // namespace shim::compare

namespace {

namespace json = boost::json;
using namespace shim::compare;

json::value parse(std::string_view text) {
    return json::parse(text);
}

Comparison compare_texts(std::string_view legacy, std::string_view reconstructed,
                         const CompareOptions& options = {}) {
    return compare({200, parse(legacy)}, {200, parse(reconstructed)}, options);
}

// Every finding on one line each, for failure messages.
std::string describe(const Comparison& c) {
    std::string out = std::string(verdict_name(c.verdict)) + (c.truncated ? " (truncated)" : "") + "\n";
    for (const auto& f : c.findings)
        out += path_text(f.path) + " " + f.kind + " " + std::string(verdict_name(f.verdict)) + " " +
               json::serialize(f.legacy) + " | " + json::serialize(f.reconstructed) + "\n";
    return out;
}

// Checks that the comparison holds exactly one finding, with this path, kind and verdict.
void expect_single(const Comparison& c, std::string_view path, std::string_view kind, Verdict verdict) {
    BOOST_TEST_INFO(describe(c));
    BOOST_REQUIRE_EQUAL(c.findings.size(), 1u);
    BOOST_TEST(path_text(c.findings[0].path) == path);
    BOOST_TEST(c.findings[0].kind == kind);
    BOOST_TEST(c.findings[0].verdict == verdict);
    BOOST_TEST(c.verdict == verdict);
}

// One rule_matches item; `extra` is more members as JSON text (with a leading comma).
std::string match(std::string_view rule_id, std::string_view context, std::string_view extra = "") {
    json::object m;
    m["match_context"] = context;
    m["rule_id"] = rule_id;
    m["rule_level"] = "high";
    return json::serialize(m).insert(json::serialize(m).size() - 1, extra);
}

// An object-form answer holding these rule_matches items.
std::string analysis(const std::vector<std::string>& matches, std::string_view stats = "") {
    std::string s = R"({"data":{"attributes":{"analysis_date":100,"rule_matches":[)";
    for (std::size_t i = 0; i < matches.size(); ++i)
        s += (i ? "," : "") + matches[i];
    s += "]";
    if (!stats.empty()) s += "," + std::string(stats);
    return s + R"(},"id":"x","type":"sigma_analysis"}})";
}

std::vector<PathGlob> globs(const std::vector<std::string>& patterns) {
    return {patterns.begin(), patterns.end()};
}

Path path_of(std::string_view text) {
    Path p;
    std::size_t begin = 0;
    for (;;) {
        const auto dot = text.find('.', begin);
        p.emplace_back(text.substr(begin, dot - begin));
        if (dot == std::string_view::npos) return p;
        begin = dot + 1;
    }
}

const std::string kStats = R"("severity_stats":{"critical":0,"high":1,"low":0,"medium":0},)"
                           R"("source_severity_stats":{"S1":{"critical":0,"high":1,"low":0,"medium":0}})";

} // namespace

BOOST_AUTO_TEST_SUITE(compare_engine)

BOOST_AUTO_TEST_CASE(identical_answers_are_exact) {
    const auto text = analysis({match("r1", "$EventID: '1'"), match("r2", "")}, kStats);
    const auto c = compare_texts(text, text);
    BOOST_TEST(c.verdict == Verdict::exact);
    BOOST_TEST(c.findings.empty());
    BOOST_TEST(!c.truncated);
}

BOOST_AUTO_TEST_CASE(real_legacy_fixture_against_itself_and_reordered_is_exact) {
    const auto body = parse(
        test_support::read_file(test_support::fixture("vt/legacy_files_sigma_analysis.real_f912398c.json")));
    auto reordered = body;
    auto& matches = reordered.at("data").at("attributes").at("rule_matches").as_array();
    BOOST_REQUIRE_GE(matches.size(), 2u);
    std::reverse(matches.begin(), matches.end());
    BOOST_REQUIRE(reordered != body);

    const auto same = compare({200, body}, {200, body}, {});
    BOOST_TEST(same.verdict == Verdict::exact, describe(same));
    const auto reversed = compare({200, body}, {200, reordered}, {});
    BOOST_TEST(reversed.verdict == Verdict::exact, describe(reversed));
    BOOST_TEST(reversed.findings.empty());
}

BOOST_AUTO_TEST_CASE(positional_arrays_report_missing_and_extra) {
    const auto shorter = compare_texts(R"({"a":[1,2,3]})", R"({"a":[1,2]})");
    expect_single(shorter, "a.2", "missing", Verdict::different);
    const auto longer = compare_texts(R"({"a":[1,2]})", R"({"a":[1,2,3]})");
    expect_single(longer, "a.2", "extra", Verdict::different);
    const auto reordered = compare_texts(R"({"a":[1,2]})", R"({"a":[2,1]})");
    BOOST_TEST(reordered.findings.size() == 2u, describe(reordered));
    BOOST_TEST(reordered.verdict == Verdict::different);
}

BOOST_AUTO_TEST_CASE(match_context_subset_is_compatible) {
    const auto c = compare_texts(analysis({match("r1", "$EventID: '1117'")}),
                                 analysis({match("r1", "$EventID: '1117', $Image: 'x'")}));
    expect_single(c, "data.attributes.rule_matches.0.match_context", "match_context_subset",
                  Verdict::compatible);
    BOOST_TEST(c.findings[0].legacy == json::value("$EventID: '1117'"));
    BOOST_TEST(c.findings[0].reconstructed == json::value("$EventID: '1117', $Image: 'x'"));
}

BOOST_AUTO_TEST_CASE(match_context_superset_is_different) {
    const auto c = compare_texts(analysis({match("r1", "$EventID: '1117', $Image: 'x'")}),
                                 analysis({match("r1", "$EventID: '1117'")}));
    BOOST_TEST_INFO(describe(c));
    BOOST_REQUIRE_EQUAL(c.findings.size(), 2u);
    BOOST_TEST(path_text(c.findings[0].path) == "data.attributes.rule_matches.0");
    BOOST_TEST(c.findings[0].kind == "match_missing");
    BOOST_TEST(c.findings[0].reconstructed.is_null());
    BOOST_TEST(c.findings[1].kind == "match_added");
    BOOST_TEST(c.verdict == Verdict::different);
}

BOOST_AUTO_TEST_CASE(subset_pairing_needs_the_same_rule) {
    const auto c = compare_texts(analysis({match("r1", "$EventID: '1'")}),
                                 analysis({match("r2", "$EventID: '1', $Image: 'x'")}));
    BOOST_TEST(c.findings.size() == 2u, describe(c));
    BOOST_TEST(c.verdict == Verdict::different);
}

BOOST_AUTO_TEST_CASE(unparseable_context_is_not_paired_as_a_subset) {
    const auto c =
        compare_texts(analysis({match("r1", "EventID=1")}), analysis({match("r1", "EventID=1, Image=x")}));
    BOOST_TEST_INFO(describe(c));
    BOOST_REQUIRE_EQUAL(c.findings.size(), 2u);
    BOOST_TEST(c.findings[0].kind == "match_missing");
    BOOST_TEST(c.findings[1].kind == "match_added");
    BOOST_TEST(c.verdict == Verdict::different);
}

BOOST_AUTO_TEST_CASE(rule_matches_are_a_multiset) {
    // Two identical items against one: the duplicate is missing, wherever it sits.
    const auto m = match("r1", "$A: '1'");
    const auto c = compare_texts(analysis({m, match("r2", ""), m}), analysis({match("r2", ""), m}));
    expect_single(c, "data.attributes.rule_matches.2", "match_missing", Verdict::different);
    BOOST_TEST(c.findings[0].legacy == parse(m));
}

BOOST_AUTO_TEST_CASE(paired_matches_compare_their_other_fields_at_the_legacy_index) {
    const auto c =
        compare_texts(analysis({match("r0", ""), match("r1", "$A: '1'", R"(,"rule_title":"T")")}),
                      analysis({match("r1", "$A: '1', $B: '2'", R"(,"rule_title":"U")"), match("r0", "")}));
    BOOST_TEST_INFO(describe(c));
    BOOST_REQUIRE_EQUAL(c.findings.size(), 2u);
    BOOST_TEST(path_text(c.findings[0].path) == "data.attributes.rule_matches.1.match_context");
    BOOST_TEST(c.findings[0].kind == "match_context_subset");
    BOOST_TEST(path_text(c.findings[1].path) == "data.attributes.rule_matches.1.rule_title");
    BOOST_TEST(c.findings[1].kind == "value");
}

BOOST_AUTO_TEST_CASE(missing_rule_author_is_different_and_added_one_compatible) {
    const auto with_author = analysis({match("r1", "$A: '1'", R"(,"rule_author":"me")")});
    const auto without = analysis({match("r1", "$A: '1'")});
    expect_single(compare_texts(with_author, without), "data.attributes.rule_matches.0.rule_author",
                  "missing", Verdict::different);
    const auto added = compare_texts(without, with_author);
    expect_single(added, "data.attributes.rule_matches.0.rule_author", "added", Verdict::compatible);
    BOOST_TEST(added.findings[0].legacy.is_null());
    BOOST_TEST(added.findings[0].reconstructed == json::value("me"));
}

BOOST_AUTO_TEST_CASE(embedded_rule_matches_are_keyed_too) {
    const auto legacy = R"({"data":{"relationships":{"sigma_analysis":{"data":{"attributes":{"rule_matches":[
        {"match_context":"$A: '1'","rule_id":"r1"},{"match_context":"$A: '2'","rule_id":"r2"}]}}}}}})";
    const auto rebuilt = R"({"data":{"relationships":{"sigma_analysis":{"data":{"attributes":{"rule_matches":[
        {"match_context":"$A: '2'","rule_id":"r2"},{"match_context":"$A: '1'","rule_id":"r1"}]}}}}}})";
    BOOST_TEST(compare_texts(legacy, rebuilt).verdict == Verdict::exact);
}

BOOST_AUTO_TEST_CASE(sigma_rule_lists_are_keyed_by_id_and_context) {
    const auto rule = [](std::string_view id, std::string_view context) {
        return R"({"context_attributes":{"match":")" + std::string(context) + R"("},"id":")" +
               std::string(id) + R"(","type":"sigma_rule"})";
    };
    const auto list = [](const std::string& a, const std::string& b) {
        return R"({"data":[)" + a + "," + b + R"(],"meta":{"count":2}})";
    };
    const auto reordered = compare_texts(list(rule("r1", "$A: '1'"), rule("r2", "$A: '2'")),
                                         list(rule("r2", "$A: '2'"), rule("r1", "$A: '1'")));
    BOOST_TEST(reordered.verdict == Verdict::exact, describe(reordered));

    const auto subset = compare_texts(list(rule("r1", "$A: '1'"), rule("r2", "$A: '2'")),
                                      list(rule("r2", "$A: '2'"), rule("r1", "$A: '1', $B: '2'")));
    expect_single(subset, "data.0.context_attributes.match", "match_context_subset", Verdict::compatible);

    const auto other = compare_texts(list(rule("r1", "$A: '1'"), rule("r2", "$A: '2'")),
                                     list(rule("r2", "$A: '2'"), rule("r3", "$A: '1'")));
    BOOST_TEST_INFO(describe(other));
    BOOST_REQUIRE_EQUAL(other.findings.size(), 2u);
    BOOST_TEST(path_text(other.findings[0].path) == "data.0");
    BOOST_TEST(other.findings[0].kind == "match_missing");
    BOOST_TEST(path_text(other.findings[1].path) == "data.1");
    BOOST_TEST(other.findings[1].kind == "match_added");
}

BOOST_AUTO_TEST_CASE(stats_level_difference_is_different) {
    std::string changed = kStats;
    changed.replace(changed.find(R"("low":0)"), 7, R"("low":3)");
    const auto c = compare_texts(analysis({}, kStats), analysis({}, changed));
    expect_single(c, "data.attributes.severity_stats.low", "value", Verdict::different);
}

BOOST_AUTO_TEST_CASE(extra_or_missing_rule_source_is_different) {
    const std::string two_sources =
        kStats.substr(0, kStats.size() - 1) + R"(,"S2":{"critical":0,"high":0,"low":0,"medium":0}})";
    const auto extra = compare_texts(analysis({}, kStats), analysis({}, two_sources));
    expect_single(extra, "data.attributes.source_severity_stats.S2", "added", Verdict::different);
    const auto missing = compare_texts(analysis({}, two_sources), analysis({}, kStats));
    expect_single(missing, "data.attributes.source_severity_stats.S2", "missing", Verdict::different);
}

BOOST_AUTO_TEST_CASE(extra_stats_level_is_different) {
    const auto level =
        compare_texts(R"({"severity_stats":{"low":1}})", R"({"severity_stats":{"info":0,"low":1}})");
    expect_single(level, "severity_stats.info", "added", Verdict::different);
    const auto per_source = compare_texts(R"({"source_severity_stats":{"S":{"low":1}}})",
                                          R"({"source_severity_stats":{"S":{"info":0,"low":1}}})");
    expect_single(per_source, "source_severity_stats.S.info", "added", Verdict::different);
}

BOOST_AUTO_TEST_CASE(dates_within_tolerance_are_compatible) {
    CompareOptions options;
    options.date_tolerance_seconds = 60;
    const auto within = compare_texts(R"({"analysis_date":1000,"first_seen_date":5})",
                                      R"({"analysis_date":1060,"first_seen_date":1})", options);
    BOOST_TEST_INFO(describe(within));
    BOOST_REQUIRE_EQUAL(within.findings.size(), 2u);
    BOOST_TEST(within.findings[0].kind == "date");
    BOOST_TEST(within.findings[1].kind == "date");
    BOOST_TEST(within.verdict == Verdict::compatible);

    const auto beyond =
        compare_texts(R"({"last_modification_date":1000})", R"({"last_modification_date":939})", options);
    expect_single(beyond, "last_modification_date", "value", Verdict::different);

    const auto no_tolerance = compare_texts(R"({"analysis_date":1000})", R"({"analysis_date":1001})");
    expect_single(no_tolerance, "analysis_date", "value", Verdict::different);

    const auto not_a_date = compare_texts(R"({"count":1000})", R"({"count":1001})", options);
    expect_single(not_a_date, "count", "value", Verdict::different);
}

BOOST_AUTO_TEST_CASE(ignore_globs_skip_subtrees) {
    const auto legacy = R"({"data":{"attributes":{"rule_matches":[
        {"match_context":"","rule_author":"a","rule_id":"r1"}]},"links":{"self":"https://a/x"}},"meta":{"n":1}})";
    const auto rebuilt = R"({"data":{"attributes":{"rule_matches":[
        {"match_context":"","rule_author":"b","rule_id":"r1"}]},"links":{"self":"https://b/x"}},"meta":{"n":2}})";
    BOOST_TEST(compare_texts(legacy, rebuilt).findings.size() == 3u);

    CompareOptions options;
    options.ignore = {"data.links.self", "**.rule_author", "*.n"};
    const auto c = compare_texts(legacy, rebuilt, options);
    BOOST_TEST(c.verdict == Verdict::exact, describe(c));

    // Ignored keys that exist on one side only are not reported either.
    options.ignore = {"data.attributes.rule_matches.*.rule_author"};
    const auto one_sided = compare_texts(analysis({match("r1", "", R"(,"rule_author":"a")")}),
                                         analysis({match("r1", "")}), options);
    BOOST_TEST(one_sided.verdict == Verdict::exact, describe(one_sided));
}

BOOST_AUTO_TEST_CASE(ignored_match_context_pairs_on_the_rule_alone) {
    CompareOptions options;
    options.ignore = {"**.match_context"};
    const auto c =
        compare_texts(analysis({match("r1", "$A: '1'")}), analysis({match("r1", "$A: '2'")}), options);
    BOOST_TEST(c.verdict == Verdict::exact, describe(c));
}

BOOST_AUTO_TEST_CASE(ignored_keyed_array_is_skipped) {
    CompareOptions options;
    options.ignore = {"data.attributes.rule_matches"};
    const auto c = compare_texts(analysis({match("r1", "")}), analysis({}), options);
    BOOST_TEST(c.verdict == Verdict::exact, describe(c));
}

BOOST_AUTO_TEST_CASE(status_difference_is_reported_and_bodies_still_compared) {
    const auto c = compare({200, parse(R"({"a":1})")}, {404, parse(R"({"a":2})")}, {});
    BOOST_TEST_INFO(describe(c));
    BOOST_REQUIRE_EQUAL(c.findings.size(), 2u);
    BOOST_TEST(path_text(c.findings[0].path) == "@status");
    BOOST_TEST(c.findings[0].kind == "status");
    BOOST_TEST(c.findings[0].legacy == json::value(200));
    BOOST_TEST(c.findings[0].reconstructed == json::value(404));
    BOOST_TEST(c.findings[1].kind == "value");
    BOOST_TEST(c.verdict == Verdict::different);
}

BOOST_AUTO_TEST_CASE(error_message_differs_compatible_code_differs_different) {
    const auto message = compare_texts(R"({"error":{"code":"NotFoundError","message":"a"}})",
                                       R"({"error":{"code":"NotFoundError","message":"b"}})");
    expect_single(message, "error.message", "error_message", Verdict::compatible);

    const auto code = compare_texts(R"({"error":{"code":"NotFoundError","message":"a"}})",
                                    R"({"error":{"code":"TransientError","message":"b"}})");
    BOOST_TEST_INFO(describe(code));
    BOOST_REQUIRE_EQUAL(code.findings.size(), 2u);
    BOOST_TEST(path_text(code.findings[0].path) == "error.code");
    BOOST_TEST(code.findings[0].kind == "value");
    BOOST_TEST(code.findings[1].kind == "value");
    BOOST_TEST(code.verdict == Verdict::different);
}

BOOST_AUTO_TEST_CASE(type_difference_is_different) {
    expect_single(compare_texts(R"({"a":"1"})", R"({"a":1})"), "a", "type", Verdict::different);
    expect_single(compare_texts(R"({"a":{}})", R"({"a":[]})"), "a", "type", Verdict::different);
    expect_single(compare_texts(R"({"a":null})", R"({"a":false})"), "a", "type", Verdict::different);
}

BOOST_AUTO_TEST_CASE(numbers_compare_by_value) {
    BOOST_TEST(compare_texts(R"({"a":1,"b":18446744073709551615})", R"({"a":1.0,"b":18446744073709551615})")
                   .verdict == Verdict::exact);
    expect_single(compare_texts(R"({"a":-1})", R"({"a":18446744073709551615})"), "a", "value",
                  Verdict::different);
}

BOOST_AUTO_TEST_CASE(findings_are_in_key_order) {
    const auto c = compare_texts(R"({"b":1,"a":1,"c":1})", R"({"c":2,"a":2,"b":2})");
    BOOST_TEST_INFO(describe(c));
    BOOST_REQUIRE_EQUAL(c.findings.size(), 3u);
    BOOST_TEST(path_text(c.findings[0].path) == "a");
    BOOST_TEST(path_text(c.findings[1].path) == "b");
    BOOST_TEST(path_text(c.findings[2].path) == "c");
}

BOOST_AUTO_TEST_CASE(max_findings_truncates_but_keeps_the_verdict) {
    CompareOptions options;
    options.max_findings = 1;
    options.date_tolerance_seconds = 10;
    // The compatible date comes first in key order; the different value after the cut must still count.
    const auto c = compare_texts(R"({"a_date":1,"b":1})", R"({"a_date":2,"b":2})", options);
    BOOST_TEST(c.truncated);
    BOOST_REQUIRE_EQUAL(c.findings.size(), 1u);
    BOOST_TEST(c.findings[0].kind == "date");
    BOOST_TEST(c.verdict == Verdict::different);

    options.max_findings = 2;
    BOOST_TEST(!compare_texts(R"({"a_date":1,"b":1})", R"({"a_date":2,"b":2})", options).truncated);
}

BOOST_AUTO_TEST_CASE(path_text_normalized_path_and_verdict_names) {
    const Path p = {"data", "attributes", "rule_matches", "3", "match_context"};
    BOOST_TEST(path_text(p) == "data.attributes.rule_matches.3.match_context");
    BOOST_TEST(normalized_path(p) == "data.attributes.rule_matches.*.match_context");
    BOOST_TEST(normalized_path({"data", "12", "x2"}) == "data.*.x2");
    BOOST_TEST(path_text({}) == "");
    BOOST_TEST(verdict_name(Verdict::exact) == "exact");
    BOOST_TEST(verdict_name(Verdict::compatible) == "compatible");
    BOOST_TEST(verdict_name(Verdict::different) == "different");
}

BOOST_AUTO_TEST_CASE(match_context_parses_pairs) {
    BOOST_TEST(parse_match_context("").value().empty());
    const auto one = parse_match_context("$EventID: '1117'");
    BOOST_REQUIRE(one);
    BOOST_REQUIRE_EQUAL(one->size(), 1u);
    BOOST_TEST((*one)[0].first == "EventID");
    BOOST_TEST((*one)[0].second == "1117");

    const auto two = parse_match_context("$Image: '', $Some.Key-2: 'x'");
    BOOST_REQUIRE(two);
    BOOST_REQUIRE_EQUAL(two->size(), 2u);
    BOOST_TEST((*two)[0].second == "");
    BOOST_TEST((*two)[1].first == "Some.Key-2");
}

BOOST_AUTO_TEST_CASE(match_context_values_keep_quotes_commas_and_newlines) {
    const auto pairs = parse_match_context("$CommandLine: 'a', $b 'c'', $Next: 'it's, $ fine\nok'");
    BOOST_REQUIRE(pairs);
    BOOST_REQUIRE_EQUAL(pairs->size(), 2u);
    BOOST_TEST((*pairs)[0].first == "CommandLine");
    BOOST_TEST((*pairs)[0].second == "a', $b 'c'");
    BOOST_TEST((*pairs)[1].first == "Next");
    BOOST_TEST((*pairs)[1].second == "it's, $ fine\nok");
}

BOOST_AUTO_TEST_CASE(match_context_rejects_other_text) {
    BOOST_TEST(!parse_match_context("EventID: '1'"));
    BOOST_TEST(!parse_match_context("$EventID: 1"));
    BOOST_TEST(!parse_match_context("$EventID: '1"));
    BOOST_TEST(!parse_match_context("$: '1'"));
    BOOST_TEST(!parse_match_context("$A: '1', "));
    // Without the ", " separator the second opening is part of the first value.
    const auto glued = parse_match_context("$A: '1' $B: '2'");
    BOOST_REQUIRE(glued);
    BOOST_REQUIRE_EQUAL(glued->size(), 1u);
    BOOST_TEST(glued->front().second == "1' $B: '2");
}

BOOST_AUTO_TEST_CASE(match_context_subset) {
    const auto small = parse_match_context("$EventID: '1117'").value();
    const auto large = parse_match_context("$EventID: '1117', $Image: 'x'").value();
    BOOST_TEST(is_subset(small, large));
    BOOST_TEST(!is_subset(large, small));
    BOOST_TEST(is_subset({}, small));
    BOOST_TEST(!is_subset(parse_match_context("$EventID: '1118'").value(), large));
}

BOOST_AUTO_TEST_CASE(glob_literals_and_single_star) {
    const PathGlob g("data.*.self");
    BOOST_TEST(g.pattern() == "data.*.self");
    BOOST_TEST(g.matches(path_of("data.links.self")));
    BOOST_TEST(!g.matches(path_of("data.self")));
    BOOST_TEST(!g.matches(path_of("data.a.b.self")));
    BOOST_TEST(!g.matches(path_of("data.links.self.x")));
    BOOST_TEST(PathGlob("a.b").matches(path_of("a.b")));
    BOOST_TEST(!PathGlob("a.b").matches(path_of("a")));
}

BOOST_AUTO_TEST_CASE(glob_double_star_anywhere) {
    const PathGlob start("**.rule_author");
    BOOST_TEST(start.matches(path_of("rule_author")));
    BOOST_TEST(start.matches(path_of("data.attributes.rule_matches.0.rule_author")));
    BOOST_TEST(!start.matches(path_of("data.rule_author.x")));

    const PathGlob middle("data.**.match");
    BOOST_TEST(middle.matches(path_of("data.match")));
    BOOST_TEST(middle.matches(path_of("data.0.context_attributes.match")));
    BOOST_TEST(!middle.matches(path_of("meta.match")));

    const PathGlob end("data.attributes.**");
    BOOST_TEST(end.matches(path_of("data.attributes")));
    BOOST_TEST(end.matches(path_of("data.attributes.a.b.c")));
    BOOST_TEST(!end.matches(path_of("data")));

    const PathGlob several("**.a.**.b.*");
    BOOST_TEST(several.matches(path_of("a.b.c")));
    BOOST_TEST(several.matches(path_of("x.a.y.a.z.b.c")));
    BOOST_TEST(!several.matches(path_of("x.a.y.b")));

    BOOST_TEST(PathGlob("**").matches({}));
    BOOST_TEST(!PathGlob("*").matches({}));
    BOOST_TEST(any_matches(globs({"x", "**.y"}), path_of("a.y")));
    BOOST_TEST(!any_matches({}, path_of("a.y")));
}

BOOST_AUTO_TEST_CASE(redact_body) {
    auto body = parse(R"({"data":{"attributes":{"rule_matches":[{"match_context":"secret","rule_id":"r"}]},
                          "links":{"self":"u"}}})");
    redact(body, globs({"**.match_context", "data.links"}));
    const auto expected = parse(R"({"data":{"attributes":{"rule_matches":[
        {"match_context":"[REDACTED]","rule_id":"r"}]},"links":"[REDACTED]"}})");
    BOOST_TEST(body == expected, json::serialize(body));
}

BOOST_AUTO_TEST_CASE(redact_findings) {
    auto c = compare_texts(
        analysis({match("r1", "$A: 'old'"), match("r2", "$A: 'gone'")}, R"("links":{"self":"a"})"),
        analysis({match("r1", "$A: 'old', $B: 'new'")}, R"("links":{"self":"b"},"secret":1)"));
    BOOST_TEST_INFO(describe(c));
    BOOST_REQUIRE_EQUAL(c.findings.size(), 4u);
    redact(c.findings, globs({"**.match_context", "data.attributes.links", "data.attributes.secret"}));
    BOOST_TEST_INFO(describe(c));
    const json::value masked(redacted_text);
    // Findings come in key order: links, rule_matches, secret.
    // Inside a matched subtree: masked whole.
    BOOST_TEST(path_text(c.findings[0].path) == "data.attributes.links.self");
    BOOST_TEST(c.findings[0].legacy == masked);
    BOOST_TEST(c.findings[0].reconstructed == masked);
    // The subset finding sits on a matched path: both values masked.
    BOOST_TEST(c.findings[1].kind == "match_context_subset");
    BOOST_TEST(c.findings[1].legacy == masked);
    BOOST_TEST(c.findings[1].reconstructed == masked);
    // The missing item carries a match_context below its path: only that member masked, the null side kept.
    BOOST_TEST(c.findings[2].kind == "match_missing");
    BOOST_REQUIRE(c.findings[2].legacy.is_object());
    BOOST_TEST(c.findings[2].legacy.at("match_context") == masked);
    BOOST_TEST(c.findings[2].legacy.at("rule_id") == json::value("r2"));
    BOOST_TEST(c.findings[2].reconstructed.is_null());
    // An added key: the absent legacy side stays null.
    BOOST_TEST(path_text(c.findings[3].path) == "data.attributes.secret");
    BOOST_TEST(c.findings[3].legacy.is_null());
    BOOST_TEST(c.findings[3].reconstructed == masked);
}

BOOST_AUTO_TEST_SUITE_END()
