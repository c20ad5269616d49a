// Calibrations (docs/calibration.md): FIELDS.json read and written, and the calibrated match-context mode
// (contract 3.3) on the round-trip inputs of tests/fixtures/roundtrip/, whose legacy examples it must give
// back byte for byte.
#include "sigma_analysis/calibration.hpp"
#include "test_support.hpp"
#include "transform_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace json = boost::json;
namespace sa = sigma_analysis;
namespace ts = test_support;

const std::string kDefender = "cf90b923dcb2c8192e6651425886607684aac6680bf25b20c39ae3f8743aebf1";
const std::string kFirewall = "693c36f61ac022fd66354b440464f490058c22b984ba1bef05ca246aba210ed1";
const std::string kAttrib = "5c3ea6806114163b8cdf5735aeb07e702ab63e0e486f721df84cf675e2b0a04b"; // in rules/
const std::string kUser =
    "3bc9d14114a6b67367a24df21134d0564d6f08a0ad903d68f9b25e9d8b7f0790"; // no rule object

std::string roundtrip(const std::string& name) {
    return ts::fixture("roundtrip/" + name);
}

// The fields each rule's legacy strings wrote in the three legacy examples.
sa::Calibration legacy_fields() {
    sa::Calibration c;
    c.rules[kDefender].chosen = {{"EventID"}, 1};
    c.rules[kFirewall].chosen = {{"EventID"}, 1};
    c.rules[kAttrib].chosen = {{"CommandLine", "EventID", "Image", "ParentCommandLine"}, 6};
    c.rules[kUser].chosen = {{"CommandLine", "EventID", "Image", "User"}, 2};
    return c;
}

sa::Calibration parsed(const std::string& text) {
    sa::Calibration c;
    std::string error;
    BOOST_REQUIRE_MESSAGE(sa::parse_calibration(text, c, error), error);
    return c;
}

bool same(const sa::FieldSelection& a, const sa::FieldSelection& b) {
    return a.fields == b.fields && a.support == b.support;
}

bool same(const sa::Calibration& a, const sa::Calibration& b) {
    if (a.rules.size() != b.rules.size()) return false;
    for (const auto& [id, rule] : a.rules) {
        const auto* other = b.find(id);
        if (!other || !same(rule.chosen, other->chosen) || rule.others.size() != other->others.size())
            return false;
        for (std::size_t i = 0; i < rule.others.size(); ++i)
            if (!same(rule.others[i], other->others[i])) return false;
    }
    return true;
}

// The docs_files_sigma_analysis example from its wide contexts (extra Sysmon fields in every context).
ts::TransformRun wide_docs_files(sa::ContextMode mode, const sa::Calibration* calibration) {
    ts::TransformRun run{roundtrip("docs_files_sigma_analysis.wide.file.json"),
                         {roundtrip("docs_files_sigma_analysis.wide.behaviours.json")}};
    run.form = "relationship";
    run.mode = mode;
    run.calibration = calibration;
    return run;
}

std::string match_context(const std::string& answer, std::size_t i) {
    const auto v = json::parse(answer).at_pointer("/data/attributes/rule_matches/" + std::to_string(i) +
                                                  "/match_context");
    return std::string(v.as_string());
}

// The legacy strings of the first context of 5c3ea680 (wide: with the Sysmon fields the legacy left out).
const std::string kAttribLegacy =
    R"($CommandLine: 'attrib  +H blablabla.bak', $EventID: '1', $Image: 'C:\Windows\System32\attrib.exe', )"
    R"($ParentCommandLine: 'C:\Windows\system32\cmd.exe /c attrib +H blabalbla.bak')";
const std::string kAttribWide =
    R"($CommandLine: 'attrib  +H blablabla.bak', $EventID: '1', $Image: 'C:\Windows\System32\attrib.exe', )"
    R"($IntegrityLevel: 'High', $LogonId: '0x3e7', )"
    R"($ParentCommandLine: 'C:\Windows\system32\cmd.exe /c attrib +H blabalbla.bak', $ProcessId: '4242', )"
    R"($UtcTime: '2020-06-30 13:13:30.123')";

// A FIELDS.json as write_calibration writes it.
const std::string kCanonical = R"({
  "version": 1,
  "rules": {
    "5c3ea6806114163b8cdf5735aeb07e702ab63e0e486f721df84cf675e2b0a04b": {
      "fields": ["CommandLine", "EventID", "Image", "ParentCommandLine"],
      "support": 8,
      "others": [
        {"fields": ["EventID", "CommandLine"], "support": 2},
        {"fields": [], "support": 1}
      ]
    },
    "a\"b\\c\u0001": {
      "fields": ["Très \"quoted\"", "EventID"],
      "support": 0
    }
  }
}
)";

} // namespace

BOOST_AUTO_TEST_SUITE(calibration)

BOOST_AUTO_TEST_CASE(writes_what_it_reads_byte_for_byte) {
    const auto c = parsed(kCanonical);
    BOOST_TEST(c.rules.size() == 2u);
    const auto* attrib = c.find(kAttrib);
    BOOST_REQUIRE(attrib);
    BOOST_TEST((attrib->chosen.fields ==
                std::vector<std::string>{"CommandLine", "EventID", "Image", "ParentCommandLine"}));
    BOOST_TEST(attrib->chosen.support == 8u);
    BOOST_REQUIRE(attrib->others.size() == 2u);
    BOOST_TEST((attrib->others[0].fields == std::vector<std::string>{"EventID", "CommandLine"}));
    BOOST_TEST(attrib->others[1].fields.empty());
    const auto* odd = c.find("a\"b\\c\x01");
    BOOST_REQUIRE(odd);
    BOOST_TEST((odd->chosen.fields == std::vector<std::string>{"Tr\xc3\xa8s \"quoted\"", "EventID"}));
    BOOST_TEST(!c.find("a\"b"));

    const auto written = sa::write_calibration(c);
    BOOST_TEST(written == kCanonical);
    BOOST_TEST(same(parsed(written), c));
}

BOOST_AUTO_TEST_CASE(bytes_depend_on_the_calibration_only) {
    // Other white space, other key order and an empty "others" read to the same calibration and bytes.
    const auto loose = parsed(R"({"rules":{"b":{"support":3,"fields":["Z","A"],"others":[]},
        "a":{"others":[{"support":1,"fields":["A"]}],"fields":["A"],"support":2}},"version":1})");
    const std::string want = R"({
  "version": 1,
  "rules": {
    "a": {
      "fields": ["A"],
      "support": 2,
      "others": [
        {"fields": ["A"], "support": 1}
      ]
    },
    "b": {
      "fields": ["Z", "A"],
      "support": 3
    }
  }
}
)";
    BOOST_TEST(sa::write_calibration(loose) == want);

    // Built in another order: the rules are written in byte order of their ids all the same.
    sa::Calibration built;
    built.rules["b"].chosen = {{"Z", "A"}, 3};
    built.rules["a"].chosen = {{"A"}, 2};
    built.rules["a"].others.push_back({{"A"}, 1});
    BOOST_TEST(sa::write_calibration(built) == want);
    BOOST_TEST(sa::write_calibration(sa::Calibration{}) == "{\n  \"version\": 1,\n  \"rules\": {}\n}\n");
    BOOST_TEST(parsed(sa::write_calibration(sa::Calibration{})).rules.empty());
}

BOOST_AUTO_TEST_CASE(each_error_is_one_sentence_saying_where) {
    const std::pair<std::string, std::string> cases[] = {
        {R"({"version": 1, "rules": {})", "FIELDS.json is not JSON at byte 26: incomplete JSON"},
        {R"({"version": 1} x)", "FIELDS.json is not JSON at byte 15: extra data"},
        {R"({"version": 1,})", "FIELDS.json is not JSON at byte 14: syntax error"},
        {"", "FIELDS.json is not JSON at byte 0: incomplete JSON"},
        {"[1]", "FIELDS.json is an array, not an object"},
        {R"({"rules": {}})", R"("version" is missing)"},
        {R"({"version": "1", "rules": {}})", R"("version" is a string, not a whole number)"},
        {R"({"version": 1.0, "rules": {}})", R"("version" is a number, not a whole number)"},
        {R"({"version": -1, "rules": {}})", R"("version" is -1, not 0 or more)"},
        {R"({"version": 2, "rules": {}, "new": 1})",
         "version 2 is not supported (this sigma-shim reads version 1)"},
        {R"({"version": 1, "rules": {}, "comment": "x"})",
         R"(unknown key "comment" at the top level (version 1 has "version" and "rules"))"},
        {R"({"version": 1})", R"("rules" is missing)"},
        {R"({"version": 1, "rules": []})", R"("rules" is an array, not an object)"},
        {R"({"version": 1, "rules": {"": {"fields": [], "support": 0}}})",
         "rules has a rule with an empty id"},
        {R"({"version": 1, "rules": {"abc": null}})", R"(rules."abc" is null, not an object)"},
        {R"({"version": 1, "rules": {"a\"b": []}})", R"(rules."a\"b" is an array, not an object)"},
        {R"({"version": 1, "rules": {"abc": {"fields": [], "support": 0, "note": ""}}})",
         R"(rules."abc" has an unknown key "note" (a rule has "fields", "support" and "others"))"},
        {R"({"version": 1, "rules": {"abc": {"support": 1}}})", R"(rules."abc".fields is missing)"},
        {R"({"version": 1, "rules": {"abc": {"fields": "EventID", "support": 1}}})",
         R"(rules."abc".fields is a string, not an array)"},
        {R"({"version": 1, "rules": {"abc": {"fields": ["a", "b", 3], "support": 1}}})",
         R"(rules."abc".fields[2] is a number, not a string)"},
        {R"({"version": 1, "rules": {"abc": {"fields": ["a", ""], "support": 1}}})",
         R"(rules."abc".fields[1] is an empty string, not a field name)"},
        {R"({"version": 1, "rules": {"abc": {"fields": ["a", "b", "a"], "support": 1}}})",
         R"(rules."abc".fields[2] repeats the field "a")"},
        {R"({"version": 1, "rules": {"abc": {"fields": ["a"]}}})", R"(rules."abc".support is missing)"},
        {R"({"version": 1, "rules": {"abc": {"fields": ["a"], "support": "8"}}})",
         R"(rules."abc".support is a string, not a whole number)"},
        {R"({"version": 1, "rules": {"abc": {"fields": ["a"], "support": 1, "others": {}}}})",
         R"(rules."abc".others is an object, not an array)"},
        {R"({"version": 1, "rules": {"abc": {"fields": ["a"], "support": 1, "others": [true]}}})",
         R"(rules."abc".others[0] is a boolean, not an object)"},
        {R"({"version": 1, "rules": {"abc": {"fields": ["a"], "support": 1, "others": [{"fields": ["a"]}]}}})",
         R"(rules."abc".others[0].support is missing)"},
        {R"({"version": 1, "rules": {"abc": {"fields": [], "support": 1,
             "others": [{"fields": ["a"], "support": 1}, {"fields": ["a", 1], "support": 1}]}}})",
         R"(rules."abc".others[1].fields[1] is a number, not a string)"},
        {R"({"version": 1, "rules": {"abc": {"fields": [], "support": 1,
             "others": [{"fields": [], "support": 1, "others": []}]}}})",
         R"(rules."abc".others[0] has an unknown key "others" (a selection has "fields" and "support"))"},
    };
    for (const auto& [text, want] : cases) {
        BOOST_TEST_CONTEXT(text) {
            sa::Calibration c;
            c.rules["kept"].chosen = {{"EventID"}, 1};
            std::string error;
            BOOST_TEST(!sa::parse_calibration(text, c, error));
            BOOST_TEST(error == want);
            BOOST_TEST(error.find('\n') == std::string::npos);
            // A failed read leaves the calibration as it was.
            BOOST_TEST(c.rules.size() == 1u);
            BOOST_TEST(c.find("kept"));
        }
    }
}

// The in-process runner the calibrated tests use writes exactly what `convert` writes.
BOOST_AUTO_TEST_CASE(in_process_runner_writes_convert_bytes) {
    auto run = wide_docs_files(sa::ContextMode::rule_fields, nullptr);
    run.rules = roundtrip("rules");
    const auto fields = ts::run_transform(run);
    const auto convert = ts::convert({"--form", "relationship", "--match-context", "rule-fields", "--rules",
                                      run.rules, "--file", run.file, "--behaviours", run.behaviours[0]});
    BOOST_TEST(fields.out == convert.out);
    BOOST_TEST(fields.partial);
    BOOST_TEST(convert.err.find("fidelity partial: " + fields.diagnostics.summary()) != std::string::npos,
               convert.err);

    ts::TransformRun rules_form{roundtrip("docs_sigma_analyses.file.json"),
                                {roundtrip("docs_sigma_analyses.behaviours.json")}};
    rules_form.form = "rules";
    rules_form.rules = roundtrip("rules");
    BOOST_TEST(ts::run_transform(rules_form).out ==
               ts::convert({"--form", "rules", "--rules", rules_form.rules, "--file", rules_form.file,
                            "--behaviours", rules_form.behaviours[0]})
                   .out);
}

BOOST_AUTO_TEST_CASE(calibrated_mode_gives_back_the_three_legacy_examples) {
    const auto calibration = legacy_fields();
    struct Example {
        std::string input, form, legacy;
    };
    const Example examples[] = {
        {"f912398c", "relationship", "legacy_files_sigma_analysis.real_f912398c.json"},
        // The wide contexts: the calibration leaves out the fields the legacy strings did not have.
        {"docs_files_sigma_analysis.wide", "relationship",
         "legacy_files_sigma_analysis_relationship.docs_example.json"},
        {"docs_files_sigma_analysis", "relationship",
         "legacy_files_sigma_analysis_relationship.docs_example.json"},
        {"docs_sigma_analyses", "object", "legacy_sigma_analysis_object.docs_example_copy.virscan-py.json"},
    };
    for (const auto& e : examples) {
        BOOST_TEST_CONTEXT(e.input) {
            ts::TransformRun run{roundtrip(e.input + ".file.json"),
                                 {roundtrip(e.input + ".behaviours.json")}};
            run.form = e.form;
            run.mode = sa::ContextMode::calibrated;
            run.calibration = &calibration;
            const auto r = ts::run_transform(run);
            BOOST_TEST(r.out == ts::transform_bytes_of(ts::read_file(ts::fixture("vt/" + e.legacy))));
            BOOST_TEST(!r.partial, r.diagnostics.summary());
            BOOST_TEST(r.diagnostics.summary().empty());
            BOOST_TEST(r.diagnostics.uncalibrated_rules == 0u);
            BOOST_TEST(r.diagnostics.calibrated_matches == r.matches);
            BOOST_TEST(r.diagnostics.fallback_matches == 0u);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_rule_the_calibration_lacks_falls_back_and_is_partial) {
    sa::Calibration calibration;
    calibration.rules[kUser].chosen = {{"CommandLine", "EventID", "Image", "User"}, 2};

    // rule_fields (the default fallback) with 5c3ea680's rule object: its detection's fields, the legacy
    // ones.
    auto run = wide_docs_files(sa::ContextMode::calibrated, &calibration);
    run.rules = roundtrip("rules");
    const auto with_rule = ts::run_transform(run);
    BOOST_TEST(with_rule.out == ts::transform_bytes_of(ts::read_file(ts::fixture(
                                    "vt/legacy_files_sigma_analysis_relationship.docs_example.json"))));
    BOOST_TEST(with_rule.partial);
    BOOST_TEST(with_rule.diagnostics.uncalibrated_rules == 1u);
    BOOST_TEST(with_rule.diagnostics.rule_fallbacks == 0u);
    BOOST_TEST(with_rule.diagnostics.summary() == "uncalibrated_rules=1");
    BOOST_TEST(with_rule.diagnostics.calibrated_matches == 1u); // 3bc9d141's one context
    BOOST_TEST(with_rule.diagnostics.fallback_matches == 3u);   // 5c3ea680's three
    BOOST_TEST(with_rule.matches == 4u);

    // rule_fields without the rule object: all, counted as a rule fallback too.
    run.rules.clear();
    const auto without_rule = ts::run_transform(run);
    BOOST_TEST(match_context(without_rule.out, 0) == kAttribWide);
    BOOST_TEST(match_context(without_rule.out, 3) == match_context(with_rule.out, 3));
    BOOST_TEST(without_rule.partial);
    BOOST_TEST(without_rule.diagnostics.summary() == "rule_fallbacks=1 uncalibrated_rules=1");

    // all as the fallback, rule object or not.
    run.rules = roundtrip("rules");
    run.fallback = sa::ContextMode::all;
    const auto all = ts::run_transform(run);
    BOOST_TEST(match_context(all.out, 0) == kAttribWide);
    BOOST_TEST(all.diagnostics.summary() == "uncalibrated_rules=1");
    BOOST_TEST(all.diagnostics.fallback_matches == 3u);

    // Without any calibration every rule is uncalibrated.
    run.calibration = nullptr;
    const auto none = ts::run_transform(run);
    BOOST_TEST(none.diagnostics.uncalibrated_rules == 2u);
    BOOST_TEST(none.diagnostics.calibrated_matches == 0u);
    BOOST_TEST(none.diagnostics.fallback_matches == 4u);
    BOOST_TEST(none.partial);
}

BOOST_AUTO_TEST_CASE(listed_order_is_kept_and_absent_fields_skipped) {
    sa::Calibration calibration = legacy_fields();
    calibration.rules[kAttrib].chosen = {{"ParentCommandLine", "EventID", "Nowhere", "CommandLine"}, 6};
    calibration.rules[kUser].chosen = {{"Nowhere", "Elsewhere"}, 2};
    const auto r = ts::run_transform(wide_docs_files(sa::ContextMode::calibrated, &calibration));
    const std::string want =
        R"($ParentCommandLine: 'C:\Windows\system32\cmd.exe /c attrib +H blabalbla.bak', $EventID: '1', )"
        R"($CommandLine: 'attrib  +H blablabla.bak')";
    BOOST_TEST(match_context(r.out, 0) == want);
    BOOST_TEST(match_context(r.out, 3) == ""); // none of its fields is in the context
    BOOST_TEST(!r.partial, r.diagnostics.summary());

    // The rules forms write the same strings under context_attributes.match.
    auto rules = wide_docs_files(sa::ContextMode::calibrated, &calibration);
    rules.form = "rules";
    rules.rules = roundtrip("rules");
    const auto items = json::parse(ts::run_transform(rules).out);
    BOOST_TEST(items.at_pointer("/data/0/context_attributes/match").as_string() == want); // with rule object
    BOOST_TEST(items.at_pointer("/data/3/context_attributes/match").as_string() == "");   // without
    rules.form = "rules-descriptors";
    const auto descriptors = json::parse(ts::run_transform(rules).out);
    BOOST_TEST(descriptors.at_pointer("/data/0/context_attributes/match").as_string() == want);
}

BOOST_AUTO_TEST_CASE(other_modes_are_as_before) {
    const auto calibration = legacy_fields();
    // all and rule_fields ignore a calibration given to them.
    const auto all = ts::run_transform(wide_docs_files(sa::ContextMode::all, &calibration));
    BOOST_TEST(match_context(all.out, 0) == kAttribWide);
    BOOST_TEST(all.diagnostics.calibrated_matches + all.diagnostics.fallback_matches == 0u);
    auto fields = wide_docs_files(sa::ContextMode::rule_fields, &calibration);
    fields.rules = roundtrip("rules");
    const auto by_rule = ts::run_transform(fields);
    BOOST_TEST(match_context(by_rule.out, 0) == kAttribLegacy);
    BOOST_TEST(by_rule.diagnostics.summary() == "rule_fallbacks=1");
    BOOST_TEST(by_rule.diagnostics.uncalibrated_rules == 0u);
}

BOOST_AUTO_TEST_CASE(match_counts_are_not_partial) {
    sa::Diagnostics d;
    d.calibrated_matches = 5;
    d.fallback_matches = 2;
    BOOST_TEST(!d.partial());
    BOOST_TEST(d.summary().empty());
    d.uncalibrated_rules = 1;
    BOOST_TEST(d.partial());
    BOOST_TEST(d.summary() == "uncalibrated_rules=1");
}

BOOST_AUTO_TEST_SUITE_END()
