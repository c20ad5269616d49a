// The three legacy examples, rebuilt by `convert` from the File object and behaviour page each one implies
// (tests/fixtures/roundtrip/README.md), compared after both sides are normalised to sorted keys.
#include "test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

namespace ts = test_support;
namespace json = boost::json;

namespace {

std::string roundtrip(const std::string& name) {
    return ts::fixture("roundtrip/" + name);
}
std::string legacy(const std::string& name) {
    return ts::read_file(ts::fixture("vt/" + name));
}

void check_same(const std::string& produced, const std::string& expected) {
    std::string diff;
    BOOST_TEST(ts::same_json(produced, expected, diff), diff);
}

} // namespace

BOOST_AUTO_TEST_SUITE(round_trip)

BOOST_AUTO_TEST_CASE(real_f912398c_answer) {
    const auto r = ts::convert({"--form", "relationship", "--file", roundtrip("f912398c.file.json"),
                                "--behaviours", roundtrip("f912398c.behaviours.json")});
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(r.err.empty(), r.err);
    check_same(r.out, legacy("legacy_files_sigma_analysis.real_f912398c.json"));
}

BOOST_AUTO_TEST_CASE(documented_files_sigma_analysis_answer) {
    const auto r =
        ts::convert({"--form", "relationship", "--file", roundtrip("docs_files_sigma_analysis.file.json"),
                     "--behaviours", roundtrip("docs_files_sigma_analysis.behaviours.json")});
    BOOST_TEST(r.exit_code == 0);
    check_same(r.out, legacy("legacy_files_sigma_analysis_relationship.docs_example.json"));
    // One rule three times and another once: the legacy service counted entries, not rules.
    const auto stats = json::parse(r.out).at_pointer("/data/attributes/severity_stats");
    BOOST_TEST(stats.at("low").as_int64() == 4);
}

BOOST_AUTO_TEST_CASE(documented_answer_in_rule_fields_mode) {
    const auto r =
        ts::convert({"--form", "relationship", "--match-context", "rule-fields", "--rules",
                     roundtrip("rules"), "--file", roundtrip("docs_files_sigma_analysis.wide.file.json"),
                     "--behaviours", roundtrip("docs_files_sigma_analysis.wide.behaviours.json")});
    BOOST_TEST(r.exit_code == 0);
    check_same(r.out, legacy("legacy_files_sigma_analysis_relationship.docs_example.json"));
    // 3bc9d141 has no rule object here: it fell back to every key, and the answer says it is partial.
    BOOST_TEST(r.err.find("fidelity partial: rule_fallbacks=1") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(wide_contexts_in_all_mode_write_every_field) {
    const auto r = ts::convert({"--form", "relationship", "--file",
                                roundtrip("docs_files_sigma_analysis.wide.file.json"), "--behaviours",
                                roundtrip("docs_files_sigma_analysis.wide.behaviours.json")});
    BOOST_TEST(r.exit_code == 0);
    const auto first = json::parse(r.out).at_pointer("/data/attributes/rule_matches/0/match_context");
    BOOST_TEST(
        first.as_string() ==
        "$CommandLine: 'attrib  +H blablabla.bak', $EventID: '1', $Image: "
        "'C:\\Windows\\System32\\attrib.exe', "
        "$IntegrityLevel: 'High', $LogonId: '0x3e7', $ParentCommandLine: 'C:\\Windows\\system32\\cmd.exe /c "
        "attrib +H blabalbla.bak', $ProcessId: '4242', $UtcTime: '2020-06-30 13:13:30.123'");
}

BOOST_AUTO_TEST_CASE(documented_sigma_analyses_answer) {
    const auto r = ts::convert({"--form", "object", "--file", roundtrip("docs_sigma_analyses.file.json"),
                                "--behaviours", roundtrip("docs_sigma_analyses.behaviours.json")});
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(r.err.empty(), r.err);
    check_same(r.out, legacy("legacy_sigma_analysis_object.docs_example_copy.virscan-py.json"));
}

BOOST_AUTO_TEST_CASE(documented_rules_answer_items) {
    const auto r = ts::convert({"--form", "rules", "--limit", "2", "--rules", roundtrip("rules"), "--file",
                                roundtrip("docs_sigma_analyses.file.json"), "--behaviours",
                                roundtrip("docs_sigma_analyses.behaviours.json")});
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(r.err.empty(), r.err);
    const auto produced = json::parse(r.out);
    const auto expected = json::parse(legacy("legacy_sigma_analyses_rules_relationship.docs_example.json"));
    // The documented example's id differs from the object example's (both are anonymised), and its cursor is
    // VirusTotal's own: the items and the count are what can be compared.
    BOOST_TEST(produced.at("data") == expected.at("data"));
    BOOST_TEST(produced.at_pointer("/meta/count") == expected.at_pointer("/meta/count"));
    BOOST_TEST(produced.at_pointer("/links/next").as_string().ends_with("/rules?cursor=2&limit=2"));
}

BOOST_AUTO_TEST_SUITE_END()
