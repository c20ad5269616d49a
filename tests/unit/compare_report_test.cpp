// Comparison reports: text, JSON and HTML; what a recorded legacy answer answers (legacy_shape); and the
// compare command's hand-over to a Reconstructor, with a fake one.
#include "cli/compare_command.hpp"
#include "compare/legacy_shape.hpp"
#include "compare/report.hpp"
#include "test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace json = boost::json;
namespace ts = test_support;
using namespace shim::compare;

const std::string f912 = "f912398cb3542ab704fe917af4a60d4feee21ac577535b10453170f10c6fd6de";

json::value fixture_json(const std::string& name) {
    return json::parse(ts::read_file(ts::fixture("vt/" + name)));
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// The real f912398c answer as legacy, and as reconstructed with its second rule match's level changed.
ReportEntry level_changed_entry() {
    ReportEntry e;
    e.name = "different.json";
    e.sha256 = f912;
    e.target = "/api/v3/files/" + f912 + "/sigma_analysis";
    e.legacy.body = fixture_json("legacy_files_sigma_analysis.real_f912398c.json");
    e.reconstructed.body = e.legacy.body;
    e.reconstructed.body.at("data").at("attributes").at("rule_matches").at(1).as_object()["rule_level"] =
        "critical";
    e.result = compare(e.legacy, e.reconstructed, {});
    return e;
}

ReportEntry exact_entry() {
    ReportEntry e;
    e.name = "exact.json";
    e.sha256 = f912;
    e.target = "/api/v3/files/" + f912 + "/sigma_analysis";
    e.legacy.body = fixture_json("legacy_files_sigma_analysis.real_f912398c.json");
    e.reconstructed.body = e.legacy.body;
    e.result = compare(e.legacy, e.reconstructed, {});
    return e;
}

ReportEntry compatible_entry() {
    ReportEntry e = exact_entry();
    e.name = "compatible.json";
    auto& context = e.reconstructed.body.at("data")
                        .at("attributes")
                        .at("rule_matches")
                        .at(0)
                        .as_object()["match_context"];
    context = std::string(context.as_string()) + ", $Image: 'C:\\Windows\\x.exe'";
    e.result = compare(e.legacy, e.reconstructed, {});
    return e;
}

Report three_kinds() {
    return make_report({compatible_entry(), level_changed_entry(), exact_entry()});
}

// The page less the text of bodies and values (inside <pre> and <code>), where escaped URLs are only text.
std::string markup_only(const std::string& html) {
    std::string out;
    std::size_t at = 0;
    for (;;) {
        const auto pre = html.find("<pre", at), code = html.find("<code", at);
        const auto open = std::min(pre, code);
        if (open == std::string::npos) break;
        const std::string close = open == pre ? "</pre>" : "</code>";
        out += html.substr(at, open - at);
        const auto end = html.find(close, open);
        if (end == std::string::npos) return out + html.substr(open);
        at = end + close.size();
    }
    return out + html.substr(at);
}

} // namespace

BOOST_AUTO_TEST_SUITE(compare_report)

BOOST_AUTO_TEST_CASE(legacy_shape_of_the_recorded_fixtures) {
    const auto real = legacy_shape(fixture_json("legacy_files_sigma_analysis.real_f912398c.json"),
                                   "legacy_files_sigma_analysis.real_f912398c.json");
    BOOST_REQUIRE(real);
    BOOST_TEST(real->target == "/api/v3/files/" + f912 + "/sigma_analysis");
    BOOST_TEST(real->sha256 == f912);

    const std::string rel = "c8846914b9644d1bff54155ce4d14ef82548c64655c9431ae94d56448bfc7424";
    const auto relationship = legacy_shape(
        fixture_json("legacy_files_sigma_analysis_relationship.docs_example.json"), "whatever.json");
    BOOST_REQUIRE(relationship);
    BOOST_TEST(relationship->target == "/api/v3/files/" + rel + "/sigma_analysis");
    BOOST_TEST(relationship->sha256 == rel);

    // No top-level links: the object's own link names the object route.
    const std::string obj = "c885691ab568bd5bff581555e1d15ef82558c5a655c9c51ae5bd554b85fc7424";
    const auto object = legacy_shape(
        fixture_json("legacy_sigma_analysis_object.docs_example_copy.virscan-py.json"), "x.json");
    BOOST_REQUIRE(object);
    BOOST_TEST(object->target == "/api/v3/sigma_analyses/" + obj);
    BOOST_TEST(object->sha256 == obj);

    // A list of sigma_rule objects: data holds rule ids, so the file's SHA-256 comes from the route; the
    // query stays, since it says which page was recorded.
    const std::string rules_id = "c88c691ab968bd1bff58155ce1d18ef82558c6a655c9c31ae9bd564b8bfc7424";
    const auto rules =
        legacy_shape(fixture_json("legacy_sigma_analyses_rules_relationship.docs_example.json"), "r.json");
    BOOST_REQUIRE(rules);
    BOOST_TEST(rules->target == "/api/v3/sigma_analyses/" + rules_id + "/rules?limit=2");
    BOOST_TEST(rules->sha256 == rules_id);
}

BOOST_AUTO_TEST_CASE(legacy_shape_of_error_bodies_comes_from_the_file_name) {
    const auto error = json::parse(R"({"error": {"code": "NotFoundError", "message": "not found"}})");
    const auto by_sha256 = legacy_shape(error, "/some/dir/notfound_" +
                                                   std::string("F912398CB3542AB704FE917AF4A60D4F"
                                                               "EEE21AC577535B10453170F10C6FD6DE") +
                                                   ".json");
    BOOST_REQUIRE(by_sha256);
    BOOST_TEST(by_sha256->target == "/api/v3/sigma_analyses/" + f912);
    BOOST_TEST(by_sha256->sha256 == f912);

    const auto by_md5 = legacy_shape(error, "404-2a0ac716254c23667b8a223a6e5f6e13.json");
    BOOST_REQUIRE(by_md5);
    BOOST_TEST(by_md5->target == "/api/v3/sigma_analyses/2a0ac716254c23667b8a223a6e5f6e13");
    BOOST_TEST(by_md5->sha256.empty());

    // A hex word longer than any id is not cut into one.
    BOOST_TEST(!legacy_shape(error, "error.json"));
    BOOST_TEST(!legacy_shape(error, "0" + f912 + ".json"));

    // Links that name no legacy route are not taken for one.
    const auto file_object =
        json::parse(R"({"data": {"id": ")" + f912 +
                    R"(", "links": {"self": "https://www.virustotal.com/api/v3/files/)" + f912 + R"("}}})");
    BOOST_TEST(!legacy_shape(file_object, "file.json"));
}

BOOST_AUTO_TEST_CASE(route_kinds) {
    BOOST_TEST(legacy_route_kind("/api/v3/sigma_analyses/" + f912) == "object");
    BOOST_TEST(legacy_route_kind("/api/v3/files/" + f912 + "/sigma_analysis") == "relationship");
    BOOST_TEST(legacy_route_kind("/api/v3/files/" + f912 + "/relationships/sigma_analysis") == "descriptor");
    BOOST_TEST(legacy_route_kind("/api/v3/sigma_analyses/" + f912 + "/rules?limit=2") == "rules");
    BOOST_TEST(legacy_route_kind("/api/v3/sigma_analyses/" + f912 + "/relationships/rules") ==
               "rules-descriptors");
    BOOST_TEST(legacy_route_kind("/api/v3/files/" + f912).empty());
    BOOST_TEST(legacy_route_kind("/api/v3/sigma_analyses/not-a-hash").empty());
}

BOOST_AUTO_TEST_CASE(make_report_counts_each_class) {
    const auto report = three_kinds();
    BOOST_TEST(report.total == 3u);
    BOOST_TEST(report.exact == 1u);
    BOOST_TEST(report.compatible == 1u);
    BOOST_TEST(report.different == 1u);
    const auto fields = field_counts(report);
    BOOST_REQUIRE(fields.size() == 2u);
    BOOST_TEST(fields[0].path == "data.attributes.rule_matches.*.match_context");
    BOOST_TEST(fields[1].path == "data.attributes.rule_matches.*.rule_level");
}

BOOST_AUTO_TEST_CASE(json_report_has_the_documented_keys) {
    const auto report = three_kinds();
    const auto text = report_json(report);
    BOOST_TEST(text == report_json(report)); // the same report, the same bytes
    const auto doc = json::parse(text);
    const auto& root = doc.as_object();
    std::vector<std::string> keys;
    for (const auto& m : root)
        keys.emplace_back(m.key());
    BOOST_TEST(keys == (std::vector<std::string>{"schema", "summary", "fields", "results"}),
               boost::test_tools::per_element());
    BOOST_TEST(root.at("schema").as_string() == "sigma-shim/compare-report/1");
    const auto& summary = root.at("summary").as_object();
    BOOST_TEST(summary.at("total").to_number<int>() == 3);
    BOOST_TEST(summary.at("exact").to_number<int>() == 1);
    BOOST_TEST(summary.at("compatible").to_number<int>() == 1);
    BOOST_TEST(summary.at("different").to_number<int>() == 1);
    BOOST_TEST(root.at("fields").as_array().at(0).at("count").to_number<int>() == 1);

    const auto& results = root.at("results").as_array();
    BOOST_REQUIRE(results.size() == 3u);
    std::vector<std::string> result_keys;
    for (const auto& m : results[1].as_object())
        result_keys.emplace_back(m.key());
    BOOST_TEST(result_keys == (std::vector<std::string>{"name", "sha256", "target", "class", "time", "legacy",
                                                        "reconstructed", "findings", "truncated"}),
               boost::test_tools::per_element());
    const auto& different = results[1].as_object();
    BOOST_TEST(different.at("class").as_string() == "different");
    BOOST_TEST(different.at("legacy").at("status").to_number<int>() == 200);
    BOOST_TEST(different.at("reconstructed").at("body").at("data").at("id").as_string() == f912);
    const auto& finding = different.at("findings").as_array().at(0).as_object();
    BOOST_TEST(finding.at("path").as_string() == "data.attributes.rule_matches.1.rule_level");
    BOOST_TEST(finding.at("kind").as_string() == "value");
    BOOST_TEST(finding.at("class").as_string() == "different");
    BOOST_TEST(finding.at("legacy").as_string() == "low");
    BOOST_TEST(finding.at("reconstructed").as_string() == "critical");
    BOOST_TEST(different.at("truncated").as_bool() == false);
}

BOOST_AUTO_TEST_CASE(text_report_shows_counts_fields_and_worst_files) {
    const auto text = report_text(three_kinds());
    std::istringstream lines(text);
    std::map<std::string, std::string> rows;
    for (std::string line; std::getline(lines, line);) {
        std::istringstream words(line);
        std::string first, second;
        words >> first >> second;
        rows.emplace(first, second);
        BOOST_TEST(
            line.find_first_not_of(" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
                                   "abcdefghijklmnopqrstuvwxyz{|}~") == std::string::npos,
            "not plain ASCII: " << line);
    }
    BOOST_TEST(rows["exact"] == "1");
    BOOST_TEST(rows["compatible"] == "1");
    BOOST_TEST(rows["different"] == "1");
    BOOST_TEST(rows["total"] == "3");
    BOOST_TEST(rows["data.attributes.rule_matches.*.rule_level"] == "1");
    BOOST_TEST(rows["different.json"] == "different"); // the worst file comes first among the files
    BOOST_TEST(text.find("different.json") < text.find("compatible.json  compatible"));
    BOOST_TEST(contains(text, "data.attributes.rule_matches.1.rule_level: value (\"low\" -> \"critical\")"));
}

BOOST_AUTO_TEST_CASE(html_report_escapes_bodies_and_loads_nothing) {
    auto hostile = level_changed_entry();
    hostile.name = "<img src=x onerror=alert(1)>.json";
    hostile.legacy.body.at("data").at("attributes").at("rule_matches").at(0).as_object()["rule_title"] =
        "</pre><script>alert('x')</script><link rel=stylesheet href=https://evil.example/x.css>";
    hostile.result = compare(hostile.legacy, hostile.reconstructed, {});
    const auto html = report_html(make_report({hostile, exact_entry()}));

    BOOST_TEST(!contains(html, "<script"));
    BOOST_TEST(!contains(html, "<img"));
    BOOST_TEST(!contains(html, "<link"));
    BOOST_TEST(!contains(html, "src=\""));
    BOOST_TEST(!contains(html, "url("));
    BOOST_TEST(!contains(html, "@import"));
    BOOST_TEST(contains(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    BOOST_TEST(contains(html, "&lt;img src=x onerror=alert(1)&gt;.json"));
    const auto markup = markup_only(html);
    BOOST_TEST(!contains(markup, "http://"), markup);
    BOOST_TEST(!contains(markup, "https://"));
    BOOST_TEST(contains(html, "https://www.virustotal.com")); // links in the bodies are shown, as text
}

BOOST_AUTO_TEST_CASE(html_report_highlights_each_finding_on_its_side) {
    const auto html = report_html(three_kinds());
    BOOST_TEST(contains(html, "3 answers compared: 1 exact, 1 compatible, 1 different."));
    BOOST_TEST(contains(
        html, "<mark class=\"diff-different\">          &quot;rule_level&quot;: &quot;low&quot;,</mark>"));
    BOOST_TEST(contains(
        html,
        "<mark class=\"diff-different\">          &quot;rule_level&quot;: &quot;critical&quot;,</mark>"));
    BOOST_TEST(contains(html, "<mark class=\"diff-compatible\">          &quot;match_context&quot;: "
                              "&quot;$EventID: &#39;1117&#39;, $Image:"));
    // Worst first; exact answers start closed, the others open.
    BOOST_TEST(contains(html, "id=\"file-1\" open><summary><span class=\"badge different\">"));
    BOOST_TEST(contains(html, "id=\"file-2\" open><summary><span class=\"badge compatible\">"));
    BOOST_TEST(contains(html, "id=\"file-3\"><summary><span class=\"badge exact\">"));

    // A key the reconstruction lacks can only be pointed at on the legacy side, and the whole object is
    // marked.
    ReportEntry missing = exact_entry();
    missing.time = 1700000000; // the server's reports say when
    missing.reconstructed.body.at("data").at("attributes").as_object().erase("severity_stats");
    missing.result = compare(missing.legacy, missing.reconstructed, {});
    BOOST_REQUIRE(!missing.result.findings.empty());
    BOOST_TEST(missing.result.findings[0].kind == "missing");
    const auto page = report_html(make_report({missing}));
    const auto legacy_side = page.substr(0, page.find("<strong>reconstructed</strong>"));
    const auto reconstructed_side = page.substr(page.find("<strong>reconstructed</strong>"));
    BOOST_TEST(
        contains(legacy_side, "<mark class=\"diff-different\">      &quot;severity_stats&quot;: {</mark>"));
    BOOST_TEST(
        contains(legacy_side, "<mark class=\"diff-different\">        &quot;critical&quot;: 0,</mark>"));
    BOOST_TEST(!contains(reconstructed_side, "<mark"));
    BOOST_TEST(contains(page, "<tr><th>time</th><td>2023-11-14T22:13:20Z</td></tr>"));
    BOOST_TEST(json::parse(report_json(make_report({missing}))).at("results").at(0).at("time") == 1700000000);
}

BOOST_AUTO_TEST_CASE(compare_hands_serve_words_to_the_reconstructor_and_each_target_to_it) {
    const auto dir = std::filesystem::temp_directory_path() / "sigma-shim-compare-report-test";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const auto legacy = fixture_json("legacy_files_sigma_analysis.real_f912398c.json");
    ts::write_file((dir / "a.json").string(), json::serialize(legacy));
    ts::write_file(
        (dir / "b.json").string(),
        json::serialize(fixture_json("legacy_sigma_analysis_object.docs_example_copy.virscan-py.json")));

    struct Fake : shim::cli::Reconstructor {
        std::vector<std::string>* targets;
        json::value answer;
        Answer reconstruct(std::string_view target) override {
            targets->emplace_back(target);
            return {200, answer};
        }
    };
    std::vector<std::string> given, targets;
    const shim::cli::ReconstructorFactory factory = [&](std::span<const std::string> args, std::string&) {
        given.assign(args.begin(), args.end());
        auto fake = std::make_unique<Fake>();
        fake->targets = &targets;
        fake->answer = legacy;
        return std::unique_ptr<shim::cli::Reconstructor>(std::move(fake));
    };
    std::ostringstream out, err;
    const std::vector<std::string> args = {"--quota-per-minute", "4",          "--legacy",
                                           dir.string(),         "--upstream", "demo",
                                           "--format",           "json",       "--match-context=rule-fields"};
    const int code = shim::cli::run_compare(args, {out, err, nullptr}, factory);
    BOOST_TEST(code == 1); // b.json's answer is not a's
    // The one --match-context goes last, as two words: each mode of several would go there in turn.
    BOOST_TEST(given == (std::vector<std::string>{"--quota-per-minute", "4", "--upstream", "demo",
                                                  "--match-context", "rule-fields"}),
               boost::test_tools::per_element());
    BOOST_TEST(targets == (std::vector<std::string>{
                              "/api/v3/files/" + f912 + "/sigma_analysis",
                              "/api/v3/sigma_analyses/"
                              "c885691ab568bd5bff581555e1d15ef82558c5a655c9c51ae5bd554b85fc7424"}),
               boost::test_tools::per_element());
    const auto report = json::parse(out.str());
    BOOST_TEST(report.at("results").at(0).at("class").as_string() == "exact");
    BOOST_TEST(report.at("results").at(1).at("class").as_string() == "different");

    // A factory that refuses: its error, exit 3.
    std::ostringstream out2, err2;
    const int refused =
        shim::cli::run_compare(std::vector<std::string>{"--legacy", dir.string(), "--upstream", "nowhere"},
                               {out2, err2, nullptr}, [](std::span<const std::string>, std::string& error) {
                                   error = "--upstream 'nowhere' is not a URL";
                                   return std::unique_ptr<shim::cli::Reconstructor>();
                               });
    BOOST_TEST(refused == 3);
    BOOST_TEST(contains(err2.str(), "sigma-shim compare: --upstream 'nowhere' is not a URL"));
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
