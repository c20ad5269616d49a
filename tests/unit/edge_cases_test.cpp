// Edge cases of the reconstruction core (contract sections 1-3): small inputs built here, answers checked as
// JSON values and, where byte stability matters, as exact bytes.
#include "sigma_analysis/extract.hpp"
#include "sigma_analysis/input.hpp"
#include "sigma_analysis/render.hpp"
#include "sigma_analysis/rule_fields.hpp"
#include "test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace json = boost::json;
namespace sa = sigma_analysis;

const std::string kSha = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
const std::string kMd5 = "44d88612fea8a8f36de82e1278abb02f";
const std::string kBase = "https://www.virustotal.com";

// Replaces {SHA}, {MD5} and {BASE} in an expected text.
std::string fill(std::string s) {
    const std::pair<std::string_view, const std::string*> tokens[] = {
        {"{SHA}", &kSha}, {"{MD5}", &kMd5}, {"{BASE}", &kBase}};
    for (const auto& [token, with] : tokens) {
        for (auto at = s.find(token); at != std::string::npos; at = s.find(token, at + with->size())) {
            s.replace(at, token.size(), *with);
        }
    }
    return s;
}

// A File object answer with the given attribute members (JSON text without the braces).
std::string file_doc(std::string_view attributes) {
    return R"({"data":{"attributes":{)" + std::string(attributes) + R"(},"id":")" + kSha +
           R"(","type":"file"}})";
}

// One File behaviour object (bare, no envelope) with the given attribute members.
std::string behaviour(std::string_view attributes, std::string_view id = "b") {
    return R"({"attributes":{)" + std::string(attributes) + R"(},"id":")" + std::string(id) +
           R"(","type":"file_behaviour"})";
}

// A behaviour list page holding the given behaviour objects.
std::string behaviour_page(const std::vector<std::string>& objects) {
    std::string s = R"({"data":[)";
    for (std::size_t i = 0; i < objects.size(); ++i) {
        if (i) s += ',';
        s += objects[i];
    }
    return s + R"(],"links":{"self":"x"},"meta":{"count":)" + std::to_string(objects.size()) + "}}";
}

// One sigma_analysis_results entry. `contexts` is the JSON text of the match_context list; empty leaves it
// out.
std::string entry(std::string_view rule_id, std::string_view contexts, std::string_view level = "high",
                  std::string_view source = "S1") {
    std::string s = "{";
    if (!contexts.empty()) s += R"("match_context":)" + std::string(contexts) + ",";
    s += R"("rule_description":"Desc )" + std::string(rule_id) + R"(","rule_id":")" + std::string(rule_id) +
         R"(","rule_level":")" + std::string(level) + R"(","rule_source":")" + std::string(source) +
         R"(","rule_title":"Title )" + std::string(rule_id) + R"("})";
    return s;
}

// `"sigma_analysis_results":[...]` with the given entries.
std::string results(const std::vector<std::string>& entries) {
    std::string s = R"("sigma_analysis_results":[)";
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (i) s += ',';
        s += entries[i];
    }
    return s + "]";
}

// The upstream documents of one request and the analysis extracted from them. Not copyable: the analysis and
// the catalog borrow from the documents.
struct Scenario {
    std::deque<json::value> docs;
    const json::value* file_document = nullptr;
    std::vector<const json::object*> behaviours;
    std::size_t skipped_behaviours = 0;
    sa::RuleCatalog rules;
    sa::Analysis analysis;

    explicit Scenario(const std::string& file, const std::vector<std::string>& behaviour_docs = {},
                      sa::ContextMode mode = sa::ContextMode::all,
                      const std::vector<std::string>& rule_docs = {}) {
        file_document = &docs.emplace_back(json::parse(file));
        const auto found_file = sa::find_file_object(*file_document);
        BOOST_REQUIRE_MESSAGE(found_file, found_file.error);
        for (const auto& text : behaviour_docs) {
            const auto& doc = docs.emplace_back(json::parse(text));
            const auto found = sa::find_behaviour_objects(doc);
            BOOST_REQUIRE_MESSAGE(found, found.error);
            behaviours.insert(behaviours.end(), found.value.objects.begin(), found.value.objects.end());
            skipped_behaviours += found.value.skipped;
        }
        for (const auto& text : rule_docs) {
            const auto& doc = docs.emplace_back(json::parse(text));
            const auto found = sa::find_rule_objects(doc);
            BOOST_REQUIRE_MESSAGE(found, found.error);
            for (const auto* rule : found.value)
                rules.add(*rule);
        }
        analysis = sa::extract({*found_file.value, behaviours, &rules, mode});
        analysis.diagnostics.skipped += skipped_behaviours;
    }
    Scenario(const Scenario&) = delete;
    Scenario& operator=(const Scenario&) = delete;

    sa::Answer render(sa::Form form, std::optional<sa::Page> page = std::nullopt,
                      std::string_view request_id = kSha) {
        sa::RenderContext ctx;
        ctx.public_base = kBase;
        ctx.request_id = request_id;
        ctx.page = page;
        ctx.rules = &rules;
        ctx.file_document = file_document;
        return sa::render(form, analysis, ctx);
    }

    // The OBJECT of the object form, parsed.
    json::object object() {
        const auto answer = render(sa::Form::object);
        BOOST_REQUIRE_EQUAL(answer.status, 200u);
        return json::parse(answer.body).at("data").as_object();
    }

    json::array matches() { return object().at("attributes").at("rule_matches").as_array(); }
};

std::vector<std::string> contexts_of(const json::array& matches) {
    std::vector<std::string> out;
    for (const auto& m : matches)
        out.emplace_back(m.at("match_context").as_string());
    return out;
}

std::vector<std::string> rule_ids_of(const json::array& matches) {
    std::vector<std::string> out;
    for (const auto& m : matches)
        out.emplace_back(m.at("rule_id").as_string());
    return out;
}

json::value stats(std::int64_t critical, std::int64_t high, std::int64_t low, std::int64_t medium) {
    json::object o;
    o["critical"] = critical;
    o["high"] = high;
    o["low"] = low;
    o["medium"] = medium;
    return o;
}

// A File object answer whose single rule r1 has one context with `values`, built with Boost.JSON so that any
// string survives the trip into the input.
std::string file_with_values(const json::object& values) {
    json::object ctx;
    ctx["values"] = values;
    json::array contexts;
    contexts.push_back(ctx);
    json::object e;
    e["match_context"] = contexts;
    e["rule_id"] = "r1";
    e["rule_level"] = "low";
    e["rule_source"] = "S1";
    e["rule_title"] = "T";
    e["rule_description"] = "D";
    json::array list;
    list.push_back(e);
    json::object attributes;
    attributes["sigma_analysis_results"] = list;
    json::object data;
    data["attributes"] = attributes;
    data["id"] = kSha;
    data["type"] = "file";
    json::object doc;
    doc["data"] = data;
    return json::serialize(doc);
}

// A folder of sigma_rule files, removed at the end of the test.
struct RulesDir {
    std::string path;
    RulesDir() {
        char tmpl[] = "/tmp/sigma-shim-edge-rules-XXXXXX";
        const char* made = ::mkdtemp(tmpl);
        BOOST_REQUIRE(made != nullptr);
        path = made;
    }
    ~RulesDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    RulesDir(const RulesDir&) = delete;
    RulesDir& operator=(const RulesDir&) = delete;
    void add(const std::string& name, const std::string& bytes) {
        test_support::write_file(path + "/" + name, bytes);
    }
};

const std::string kNoSigmaFile = file_doc(R"("last_analysis_date":100,"names":["x.exe"])");

// The tiny input of the exact-bytes tests: one rule with an author, no title, one context.
const std::string kTinyAttributes =
    R"("last_analysis_date":1700000000,"last_modification_date":1700000100,"sigma_analysis_results":[{"match_context":[{"values":{"Image":"C:\\a.exe","EventID":"1"}}],"rule_author":"Ann","rule_description":"Desc","rule_id":"r1","rule_level":"medium","rule_source":"S"}])";

const std::string kTinyObject = fill(
    R"J({"attributes":{"analysis_date":1700000000,"last_modification_date":1700000100,"rule_matches":[{"match_context":"$EventID: '1', $Image: 'C:\\a.exe'","rule_author":"Ann","rule_description":"Desc","rule_id":"r1","rule_level":"medium","rule_source":"S","rule_title":""}],"severity_stats":{"critical":0,"high":0,"low":0,"medium":1},"source_severity_stats":{"S":{"critical":0,"high":0,"low":0,"medium":1}}},"id":"{SHA}","links":{"self":"{BASE}/api/v3/sigma_analyses/{SHA}"},"type":"sigma_analysis"})J");

} // namespace

BOOST_AUTO_TEST_SUITE(edge_cases)

// ---- 3.2: results without match contexts
// -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(missing_match_context_gives_one_match_with_empty_string) {
    Scenario s(file_doc(results({entry("r1", "")})));
    const auto expected = json::parse(
        R"([{"match_context":"","rule_description":"Desc r1","rule_id":"r1","rule_level":"high","rule_source":"S1","rule_title":"Title r1"}])");
    BOOST_TEST(json::value(s.matches()) == expected, json::serialize(s.matches()));
    BOOST_TEST(s.object().at("attributes").at("severity_stats") == stats(0, 1, 0, 0));
    BOOST_TEST(!s.analysis.diagnostics.partial());
}

BOOST_AUTO_TEST_CASE(empty_match_context_list_gives_one_match_with_empty_string) {
    Scenario s(file_doc(results({entry("r1", "[]"), entry("r2", R"([{"values":{"A":"1"}}])")})));
    const auto expected = json::parse(
        R"([{"match_context":"","rule_description":"Desc r1","rule_id":"r1","rule_level":"high","rule_source":"S1","rule_title":"Title r1"},
            {"match_context":"$A: '1'","rule_description":"Desc r2","rule_id":"r2","rule_level":"high","rule_source":"S1","rule_title":"Title r2"}])");
    BOOST_TEST(json::value(s.matches()) == expected, json::serialize(s.matches()));
    BOOST_TEST(s.object().at("attributes").at("severity_stats") == stats(0, 2, 0, 0));
}

// ---- 2: rule_author only when upstream has it ------------------------------------------------------------

BOOST_AUTO_TEST_CASE(rule_author_absent_from_match_when_upstream_lacks_it) {
    Scenario s(file_doc(results({entry("r1", R"([{"values":{"A":"1"}}])")})));
    const auto body = s.render(sa::Form::object).body;
    BOOST_TEST(body.find("rule_author") == std::string::npos, body);
    BOOST_TEST(!s.matches().at(0).as_object().contains("rule_author"));
}

BOOST_AUTO_TEST_CASE(rule_author_written_when_upstream_has_it) {
    Scenario s(file_doc(results(
        {R"J({"match_context":[{"values":{"A":"1"}}],"rule_author":"Florian Roth (Nextron Systems)","rule_id":"r1","rule_level":"low"})J"})));
    const auto expected = json::parse(
        R"J([{"match_context":"$A: '1'","rule_author":"Florian Roth (Nextron Systems)","rule_description":"","rule_id":"r1","rule_level":"low","rule_source":"","rule_title":""}])J");
    BOOST_TEST(json::value(s.matches()) == expected, json::serialize(s.matches()));
    const auto body = s.render(sa::Form::object).body;
    BOOST_TEST(
        body.find(
            R"J("match_context":"$A: '1'","rule_author":"Florian Roth (Nextron Systems)","rule_description":"")J") !=
            std::string::npos,
        body);
}

// ---- 3.3: values verbatim
// ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(values_with_special_characters_are_written_verbatim) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"double and single quotes", R"(say "hi" it's)"},
        {"lone single quote", "'"},
        {"backslashes", R"(C:\Windows\System32\cmd.exe \\?\C:\x dir\)"},
        {"newlines", "line1\nline2\r\nline3"},
        {"tabs", "a\tb\t"},
        {"control characters", std::string("\x01"
                                           "ctl\x1f"
                                           "del\x7f")},
        {"NUL byte", std::string("a\0b", 3)},
        {"non-ASCII", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"},
        {"truncated", "powershell.exe -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoA[TRUNCATED]"},
        {"empty", ""},
        {"leading and trailing spaces", "  padded  "},
        {"looks like a separator", "a', $B: 'b"},
    };
    for (const auto& [name, value] : cases) {
        BOOST_TEST_CONTEXT(name) {
            json::object values;
            values["K"] = value;
            Scenario s(file_with_values(values));
            const auto answer = s.render(sa::Form::object);
            BOOST_TEST(answer.status == 200u);
            json::error_code ec;
            const auto parsed = json::parse(answer.body, ec);
            BOOST_TEST_REQUIRE(!ec, "not JSON: " << answer.body);
            const auto& match = parsed.at("data").at("attributes").at("rule_matches").at(0);
            BOOST_TEST(std::string(match.at("match_context").as_string()) == "$K: '" + value + "'");
            // Escaped as Boost.JSON's serializer escapes: re-serialising the parsed answer gives the same
            // bytes.
            BOOST_TEST(json::serialize(parsed) == answer.body);
            BOOST_TEST(!answer.partial);
        }
    }
}

BOOST_AUTO_TEST_CASE(control_characters_are_escaped_as_lowercase_u_sequences_in_the_bytes) {
    json::object values;
    values["K"] = std::string("\x01"
                              "a\tb\n\"\\",
                              7);
    Scenario s(file_with_values(values));
    const auto body = s.render(sa::Form::object).body;
    BOOST_TEST(body.find(R"("match_context":"$K: '\u0001a\tb\n\"\\'")") != std::string::npos, body);
}

// ---- 3.3: key order
// ------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(context_keys_come_out_in_byte_order) {
    Scenario s(file_doc(results({entry(
        "r1",
        R"([{"values":{"param1":"p","z":"zz","EventID":"4688","a":"x","\u00e9":"e","Zeta":"z","_u":"u","Event":"short"}}])")})));
    // 'E' 'Z' '_' 'a' 'p' 'z' then UTF-8 0xC3: uppercase before underscore before lowercase before non-ASCII;
    // a prefix before its extensions.
    BOOST_TEST(
        contexts_of(s.matches()) ==
            std::vector<std::string>{"$Event: 'short', $EventID: '4688', $Zeta: 'z', $_u: 'u', $a: 'x', "
                                     "$param1: 'p', $z: 'zz', $\xc3\xa9: 'e'"},
        boost::test_tools::per_element());
}

// ---- 3.1: merging File object and behaviours -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(same_context_in_file_object_and_behaviour_is_counted_once) {
    Scenario s(
        file_doc(results({entry("r1", R"([{"values":{"EventID":"1","Image":"a.exe","N":4672}}])")})),
        {behaviour(results(
            {R"({"match_context":[{"values":{"N":4672,"Image":"a.exe","EventID":"1"}}],"rule_id":"r1","rule_level":"low","rule_source":"Other","rule_title":"Other title"})"}))});
    const auto matches = s.matches();
    BOOST_TEST(contexts_of(matches) == std::vector<std::string>{"$EventID: '1', $Image: 'a.exe', $N: '4672'"},
               boost::test_tools::per_element());
    // The File object's entry gives the rule fields.
    BOOST_TEST(matches.at(0).at("rule_title") == "Title r1");
    BOOST_TEST(matches.at(0).at("rule_level") == "high");
    BOOST_TEST(s.object().at("attributes").at("severity_stats") == stats(0, 1, 0, 0));
    BOOST_TEST(s.object().at("attributes").at("source_severity_stats") ==
               json::parse(R"({"S1":{"critical":0,"high":1,"low":0,"medium":0}})"));
}

BOOST_AUTO_TEST_CASE(behaviour_context_for_known_rule_is_appended_after_file_object_contexts) {
    Scenario s(file_doc(results({entry("r1", R"([{"values":{"A":"1"}},{"values":{"A":"2"}}])"),
                                 entry("r2", R"([{"values":{"B":"1"}}])")})),
               {behaviour(results({entry("r1", R"([{"values":{"A":"2"}},{"values":{"A":"3"}}])")}), "b1"),
                behaviour(results({entry(
                              "r1", R"([{"values":{"A":"3"}},{"values":{"A":"4"}},{"values":{"A":"1"}}])")}),
                          "b2")});
    const auto matches = s.matches();
    BOOST_TEST(rule_ids_of(matches) == (std::vector<std::string>{"r1", "r1", "r1", "r1", "r2"}),
               boost::test_tools::per_element());
    BOOST_TEST(contexts_of(matches) ==
                   (std::vector<std::string>{"$A: '1'", "$A: '2'", "$A: '3'", "$A: '4'", "$B: '1'"}),
               boost::test_tools::per_element());
    BOOST_TEST(s.object().at("attributes").at("severity_stats") == stats(0, 5, 0, 0));
}

BOOST_AUTO_TEST_CASE(rule_only_in_behaviour_is_appended_after_file_object_rules) {
    Scenario s(file_doc(results({entry("r1", R"([{"values":{"A":"1"}}])"), entry("r2", "")})),
               {behaviour_page({behaviour(results({entry("r3", R"([{"values":{"C":"1"}}])", "low", "S2"),
                                                   entry("r1", R"([{"values":{"A":"1"}}])")}),
                                          "b1"),
                                behaviour(results({entry("r4", "", "critical"),
                                                   entry("r3", R"([{"values":{"C":"2"}}])")}),
                                          "b2")})});
    const auto matches = s.matches();
    BOOST_TEST(rule_ids_of(matches) == (std::vector<std::string>{"r1", "r2", "r3", "r3", "r4"}),
               boost::test_tools::per_element());
    BOOST_TEST(contexts_of(matches) == (std::vector<std::string>{"$A: '1'", "", "$C: '1'", "$C: '2'", ""}),
               boost::test_tools::per_element());
    const auto attributes = s.object().at("attributes");
    BOOST_TEST(attributes.at("severity_stats") == stats(1, 2, 2, 0));
    BOOST_TEST(
        attributes.at("source_severity_stats") ==
        json::parse(
            R"({"S1":{"critical":1,"high":2,"low":0,"medium":0},"S2":{"critical":0,"high":0,"low":2,"medium":0}})"));
}

BOOST_AUTO_TEST_CASE(behaviour_without_sigma_changes_matches_not_but_moves_dates) {
    const auto file = file_doc(R"("last_analysis_date":100,"last_modification_date":150,)" +
                               results({entry("r1", R"([{"values":{"A":"1"}}])")}));
    Scenario alone(file);
    Scenario with(file, {behaviour(R"("analysis_date":999,"processes_created":["x"])", "b1"),
                         behaviour(R"("analysis_date":500,"sigma_analysis_results":[])", "b2")});
    const auto a = alone.object().at("attributes");
    const auto b = with.object().at("attributes");
    BOOST_TEST(a.at("rule_matches") == b.at("rule_matches"));
    BOOST_TEST(a.at("severity_stats") == b.at("severity_stats"));
    BOOST_TEST(a.at("source_severity_stats") == b.at("source_severity_stats"));
    BOOST_TEST(a.at("analysis_date") == 100);
    BOOST_TEST(a.at("last_modification_date") == 150);
    // No behaviour carries Sigma: the latest of all behaviours, and the modification date not earlier.
    BOOST_TEST(b.at("analysis_date") == 999);
    BOOST_TEST(b.at("last_modification_date") == 999);
    BOOST_TEST(!with.analysis.diagnostics.partial());
}

// ---- 3.6: dates
// -----------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(dates_analysis_date_is_latest_among_behaviours_carrying_sigma) {
    const auto sigma = results({entry("r1", R"([{"values":{"A":"1"}}])")});
    Scenario s(file_doc(R"("last_analysis_date":2000,"last_modification_date":2100,)" + sigma),
               {behaviour(R"("analysis_date":300,"last_modification_date":500,)" + sigma, "b1"),
                behaviour(R"("analysis_date":400,"last_modification_date":450,)" + sigma, "b2"),
                behaviour(R"("analysis_date":900,"last_modification_date":950)", "no-sigma"),
                behaviour(R"("analysis_date":950,"last_modification_date":990,"sigma_analysis_results":[])",
                          "empty")});
    BOOST_TEST(s.analysis.analysis_date == 400);
    BOOST_TEST(s.analysis.last_modification_date == 500);
    const auto attributes = s.object().at("attributes");
    BOOST_TEST(attributes.at("analysis_date") == 400);
    BOOST_TEST(attributes.at("last_modification_date") == 500);
}

BOOST_AUTO_TEST_CASE(dates_behaviour_carrying_sigma_counts_even_when_its_entries_are_known) {
    const auto sigma = results({entry("r1", R"([{"values":{"A":"1"}}])")});
    Scenario s(file_doc(R"("last_analysis_date":2000,)" + sigma),
               {behaviour(R"("analysis_date":300,"last_modification_date":310,)" + sigma, "dup"),
                behaviour(R"("analysis_date":900)", "no-sigma")});
    BOOST_TEST(s.analysis.analysis_date == 300);
    BOOST_TEST(s.analysis.last_modification_date == 310);
}

BOOST_AUTO_TEST_CASE(dates_fall_back_to_any_behaviour) {
    Scenario s(
        file_doc(R"("last_analysis_date":2000,"last_modification_date":50,)" + results({entry("r1", "")})),
        {behaviour(R"("analysis_date":200)", "b1"), behaviour(R"("analysis_date":300)", "b2"),
         behaviour(R"("analysis_date":250)", "b3")});
    BOOST_TEST(s.analysis.analysis_date == 300);
    BOOST_TEST(s.analysis.last_modification_date == 300);
}

BOOST_AUTO_TEST_CASE(dates_fall_back_to_file_last_analysis_date) {
    Scenario s(
        file_doc(R"("last_analysis_date":100,"last_modification_date":150,)" + results({entry("r1", "")})),
        {behaviour(R"("tags":["x"])")});
    BOOST_TEST(s.analysis.analysis_date == 100);
    BOOST_TEST(s.analysis.last_modification_date == 150);
}

BOOST_AUTO_TEST_CASE(dates_fall_back_to_file_last_modification_date) {
    Scenario s(file_doc(R"("last_modification_date":150,)" + results({entry("r1", "")})));
    BOOST_TEST(s.analysis.analysis_date == 150);
    BOOST_TEST(s.analysis.last_modification_date == 150);
}

BOOST_AUTO_TEST_CASE(dates_are_zero_when_nothing_gives_one) {
    Scenario s(file_doc(results({entry("r1", "")})));
    const auto attributes = s.object().at("attributes");
    BOOST_TEST(attributes.at("analysis_date") == 0);
    BOOST_TEST(attributes.at("last_modification_date") == 0);
}

BOOST_AUTO_TEST_CASE(dates_last_modification_never_earlier_than_analysis_date) {
    {
        Scenario s(file_doc(R"("last_analysis_date":500,"last_modification_date":100,)" +
                            results({entry("r1", "")})));
        BOOST_TEST(s.analysis.analysis_date == 500);
        BOOST_TEST(s.analysis.last_modification_date == 500);
    }
    {
        const auto sigma = results({entry("r1", "")});
        Scenario s(file_doc(R"("last_modification_date":9999,)" + sigma),
                   {behaviour(R"("analysis_date":700,"last_modification_date":600,)" + sigma)});
        // The behaviour carrying Sigma gives both dates; the file's later modification date is not used.
        BOOST_TEST(s.analysis.analysis_date == 700);
        BOOST_TEST(s.analysis.last_modification_date == 700);
    }
}

// ---- 3.4: stats
// ----------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(stats_count_emitted_matches_per_level_and_per_source) {
    const std::string sigma_set = "Sigma Integrated Rule Set (GitHub)";
    const std::string soc_prime = "SOC Prime Threat Detection Marketplace";
    Scenario s(file_doc(results({
        entry("rA", R"([{"values":{"N":"1"}},{"values":{"N":"2"}},{"values":{"N":"3"}}])", "high", sigma_set),
        entry("rB", "", "low", soc_prime),
        entry("rC", R"([{"values":{"N":"1"}},{"values":{"N":"2"}}])", "critical", sigma_set),
        entry("rD", R"([{"values":{"N":"1"}}])", "medium", soc_prime),
    })));
    const auto body = s.render(sa::Form::object).body;
    // Sources in byte order ("SOC" before "Sig"), all four levels always written.
    const std::string expected =
        R"J("severity_stats":{"critical":2,"high":3,"low":1,"medium":1},"source_severity_stats":{"SOC Prime Threat Detection Marketplace":{"critical":0,"high":0,"low":1,"medium":1},"Sigma Integrated Rule Set (GitHub)":{"critical":2,"high":3,"low":0,"medium":0}}})J";
    BOOST_TEST(body.find(expected) != std::string::npos, body);
    BOOST_TEST(s.analysis.matches.size() == 7u);
}

BOOST_AUTO_TEST_CASE(stats_unknown_and_missing_level_counted_in_no_bucket_but_source_listed) {
    Scenario s(file_doc(results({
        entry("r0", R"([{"values":{"N":"1"}}])", "high", "S1"),
        entry("r1", R"([{"values":{"N":"1"}},{"values":{"N":"2"}}])", "informational", "X"),
        R"({"match_context":[{"values":{"N":"1"}}],"rule_id":"r2","rule_source":"Y","rule_title":"T2"})",
    })));
    const auto attributes = s.object().at("attributes");
    const auto& matches = attributes.at("rule_matches").as_array();
    BOOST_TEST_REQUIRE(matches.size() == 4u);
    // Contract 3.7: a missing level is written as ""; an unknown one is counted nowhere (written as upstream
    // gave it: the contract only blanks missing fields).
    BOOST_TEST(matches.at(1).at("rule_level") == "informational");
    BOOST_TEST(matches.at(2).at("rule_level") == "informational");
    BOOST_TEST(matches.at(3).at("rule_level") == "");
    BOOST_TEST(matches.at(3).as_object().contains("rule_level"));
    BOOST_TEST(attributes.at("severity_stats") == stats(0, 1, 0, 0));
    BOOST_TEST(attributes.at("source_severity_stats") ==
               json::parse(R"({"S1":{"critical":0,"high":1,"low":0,"medium":0},
                               "X":{"critical":0,"high":0,"low":0,"medium":0},
                               "Y":{"critical":0,"high":0,"low":0,"medium":0}})"));
}

// ---- 3.5: stats only
// ------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(stats_only_file_object_copies_stats_and_is_partial) {
    const auto file = file_doc(
        R"J("last_analysis_date":100,"sigma_analysis_stats":{"medium":3,"low":2,"high":1,"critical":0},"sigma_analysis_summary":{"Sigma Integrated Rule Set (GitHub)":{"critical":0,"high":1,"low":2,"medium":0},"SOC Prime Threat Detection Marketplace":{"medium":3,"critical":0,"high":0,"low":0}})J");
    const std::string expected = fill(
        R"J({"data":{"attributes":{"analysis_date":100,"last_modification_date":100,"rule_matches":[],"severity_stats":{"critical":0,"high":1,"low":2,"medium":3},"source_severity_stats":{"SOC Prime Threat Detection Marketplace":{"critical":0,"high":0,"low":0,"medium":3},"Sigma Integrated Rule Set (GitHub)":{"critical":0,"high":1,"low":2,"medium":0}}},"id":"{SHA}","links":{"self":"{BASE}/api/v3/sigma_analyses/{SHA}"},"type":"sigma_analysis"}})J");
    Scenario s(file);
    const auto answer = s.render(sa::Form::object);
    BOOST_TEST(answer.status == 200u);
    BOOST_TEST(answer.body == expected);
    BOOST_TEST(answer.partial);
    BOOST_TEST(s.analysis.diagnostics.stats_only);

    const auto r = test_support::convert({"--file", "-"}, {{"-", file}});
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(r.out == expected + "\n");
    BOOST_TEST(r.err.find("fidelity partial") != std::string::npos, r.err);
}

// ---- 1 / 3.5: no Sigma data -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(no_sigma_data_object_relationship_and_rules_forms_give_not_found) {
    const std::string expected_body =
        R"({"error":{"code":"NotFoundError","message":"Sigma analysis for \")" + kMd5 + R"(\" not found"}})";
    Scenario s(kNoSigmaFile, {behaviour(R"("analysis_date":5)")});
    BOOST_TEST(!s.analysis.present);
    for (const auto form :
         {sa::Form::object, sa::Form::relationship, sa::Form::rules, sa::Form::rules_descriptors}) {
        BOOST_TEST_CONTEXT(sa::form_name(form)) {
            const auto answer = s.render(form, std::nullopt, kMd5);
            BOOST_TEST(answer.status == 404u);
            BOOST_TEST(answer.body == expected_body);

            const auto r = test_support::convert(
                {"--file", "-", "--id", kMd5, "--form", std::string(sa::form_name(form))},
                {{"-", kNoSigmaFile}});
            BOOST_TEST(r.exit_code == 4);
            BOOST_TEST(r.out == expected_body + "\n");
        }
    }
}

BOOST_AUTO_TEST_CASE(no_sigma_data_descriptor_gives_null_data_and_count_zero) {
    const std::string expected = fill(
        R"({"data":null,"links":{"related":"{BASE}/api/v3/files/{MD5}/sigma_analysis","self":"{BASE}/api/v3/files/{MD5}/relationships/sigma_analysis"},"meta":{"count":0}})");
    Scenario s(kNoSigmaFile);
    const auto answer = s.render(sa::Form::descriptor, std::nullopt, kMd5);
    BOOST_TEST(answer.status == 200u);
    BOOST_TEST(answer.body == expected);

    const auto r =
        test_support::convert({"--file", "-", "--id", kMd5, "--form", "descriptor"}, {{"-", kNoSigmaFile}});
    BOOST_TEST(r.exit_code == 4);
    BOOST_TEST(r.out == expected + "\n");
}

BOOST_AUTO_TEST_CASE(no_sigma_data_embedded_gives_null_relationship_data) {
    Scenario s(kNoSigmaFile);
    const auto answer = s.render(sa::Form::embedded, std::nullopt, kMd5);
    BOOST_TEST(answer.status == 200u);
    const auto doc = json::parse(answer.body);
    BOOST_TEST(
        doc.at("data").at("relationships").at("sigma_analysis") ==
        json::parse(fill(
            R"({"data":null,"links":{"related":"{BASE}/api/v3/files/{MD5}/sigma_analysis","self":"{BASE}/api/v3/files/{MD5}/relationships/sigma_analysis"}})")));
    BOOST_TEST(doc.at("data").at("attributes") == json::parse(kNoSigmaFile).at("data").at("attributes"));

    const auto r = test_support::convert({"--file", "-", "--form", "embedded"}, {{"-", kNoSigmaFile}});
    BOOST_TEST(r.exit_code == 4);
    BOOST_TEST(json::parse(r.out).at("data").at("relationships").at("sigma_analysis").at("data").is_null());
}

// ---- 3.7: wrongly typed input
// ---------------------------------------------------------------------------------

namespace {

// Runs a File object whose results are `bad` followed by one valid entry r-ok, and checks the common outcome:
// no crash, the valid entry kept, the answer partial. Returns the matches.
json::array check_skip(const std::string& bad, std::size_t expected_skips = 1) {
    Scenario s(file_doc(R"("sigma_analysis_results":[)" + bad + "," +
                        entry("r-ok", R"([{"values":{"A":"ok"}}])") + "]"));
    BOOST_TEST(s.analysis.present);
    BOOST_TEST(s.analysis.diagnostics.skipped == expected_skips);
    const auto answer = s.render(sa::Form::object);
    BOOST_TEST(answer.status == 200u);
    BOOST_TEST(answer.partial);
    const auto matches = json::parse(answer.body).at("data").at("attributes").at("rule_matches").as_array();
    BOOST_TEST_REQUIRE(!matches.empty());
    BOOST_TEST(matches.back().at("rule_id") == "r-ok");
    BOOST_TEST(matches.back().at("match_context") == "$A: 'ok'");

    const auto r = test_support::convert({"--file", "-"},
                                         {{"-", s.file_document ? json::serialize(*s.file_document) : ""}});
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(r.err.find("fidelity partial") != std::string::npos, r.err);
    return matches;
}

} // namespace

BOOST_AUTO_TEST_CASE(wrong_type_result_entry_that_is_a_string_is_skipped) {
    const auto matches = check_skip(R"("not an entry")");
    BOOST_TEST(matches.size() == 1u);
}

BOOST_AUTO_TEST_CASE(wrong_type_numeric_rule_id_is_skipped) {
    const auto matches =
        check_skip(R"({"match_context":[{"values":{"A":"1"}}],"rule_id":42,"rule_level":"high"})");
    BOOST_TEST(matches.size() == 1u);
}

BOOST_AUTO_TEST_CASE(wrong_type_missing_rule_id_is_skipped) {
    const auto matches = check_skip(R"({"match_context":[{"values":{"A":"1"}}],"rule_level":"high"})");
    BOOST_TEST(matches.size() == 1u);
}

BOOST_AUTO_TEST_CASE(wrong_type_match_context_object_skips_the_entry_whole) {
    const auto matches =
        check_skip(R"({"match_context":{"values":{"A":"1"}},"rule_id":"r-bad","rule_level":"high"})");
    BOOST_TEST(matches.size() == 1u);
    BOOST_TEST(rule_ids_of(matches) == std::vector<std::string>{"r-ok"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(wrong_type_context_item_without_values_is_skipped_alone) {
    const auto matches =
        check_skip(entry("r1", R"([{"nope":{"A":"0"}},{"values":{"A":"1"}},5,"x",{"values":null}])"), 4);
    BOOST_TEST(rule_ids_of(matches) == (std::vector<std::string>{"r1", "r-ok"}),
               boost::test_tools::per_element());
    BOOST_TEST(contexts_of(matches) == (std::vector<std::string>{"$A: '1'", "$A: 'ok'"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(wrong_type_values_that_is_a_list_is_skipped_alone) {
    const auto matches = check_skip(entry("r1", R"([{"values":["A","1"]},{"values":{"A":"2"}}])"));
    BOOST_TEST(contexts_of(matches) == (std::vector<std::string>{"$A: '2'", "$A: 'ok'"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(wrong_type_rule_title_number_is_written_empty) {
    const auto matches = check_skip(
        R"({"match_context":[{"values":{"A":"1"}}],"rule_description":["d"],"rule_id":"r1","rule_level":"low","rule_source":"S1","rule_title":7})",
        2);
    BOOST_TEST_REQUIRE(matches.size() == 2u);
    BOOST_TEST(
        matches.at(0) ==
        json::parse(
            R"({"match_context":"$A: '1'","rule_description":"","rule_id":"r1","rule_level":"low","rule_source":"S1","rule_title":""})"));
}

BOOST_AUTO_TEST_CASE(wrong_type_many_at_once_no_crash_and_valid_entries_kept) {
    Scenario s(
        file_doc(
            R"("sigma_analysis_results":[null,1,[],{},{"rule_id":null},{"rule_id":"r1","match_context":"x"},)" +
            entry("r2", R"([{"values":{"A":"1"}}])") + "]"),
        {behaviour(R"("sigma_analysis_results":{"rule_id":"r3"})"),
         behaviour(R"("sigma_analysis_results":[)" + entry("r3", R"([{"values":{"B":"1"}},{"values":7}])") +
                   "]")});
    BOOST_TEST(s.analysis.diagnostics.partial());
    BOOST_TEST(s.analysis.diagnostics.skipped >= 8u);
    BOOST_TEST(rule_ids_of(s.matches()) == (std::vector<std::string>{"r2", "r3"}),
               boost::test_tools::per_element());
}

// ---- 3.7: non-string values
// -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(non_string_values_are_written_as_compact_json) {
    Scenario s(file_doc(results({entry(
        "r1",
        R"([{"values":{"EventID":4672,"B":true,"C":null,"D":{ "a" : 1 },"E":[ 1, 2 ],"F":false,"G":-3}}])")})));
    BOOST_TEST(
        contexts_of(s.matches()) ==
            std::vector<std::string>{
                R"($B: 'true', $C: 'null', $D: '{"a":1}', $E: '[1,2]', $EventID: '4672', $F: 'false', $G: '-3')"},
        boost::test_tools::per_element());
    BOOST_TEST(!s.analysis.diagnostics.partial());
}

BOOST_AUTO_TEST_CASE(non_string_double_value_is_written_as_plain_decimal) {
    Scenario s(file_doc(results({entry("r1", R"([{"values":{"F":1.5,"Z":0.25}}])")})));
    BOOST_TEST(contexts_of(s.matches()) == std::vector<std::string>{"$F: '1.5', $Z: '0.25'"},
               boost::test_tools::per_element());
}

// ---- 3.3: rule-fields mode --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(rule_fields_mode_with_docs_example_rule_writes_eventid_and_detection_fields) {
    const auto rule_doc = test_support::read_file(
        test_support::fixture("vt/legacy_sigma_analyses_rules_relationship.docs_example.json"));
    const std::string rule_id = "5c3ea6806114163b8cdf5735aeb07e702ab63e0e486f721df84cf675e2b0a04b";
    Scenario s(
        file_doc(results({entry(
            rule_id,
            R"([{"values":{"CommandLine":"attrib  +H monitor.bak","EventID":"1","Image":"C:\\Windows\\System32\\attrib.exe","ParentCommandLine":"C:\\Windows\\system32\\cmd.exe /c attrib +H monitor.bak","ParentImage":"C:\\Windows\\System32\\cmd.exe","User":"PC\\user","ProcessId":"4242","UtcTime":"2021-01-01 00:00:00.000"}}])",
            "low")})),
        {}, sa::ContextMode::rule_fields, {rule_doc});
    BOOST_TEST(
        contexts_of(s.matches()) ==
            std::vector<std::string>{
                R"($CommandLine: 'attrib  +H monitor.bak', $EventID: '1', $Image: 'C:\Windows\System32\attrib.exe', $ParentCommandLine: 'C:\Windows\system32\cmd.exe /c attrib +H monitor.bak', $ParentImage: 'C:\Windows\System32\cmd.exe')"},
        boost::test_tools::per_element());
    BOOST_TEST(!s.analysis.diagnostics.partial());
}

namespace {

// Details as VirusTotal serves them (JSON text), with modifiers, a keyword list and one plain object.
const std::string kModifierRule =
    R"J({"data":{"attributes":{"detection":{"condition":"(selection or sel2) and not filter and not keywords","details":{"selection":"{\"CommandLine|contains\":[\"-enc\",\"-e \"],\"Image|endswith\":\"\\\\powershell.exe\"}","filter":"{\"ParentImage|contains|all\":[\"a\",\"b\"]}","keywords":"[\"mimikatz\"]","sel2":{"TargetObject|startswith":"HKLM"}}},"level":"high","title":"T"},"id":"rmod","type":"sigma_rule"}})J";

} // namespace

BOOST_AUTO_TEST_CASE(rule_fields_mode_drops_modifiers_and_keeps_only_named_fields) {
    const auto fields = sa::detection_fields(json::parse(kModifierRule).at("data").as_object());
    BOOST_TEST_REQUIRE(fields.has_value());
    BOOST_TEST(*fields == (std::vector<std::string>{"CommandLine", "EventID", "Image", "ParentImage",
                                                    "TargetObject"}),
               boost::test_tools::per_element());

    Scenario s(
        file_doc(results({entry(
            "rmod",
            R"([{"values":{"User":"u","ParentImage":"z","Image":"y","Hashes":"h","EventID":"1","CommandLine":"x","TargetObject":"HKLM\\Run"}},
                       {"values":{"CommandLine":"c","Image":"i","TargetFilename":"t"}}])")})),
        {}, sa::ContextMode::rule_fields, {kModifierRule});
    BOOST_TEST(
        contexts_of(s.matches()) ==
            (std::vector<std::string>{
                R"($CommandLine: 'x', $EventID: '1', $Image: 'y', $ParentImage: 'z', $TargetObject: 'HKLM\Run')",
                "$CommandLine: 'c', $Image: 'i'"}),
        boost::test_tools::per_element());
    BOOST_TEST(!s.analysis.diagnostics.partial());
}

BOOST_AUTO_TEST_CASE(rule_fields_mode_without_rule_object_falls_back_to_all_keys_and_is_partial) {
    Scenario s(file_doc(results(
                   {entry("rmod", R"([{"values":{"CommandLine":"x","EventID":"1","User":"u"}}])"),
                    entry("r-unknown", R"([{"values":{"CommandLine":"x","EventID":"1","User":"u"}}])")})),
               {}, sa::ContextMode::rule_fields, {kModifierRule});
    BOOST_TEST(contexts_of(s.matches()) ==
                   (std::vector<std::string>{"$CommandLine: 'x', $EventID: '1'",
                                             "$CommandLine: 'x', $EventID: '1', $User: 'u'"}),
               boost::test_tools::per_element());
    BOOST_TEST(s.analysis.diagnostics.rule_fallbacks == 1u);
    BOOST_TEST(s.render(sa::Form::object).partial);
}

BOOST_AUTO_TEST_CASE(rule_fields_mode_through_convert_with_rules_folder) {
    RulesDir dir;
    dir.add("rmod.json", kModifierRule);
    const auto file =
        file_doc(results({entry("rmod", R"([{"values":{"CommandLine":"x","EventID":"1","User":"u"}}])"),
                          entry("r-unknown", R"([{"values":{"EventID":"1","User":"u"}}])")}));
    const auto r = test_support::convert(
        {"--file", "-", "--match-context", "rule-fields", "--rules", dir.path}, {{"-", file}});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    const auto matches = json::parse(r.out).at("data").at("attributes").at("rule_matches").as_array();
    BOOST_TEST(contexts_of(matches) == (std::vector<std::string>{"$CommandLine: 'x', $EventID: '1'",
                                                                 "$EventID: '1', $User: 'u'"}),
               boost::test_tools::per_element());
    BOOST_TEST(r.err.find("fidelity partial") != std::string::npos, r.err);
}

// ---- 1 / 2: exact bytes of each form
// ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(object_form_exact_bytes) {
    Scenario s(file_doc(kTinyAttributes));
    const auto answer = s.render(sa::Form::object, std::nullopt, kMd5);
    BOOST_TEST(answer.status == 200u);
    BOOST_TEST(answer.body == R"({"data":)" + kTinyObject + "}");
    BOOST_TEST(!answer.partial);
}

BOOST_AUTO_TEST_CASE(relationship_form_exact_bytes) {
    Scenario s(file_doc(kTinyAttributes));
    const auto answer = s.render(sa::Form::relationship, std::nullopt, kMd5);
    BOOST_TEST(answer.status == 200u);
    BOOST_TEST(
        answer.body ==
        R"({"data":)" + kTinyObject +
            fill(R"(,"links":{"self":"{BASE}/api/v3/files/{MD5}/sigma_analysis"},"meta":{"count":1}})"));
}

BOOST_AUTO_TEST_CASE(descriptor_form_exact_bytes) {
    const std::string expected = fill(
        R"({"data":{"id":"{SHA}","type":"sigma_analysis"},"links":{"related":"{BASE}/api/v3/files/{MD5}/sigma_analysis","self":"{BASE}/api/v3/files/{MD5}/relationships/sigma_analysis"},"meta":{"count":1}})");
    Scenario s(file_doc(kTinyAttributes));
    const auto answer = s.render(sa::Form::descriptor, std::nullopt, kMd5);
    BOOST_TEST(answer.status == 200u);
    BOOST_TEST(answer.body == expected);

    // Through convert: the id as the client sent it, lower-cased.
    std::string upper = kMd5;
    for (auto& c : upper)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const auto r = test_support::convert({"--file", "-", "--form", "descriptor", "--id", upper},
                                         {{"-", file_doc(kTinyAttributes)}});
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(r.out == expected + "\n");
}

BOOST_AUTO_TEST_CASE(embedded_form_keeps_other_relationships_and_replaces_sigma_analysis) {
    const std::string head = fill(
        R"({"data":{"attributes":{)" + kTinyAttributes +
        R"(},"id":"{SHA}","links":{"self":"{BASE}/api/v3/files/{SHA}"},"relationships":{"contacted_ips":{"data":[{"id":"1.2.3.4","type":"ip_address"}],"links":{"related":"r","self":"s"},"meta":{"count":1}},)");
    const std::string tail = R"(},"type":"file"},"meta":{"note":"n"}})";
    const std::string input =
        head + R"("sigma_analysis":{"data":null,"links":{"related":"old","self":"old"}})" + tail;
    const std::string expected =
        head +
        fill(
            R"("sigma_analysis":{"data":{"id":"{SHA}","type":"sigma_analysis"},"links":{"related":"{BASE}/api/v3/files/{MD5}/sigma_analysis","self":"{BASE}/api/v3/files/{MD5}/relationships/sigma_analysis"}})") +
        R"(},"type":"file"},"meta":{"note":"n"}})";
    Scenario s(input);
    const auto answer = s.render(sa::Form::embedded, std::nullopt, kMd5);
    BOOST_TEST(answer.status == 200u);
    BOOST_TEST(answer.body == expected);
}

BOOST_AUTO_TEST_CASE(embedded_form_replaces_sigma_analysis_listed_first) {
    const std::string input = fill(
        R"({"data":{"attributes":{)" + kTinyAttributes +
        R"(},"id":"{SHA}","relationships":{"sigma_analysis":{"data":{"id":"stale","type":"sigma_analysis"}},"bundled_files":{"data":[]}},"type":"file"}})");
    Scenario s(input);
    const auto answer = s.render(sa::Form::embedded, std::nullopt, kSha);
    const auto doc = json::parse(answer.body);
    BOOST_TEST(
        doc.at("data").at("relationships") ==
        json::parse(fill(
            R"({"bundled_files":{"data":[]},"sigma_analysis":{"data":{"id":"{SHA}","type":"sigma_analysis"},"links":{"related":"{BASE}/api/v3/files/{SHA}/sigma_analysis","self":"{BASE}/api/v3/files/{SHA}/relationships/sigma_analysis"}}})")));
    BOOST_TEST(answer.body.find("stale") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(embedded_form_adds_relationships_when_absent) {
    Scenario s(file_doc(kTinyAttributes));
    const auto answer = s.render(sa::Form::embedded, std::nullopt, kSha);
    const auto doc = json::parse(answer.body);
    BOOST_TEST(doc.at("data").at("relationships").at("sigma_analysis").at("data") ==
               json::parse(fill(R"({"id":"{SHA}","type":"sigma_analysis"})")));
    BOOST_TEST(doc.at("data").at("type") == "file");
}

BOOST_AUTO_TEST_CASE(embedded_form_with_non_object_relationships_writes_one_relationships_key) {
    const std::string input = fill(R"({"data":{"attributes":{)" + kTinyAttributes +
                                   R"(},"id":"{SHA}","relationships":null,"type":"file"}})");
    Scenario s(input);
    const auto answer = s.render(sa::Form::embedded, std::nullopt, kSha);
    std::size_t keys = 0;
    for (auto at = answer.body.find(R"("relationships":)"); at != std::string::npos;
         at = answer.body.find(R"("relationships":)", at + 1)) {
        ++keys;
    }
    BOOST_TEST(keys == 1u, answer.body);
    BOOST_TEST(
        json::parse(answer.body).at("data").at("relationships").at("sigma_analysis").at("data").is_object());
}

// ---- 1: list routes with a page
// -----------------------------------------------------------------------------

namespace {

const std::string kFiveMatches = file_doc(results({entry(
    "r1",
    R"([{"values":{"N":"0"}},{"values":{"N":"1"}},{"values":{"N":"2"}},{"values":{"N":"3"}},{"values":{"N":"4"}}])",
    "low")}));

const std::string kRuleR1 =
    R"({"data":{"attributes":{"title":"T","level":"low"},"type":"sigma_rule","id":"r1","links":{"self":"x"},"context_attributes":{"match":"stale"}}})";

} // namespace

BOOST_AUTO_TEST_CASE(rules_descriptors_page_limit_2_of_5) {
    Scenario s(kFiveMatches);
    const auto first = s.render(sa::Form::rules_descriptors, sa::Page{0, 2});
    BOOST_TEST(first.status == 200u);
    BOOST_TEST(
        first.body ==
        fill(
            R"J({"data":[{"context_attributes":{"match":"$N: '0'"},"id":"r1","type":"sigma_rule"},{"context_attributes":{"match":"$N: '1'"},"id":"r1","type":"sigma_rule"}],"links":{"next":"{BASE}/api/v3/sigma_analyses/{SHA}/relationships/rules?cursor=2&limit=2","related":"{BASE}/api/v3/sigma_analyses/{SHA}/rules","self":"{BASE}/api/v3/sigma_analyses/{SHA}/relationships/rules?limit=2"},"meta":{"count":5,"cursor":"2"}})J"));

    // Walking the cursors gives every item once, in order.
    std::vector<std::string> seen;
    std::optional<std::size_t> offset = 0;
    int pages = 0;
    while (offset && pages < 10) {
        ++pages;
        const auto doc = json::parse(s.render(sa::Form::rules_descriptors, sa::Page{*offset, 2}).body);
        BOOST_TEST(doc.at("meta").at("count") == 5);
        for (const auto& item : doc.at("data").as_array())
            seen.emplace_back(item.at("context_attributes").at("match").as_string());
        const auto* cursor = doc.at("meta").as_object().if_contains("cursor");
        BOOST_TEST((cursor != nullptr) == doc.at("links").as_object().contains("next"));
        offset = cursor ? sa::parse_cursor(cursor->as_string()) : std::nullopt;
    }
    BOOST_TEST(pages == 3);
    BOOST_TEST(seen == (std::vector<std::string>{"$N: '0'", "$N: '1'", "$N: '2'", "$N: '3'", "$N: '4'"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(rules_page_limit_2_of_5_embeds_rule_objects) {
    Scenario s(kFiveMatches, {}, sa::ContextMode::all, {kRuleR1});
    const auto answer = s.render(sa::Form::rules, sa::Page{2, 2});
    BOOST_TEST(answer.status == 200u);
    BOOST_TEST(!answer.partial);
    const auto doc = json::parse(answer.body);
    const auto& data = doc.at("data").as_array();
    BOOST_TEST_REQUIRE(data.size() == 2u);
    BOOST_TEST(
        json::serialize(data.at(0)) ==
        R"J({"attributes":{"level":"low","title":"T"},"context_attributes":{"match":"$N: '2'"},"id":"r1","links":{"self":"x"},"type":"sigma_rule"})J");
    BOOST_TEST(data.at(1).at("context_attributes").at("match") == "$N: '3'");
    BOOST_TEST(doc.at("links").at("next") ==
               json::value(fill("{BASE}/api/v3/sigma_analyses/{SHA}/rules?cursor=4&limit=2")));
    BOOST_TEST(doc.at("links").at("self") ==
               json::value(fill("{BASE}/api/v3/sigma_analyses/{SHA}/rules?cursor=2&limit=2")));
    BOOST_TEST(doc.at("meta") == json::parse(R"({"count":5,"cursor":"4"})"));
}

BOOST_AUTO_TEST_CASE(rules_cursor_past_the_end_gives_empty_data) {
    Scenario s(kFiveMatches);
    for (const auto form : {sa::Form::rules, sa::Form::rules_descriptors}) {
        BOOST_TEST_CONTEXT(sa::form_name(form)) {
            for (const std::size_t offset : {std::size_t{5}, std::size_t{7}, std::size_t{1000}}) {
                const auto answer = s.render(form, sa::Page{offset, 2});
                BOOST_TEST(answer.status == 200u);
                const auto doc = json::parse(answer.body);
                BOOST_TEST(doc.at("data").as_array().empty());
                BOOST_TEST(doc.at("meta") == json::parse(R"({"count":5})"));
                BOOST_TEST(!doc.at("links").as_object().contains("next"));
            }
        }
    }
    const auto r =
        test_support::convert({"--file", "-", "--form", "rules-descriptors", "--limit", "2", "--cursor", "7"},
                              {{"-", kFiveMatches}});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(json::parse(r.out).at("data").as_array().empty());
}

BOOST_AUTO_TEST_CASE(rules_page_through_convert) {
    const auto r =
        test_support::convert({"--file", "-", "--form", "rules-descriptors", "--limit", "2", "--cursor", "2"},
                              {{"-", kFiveMatches}});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    const auto doc = json::parse(r.out);
    BOOST_TEST(doc.at("data").as_array().size() == 2u);
    BOOST_TEST(doc.at("data").at(0).at("context_attributes").at("match") == "$N: '2'");
    BOOST_TEST(doc.at("links").at("next") ==
               json::value(fill("{BASE}/api/v3/sigma_analyses/{SHA}/relationships/rules?cursor=4&limit=2")));
    BOOST_TEST(doc.at("meta") == json::parse(R"({"count":5,"cursor":"4"})"));
}

// ---- scale
// ------------------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(ten_thousand_contexts_for_one_rule) {
    constexpr int n = 10000;
    std::string file_contexts = "[", behaviour_contexts = "[";
    for (int i = 0; i < n; ++i) {
        if (i) {
            file_contexts += ',';
            behaviour_contexts += ',';
        }
        const auto num = std::to_string(i);
        file_contexts += R"({"values":{"EventID":"1","N":")" + num + R"("}})";
        behaviour_contexts += R"({"values":{"N":")" + num + R"(","EventID":"1"}})"; // the same, keys swapped
    }
    file_contexts += ']';
    behaviour_contexts += ']';
    const auto file = file_doc(results({entry("r1", file_contexts, "medium", "S1")}));
    const auto behaviours = behaviour(results({entry("r1", behaviour_contexts, "medium", "S1")}));

    const auto start = std::chrono::steady_clock::now();
    Scenario s(file, {behaviours});
    const auto answer = s.render(sa::Form::object);
    const auto elapsed = std::chrono::steady_clock::now() - start;

    BOOST_TEST(answer.status == 200u);
    const auto doc = json::parse(answer.body);
    const auto& attributes = doc.at("data").at("attributes");
    const auto& matches = attributes.at("rule_matches").as_array();
    BOOST_TEST_REQUIRE(matches.size() == static_cast<std::size_t>(n));
    BOOST_TEST(matches.at(0).at("match_context") == "$EventID: '1', $N: '0'");
    BOOST_TEST(matches.at(n - 1).at("match_context") == "$EventID: '1', $N: '9999'");
    BOOST_TEST(attributes.at("severity_stats") == stats(0, 0, 0, n));
    BOOST_TEST(attributes.at("source_severity_stats").at("S1") == stats(0, 0, 0, n));
    // Generous for sanitizer builds; a quadratic merge would take far longer.
    BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() < 5000);
}

// ---- byte stability
// -----------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(converting_the_same_input_twice_gives_identical_bytes) {
    const auto file =
        file_doc(R"("last_analysis_date":100,)" +
                 results({entry("r2", R"([{"values":{"b":"2","A":"1","C":{"y":1,"x":2}}}])", "low", "S2"),
                          entry("r1", "", "critical", "S1")}));
    const auto page = behaviour_page(
        {behaviour(R"("analysis_date":200,)" + results({entry("r3", R"([{"values":{"Z":"z"}}])")}), "b1")});
    for (const std::string form :
         {"object", "relationship", "descriptor", "embedded", "rules", "rules-descriptors"}) {
        BOOST_TEST_CONTEXT(form) {
            const std::vector<std::string> args = {"--file", "-", "--behaviours", "b1.json", "--form", form};
            const auto a = test_support::convert(args, {{"-", file}, {"b1.json", page}});
            const auto b = test_support::convert(args, {{"-", file}, {"b1.json", page}});
            BOOST_TEST(a.exit_code == 0, a.err);
            BOOST_TEST(a.out == b.out);
            BOOST_TEST(a.err == b.err);
        }
    }
    // The real binary gives the same bytes as the in-process run.
    const auto in_process = test_support::convert({"--file", "-"}, {{"-", file}});
    const auto binary = test_support::run_binary({"convert", "--file", "-"}, file);
    BOOST_TEST(binary.exit_code == 0, binary.err);
    BOOST_TEST(binary.out == in_process.out);
}

BOOST_AUTO_TEST_CASE(object_form_bytes_do_not_depend_on_input_key_order) {
    const auto a = file_doc(
        R"("last_analysis_date":100,"sigma_analysis_results":[{"rule_id":"r1","rule_level":"low","rule_source":"S","rule_title":"T","rule_description":"D","match_context":[{"values":{"B":"2","A":"1"}}]}])");
    const auto b = file_doc(
        R"("sigma_analysis_results":[{"match_context":[{"values":{"A":"1","B":"2"}}],"rule_description":"D","rule_title":"T","rule_source":"S","rule_level":"low","rule_id":"r1"}],"last_analysis_date":100)");
    Scenario sa_(a), sb(b);
    BOOST_TEST(sa_.render(sa::Form::object).body == sb.render(sa::Form::object).body);
}

BOOST_AUTO_TEST_CASE(an_answer_handed_to_a_sink_in_pieces_has_the_same_bytes) {
    // 400 rules x 3 contexts of ~300 bytes: several sink chunks, in every list form.
    std::vector<std::string> entries;
    const std::string long_value(300, 'v');
    for (int i = 0; i < 400; ++i) {
        const auto n = std::to_string(i);
        entries.push_back(entry("r" + n,
                                R"([{"values":{"A":")" + n + long_value + R"("}},{"values":{"B":")" + n +
                                    R"("}},{"values":{"C":")" + n + long_value + R"("}}])",
                                i % 2 ? "low" : "high", i % 3 ? "S1" : "S2"));
    }
    Scenario s(file_doc(R"("last_analysis_date":100,)" + results(entries)));
    for (const auto form : {sa::Form::object, sa::Form::relationship, sa::Form::rules,
                            sa::Form::rules_descriptors, sa::Form::descriptor, sa::Form::embedded}) {
        BOOST_TEST_CONTEXT(sa::form_name(form)) {
            const auto whole = s.render(form);
            sa::RenderContext ctx;
            ctx.public_base = kBase;
            ctx.request_id = kSha;
            ctx.rules = &s.rules;
            ctx.file_document = s.file_document;
            std::string streamed;
            std::size_t pieces = 0;
            ctx.sink = [&](std::string_view piece) {
                streamed += piece;
                ++pieces;
            };
            const auto rest = sa::render(form, s.analysis, ctx);
            BOOST_TEST(rest.status == whole.status);
            BOOST_TEST(rest.partial == whole.partial);
            BOOST_TEST(streamed + rest.body == whole.body);
            const bool lists_matches = form != sa::Form::descriptor && form != sa::Form::embedded;
            BOOST_TEST((pieces > 3) == lists_matches, pieces << " pieces");
        }
    }
}

BOOST_AUTO_TEST_CASE(next_cursor_reads_meta_cursor_of_a_list_page) {
    BOOST_TEST(sa::next_cursor(json::parse(R"({"data":[],"meta":{"cursor":"abc","count":3}})")) == "abc");
    BOOST_TEST(sa::next_cursor(json::parse(R"({"data":[],"meta":{"count":3}})")).empty());
    BOOST_TEST(sa::next_cursor(json::parse(R"({"data":[],"meta":{"cursor":7}})")).empty());
    BOOST_TEST(sa::next_cursor(json::parse(R"({"data":[],"meta":[]})")).empty());
    BOOST_TEST(sa::next_cursor(json::parse(R"([1,2])")).empty());
}

BOOST_AUTO_TEST_SUITE_END()
