// Learning a calibration (shim/calibrate, issue 16): explain() on hand-made strings; the learner on the
// public legacy examples with the objects they imply (tests/fixtures/roundtrip/), plain and wide; on a
// generated train set whose field selections are known; and what it reports when recordings disagree or
// cannot be used.
#include "calibrate/explain.hpp"
#include "calibrate/learner.hpp"
#include "calibrate/legacy_matches.hpp"
#include "calibrate/report.hpp"
#include "sigma_analysis/extract.hpp"
#include "sigma_analysis/input.hpp"
#include "sigma_analysis/render.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// For Boost.Test's messages; found by argument-dependent lookup.
namespace shim::calibrate {
std::ostream& operator<<(std::ostream& os, Outcome outcome) {
    return os << (outcome == Outcome::explained ? "explained"
                  : outcome == Outcome::empty   ? "empty"
                                                : "unexplained");
}
} // namespace shim::calibrate

namespace {

namespace json = boost::json;
using namespace shim::calibrate;

const std::string attrib_rule = "5c3ea6806114163b8cdf5735aeb07e702ab63e0e486f721df84cf675e2b0a04b";
const std::string schtasks_rule = "3bc9d14114a6b67367a24df21134d0564d6f08a0ad903d68f9b25e9d8b7f0790";
const std::string defender_rule = "cf90b923dcb2c8192e6651425886607684aac6680bf25b20c39ae3f8743aebf1";
const std::string firewall_rule = "693c36f61ac022fd66354b440464f490058c22b984ba1bef05ca246aba210ed1";

json::value load(const std::string& name) {
    return json::parse(test_support::read_file(test_support::fixture(name)));
}

// Field lists as text, so that Boost.Test can show them.
std::string text(const FieldList& fields) {
    std::string out;
    for (const auto& field : fields)
        out += (out.empty() ? "" : ",") + field;
    return out;
}

std::string text(const std::vector<FieldList>& lists) {
    std::string out;
    for (const auto& fields : lists)
        out += (out.empty() ? "" : " / ") + text(fields);
    return out;
}

Explanation explain_with(std::string_view legacy, const std::vector<std::string>& values_texts) {
    std::vector<EventText> events;
    for (const auto& values : values_texts)
        events.push_back(event_text(json::parse(values).as_object()));
    return explain(legacy, events);
}

// ---- building today's objects and legacy answers ----

// A results entry of `rule_id` with one context per values map.
json::object result_entry(const std::string& rule_id, const std::vector<json::object>& contexts) {
    json::array match_context;
    for (const auto& values : contexts)
        match_context.push_back(json::object{{"values", values}});
    return json::object{{"rule_id", rule_id}, {"rule_title", "t"},   {"rule_description", "d"},
                        {"rule_source", "s"}, {"rule_level", "low"}, {"match_context", match_context}};
}

using Results = std::vector<std::pair<std::string, std::vector<json::object>>>; // rule id, contexts

json::array results_json(const Results& results) {
    json::array out;
    for (const auto& [rule_id, contexts] : results)
        out.push_back(result_entry(rule_id, contexts));
    return out;
}

json::value file_answer(const std::string& sha256, const Results& results) {
    return json::object{
        {"data", json::object{{"attributes", json::object{{"sigma_analysis_results", results_json(results)}}},
                              {"id", sha256},
                              {"type", "file"}}}};
}

json::object behaviour_object(const std::string& sha256, const std::string& sandbox, const Results& results) {
    return json::object{{"attributes", json::object{{"sigma_analysis_results", results_json(results)}}},
                        {"id", sha256 + "_" + sandbox},
                        {"type", "file_behaviour"}};
}

using Matches = std::vector<std::pair<std::string, std::string>>; // rule id, match-context string

// A legacy answer in one of the four forms that carry matches.
json::value legacy_answer(std::string_view form, const std::string& sha256, const Matches& matches) {
    const std::string base = "https://www.virustotal.com/api/v3/";
    if (form == "object" || form == "relationship") {
        json::array rule_matches;
        for (const auto& [rule_id, context] : matches)
            rule_matches.push_back(json::object{{"match_context", context},
                                                {"rule_description", "d"},
                                                {"rule_id", rule_id},
                                                {"rule_level", "low"},
                                                {"rule_source", "s"},
                                                {"rule_title", "t"}});
        json::object data{{"attributes", json::object{{"rule_matches", rule_matches}}},
                          {"id", sha256},
                          {"links", json::object{{"self", base + "sigma_analyses/" + sha256}}},
                          {"type", "sigma_analysis"}};
        if (form == "object") return json::object{{"data", data}};
        return json::object{{"data", data},
                            {"links", json::object{{"self", base + "files/" + sha256 + "/sigma_analysis"}}},
                            {"meta", json::object{{"count", 1}}}};
    }
    json::array items;
    for (const auto& [rule_id, context] : matches) {
        json::object item{{"context_attributes", json::object{{"match", context}}},
                          {"id", rule_id},
                          {"type", "sigma_rule"}};
        if (form == "rules") item["attributes"] = json::object{{"title", "t"}};
        items.push_back(item);
    }
    const std::string route = form == "rules" ? "/rules" : "/relationships/rules";
    return json::object{{"data", items},
                        {"links", json::object{{"self", base + "sigma_analyses/" + sha256 + route}}},
                        {"meta", json::object{{"count", matches.size()}}}};
}

// The test's own writer of contract 3.3, for the keys in `fields`' order (not the library's code).
std::string legacy_string(const json::object& values, const FieldList& fields) {
    std::string out;
    for (const auto& field : fields) {
        const auto& v = values.at(field);
        out += (out.empty() ? "$" : ", $") + field + ": '" +
               (v.is_string() ? std::string(v.get_string()) : json::serialize(v)) + "'";
    }
    return out;
}

// ---- a deterministic generator of train sets with known selections ----

class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}
    std::size_t below(std::size_t n) {
        state_ ^= state_ << 13; // xorshift64
        state_ ^= state_ >> 7;
        state_ ^= state_ << 17;
        return static_cast<std::size_t>(state_ % n);
    }

private:
    std::uint64_t state_;
};

const std::vector<std::string> field_pool = {
    "CommandLine", "EventID", "Image",          "ParentCommandLine",
    "ParentImage", "User",    "TargetFilename", "Hashes",
    "ProcessId",   "Details", "IntegrityLevel", "winlog.event_data.LogonId"};

// Values that make the string hard to read: quotes, the separator inside a value, trailing backslashes,
// non-ASCII, [TRUNCATED], empty strings, and values that are not strings.
json::value generated_value(Rng& rng, std::size_t serial) {
    const std::string tag = std::to_string(serial);
    switch (rng.below(13)) {
    case 0:
        return json::value("C:\\Windows\\System32\\cmd" + tag + ".exe");
    case 1:
        return json::value("it's \"quoted\" " + tag);
    case 2:
        return json::value("a" + tag + "', $Image: 'b"); // reads like a value followed by another pair
    case 3:
        return json::value("C:\\Users\\admin\\AppData\\Local\\Temp\\" + tag + "\\");
    case 4:
        return json::value("J\xC3\xA1n Tren\xC4\x8D"
                           "ansk\xC3\xBD \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC " +
                           tag);
    case 5:
        return json::value("powershell -enc " + std::string(40, 'A') + tag + "[TRUNCATED]");
    case 6:
        return json::value(static_cast<std::int64_t>(4600 + serial));
    case 7:
        return json::value(serial % 2 == 0);
    case 8:
        return json::value(nullptr);
    case 9:
        return json::object{{"a", serial}, {"b", json::array{1, "x"}}};
    case 10:
        return json::value("ends with a quote '" + tag + "'");
    case 11:
        return json::value("x" + tag + ", $");
    default:
        return json::value("");
    }
}

struct GeneratedRule {
    std::string id;
    FieldList hidden; // the selection the legacy strings were written with
    std::size_t matches = 0;
};

struct GeneratedRecording {
    std::string name;
    json::value legacy;
    json::value file;
    std::vector<json::value> behaviours;
};

struct TrainSet {
    std::vector<GeneratedRule> rules;
    std::vector<GeneratedRecording> recordings;
};

TrainSet generate_train_set() {
    Rng rng(0x5167'6d61'1616'2024);
    TrainSet set;
    const std::string hex = "0123456789abcdef";
    for (std::size_t r = 0; r < 6; ++r) {
        GeneratedRule rule;
        rule.id = std::string(63, hex[r + 1]) + "0";
        auto pool = field_pool;
        const std::size_t size = 1 + rng.below(5);
        for (std::size_t i = 0; i < size; ++i) {
            std::swap(pool[i], pool[i + rng.below(pool.size() - i)]);
            rule.hidden.push_back(pool[i]);
        }
        // The legacy service wrote byte order (contract 3.3); the learner takes whatever order the strings
        // show.
        if (r % 2 == 0) std::sort(rule.hidden.begin(), rule.hidden.end());
        set.rules.push_back(std::move(rule));
    }

    const char* const forms[] = {"object", "relationship", "rules", "rules-descriptors"};
    std::size_t serial = 0;
    for (std::size_t f = 0; f < 8; ++f) {
        const std::string sha256 = std::string(64, hex[15 - f]);
        Results in_file, in_first, in_second;
        Matches matches;
        for (std::size_t r = 0; r < set.rules.size(); ++r) {
            auto& rule = set.rules[r];
            if (r % 8 != f && rng.below(3) == 0) continue; // every rule is in at least one file
            std::vector<json::object> to_file, to_first, to_second;
            const std::size_t events = 1 + rng.below(4);
            for (std::size_t e = 0; e < events; ++e) {
                json::object values;
                for (const auto& field : rule.hidden)
                    values[field] = generated_value(rng, ++serial);
                const std::size_t extras = rng.below(4);
                for (std::size_t x = 0; x < extras; ++x) {
                    const auto& field = field_pool[rng.below(field_pool.size())];
                    if (!values.contains(field)) values[field] = generated_value(rng, ++serial);
                }
                // Now and then the first value holds "', $Injected: '" and today also has a twin event that
                // has it as two fields: the string then reads two ways, the twin's with one field more, and
                // only the rule's other matches say which is the legacy one.
                std::optional<json::object> twin;
                if (rng.below(4) == 0) {
                    const auto& first = rule.hidden.front();
                    const std::string tag = std::to_string(++serial);
                    values[first] = "a" + tag + "', $Injected: 'b";
                    twin.emplace();
                    for (const auto& field : rule.hidden)
                        (*twin)[field] = values.at(field);
                    (*twin)[first] = "a" + tag;
                    (*twin)["Injected"] = "b";
                }
                matches.emplace_back(rule.id, legacy_string(values, rule.hidden));
                ++rule.matches;
                if (twin) to_first.push_back(std::move(*twin));
                switch (rng.below(3)) {
                case 0:
                    to_file.push_back(values);
                    break;
                case 1:
                    to_first.push_back(values);
                    break;
                default: // the same rule and context in the File object and in a behaviour
                    to_file.push_back(values);
                    to_second.push_back(values);
                    break;
                }
            }
            if (!to_file.empty()) in_file.emplace_back(rule.id, to_file);
            if (!to_first.empty()) in_first.emplace_back(rule.id, to_first);
            if (!to_second.empty()) in_second.emplace_back(rule.id, to_second);
        }
        GeneratedRecording recording;
        recording.name = "train-" + std::to_string(f) + ".json";
        recording.legacy = legacy_answer(forms[f % 4], sha256, matches);
        recording.file = file_answer(sha256, in_file);
        // One behaviour as a list page, the other as a bare object: both shapes are read.
        recording.behaviours.push_back(
            json::object{{"data", json::array{behaviour_object(sha256, "Zenbox", in_first)}}});
        recording.behaviours.push_back(behaviour_object(sha256, "Jujubox", in_second));
        set.recordings.push_back(std::move(recording));
    }
    return set;
}

// ---- the public examples ----

struct Example {
    std::string legacy,
        objects; // file names: vt/<legacy>, roundtrip/<objects>.file.json and .behaviours.json
};

const std::vector<Example> public_examples = {
    {"legacy_files_sigma_analysis.real_f912398c.json", "f912398c"},
    {"legacy_files_sigma_analysis_relationship.docs_example.json", "docs_files_sigma_analysis"},
    {"legacy_sigma_analysis_object.docs_example_copy.virscan-py.json", "docs_sigma_analyses"},
    {"legacy_sigma_analyses_rules_relationship.docs_example.json", "docs_sigma_analyses"},
};

bool add_example(Learner& learner, const std::string& legacy, const std::string& objects) {
    const std::vector<json::value> behaviours = {load("roundtrip/" + objects + ".behaviours.json")};
    return learner.add(legacy, load("vt/" + legacy), load("roundtrip/" + objects + ".file.json"), behaviours);
}

const sigma_analysis::RuleCalibration& rule_of(const Learnt& learnt, const std::string& rule_id) {
    const auto at = learnt.calibration.rules.find(rule_id);
    BOOST_REQUIRE_MESSAGE(at != learnt.calibration.rules.end(), "rule " + rule_id + " was not learnt");
    return at->second;
}

void expect_rule(const Learnt& learnt, const std::string& rule_id, const FieldList& fields,
                 std::size_t support) {
    const auto& rule = rule_of(learnt, rule_id);
    BOOST_TEST_INFO("rule " << rule_id);
    BOOST_TEST(text(rule.chosen.fields) == text(fields));
    BOOST_TEST(rule.chosen.support == support);
    BOOST_TEST(rule.others.empty());
}

// Recordings that teach nothing: every way a recording or a match is reported instead of learnt from.
struct Unusable {
    std::string name;
    json::value legacy;
};

} // namespace

BOOST_AUTO_TEST_SUITE(calibrate_learn)

BOOST_AUTO_TEST_CASE(explain_reads_values_that_hold_quotes_and_separators) {
    const auto e =
        explain_with("$CommandLine: 'cmd /c echo it's', $x: 'y', $EventID: '1'",
                     {R"({"EventID": "1", "CommandLine": "cmd /c echo it's', $x: 'y", "Image": "i"})"});
    BOOST_TEST(e.outcome == Outcome::explained);
    BOOST_TEST(text(e.selections) == "CommandLine,EventID");
    BOOST_TEST(!e.gave_up);
}

BOOST_AUTO_TEST_CASE(explain_backtracks_when_a_key_reads_too_early) {
    // "A" matches first but leaves "$B: '2'", which no key of the event gives; the key that holds ": '1', $B"
    // itself is the reading.
    const auto e = explain_with("$A: '1', $B: '2', $C: '3'", {R"({"A": "1", "A: '1', $B": "2", "C": "3"})"});
    BOOST_TEST(text(e.selections) == "A: '1', $B,C");
}

BOOST_AUTO_TEST_CASE(explain_writes_values_that_are_not_strings_as_compact_json) {
    const auto e =
        explain_with("$EventID: '4672', $Flag: 'true', $Gone: 'null', $Obj: '{\"a\":1,\"b\":[1,\"x\"]}'",
                     {R"({"Obj": {"a": 1, "b": [1, "x"]}, "Gone": null, "Flag": true, "EventID": 4672})"});
    BOOST_TEST(text(e.selections) == "EventID,Flag,Gone,Obj");
}

BOOST_AUTO_TEST_CASE(explain_keeps_the_order_the_string_shows) {
    const auto e = explain_with("$Image: 'i', $CommandLine: 'c'", {R"({"CommandLine": "c", "Image": "i"})"});
    BOOST_TEST(text(e.selections) == "Image,CommandLine");
}

BOOST_AUTO_TEST_CASE(explain_needs_every_byte) {
    const std::vector<std::string> event = {R"({"A": "abc", "B": "d"})"};
    BOOST_TEST((explain_with("", event).outcome == Outcome::empty));
    BOOST_TEST((explain_with("", {}).outcome == Outcome::empty));
    for (const std::string_view legacy :
         {"$A: 'ab'", "$A: 'abc', $", "$A: 'abc', $B: 'd' ", "$A: 'abc',$B: 'd'", "$A: 'abc', $A: 'abc'",
          "$B: 'd', $C: 'e'", "A: 'abc'"}) {
        BOOST_TEST_INFO(legacy);
        const auto e = explain_with(legacy, event);
        BOOST_TEST((e.outcome == Outcome::unexplained));
        BOOST_TEST(e.selections.empty());
    }
    BOOST_TEST((explain_with("$A: 'abc'", {}).outcome == Outcome::unexplained));
}

BOOST_AUTO_TEST_CASE(explain_lists_every_reading_more_fields_first) {
    const auto e = explain_with("$A: 'x', $B: 'y'", {R"({"A": "x', $B: 'y"})", R"({"B": "y", "A": "x"})"});
    BOOST_TEST(text(e.selections) == "A,B / A");
    BOOST_TEST(prefer_selection({"A", "B"}, {"A"}));
    BOOST_TEST(prefer_selection({"A", "B"}, {"A", "C"}));
    BOOST_TEST(!prefer_selection({"A", "C"}, {"A", "B"}));
    BOOST_TEST(prefer_selection({"Z"}, {"\xC3\xA4"})); // byte order: non-ASCII after ASCII
}

BOOST_AUTO_TEST_CASE(explain_stops_on_keys_built_to_nest_and_does_not_guess) {
    // Key j spans j pairs "$A: 'x'": a run of 40 such pairs splits in more ways than the search may try. With
    // a final pair no key gives, there is no reading; the search stops at its limit and says so.
    json::object values;
    std::string key = "A", legacy;
    for (int j = 0; j < 40; ++j) {
        values[key] = "x";
        key += ": 'x', $A";
        legacy += (legacy.empty() ? "" : ", ") + std::string("$A: 'x'");
    }
    const std::vector<EventText> events = {event_text(values)};
    const auto unexplained = explain(legacy + ", $Z: 'z'", events);
    BOOST_TEST(unexplained.outcome == Outcome::unexplained);
    BOOST_TEST(unexplained.gave_up);
    // Without the final pair there are readings; the first 16 found are kept, and it says it stopped.
    const auto explained = explain(legacy, events);
    BOOST_TEST(explained.outcome == Outcome::explained);
    BOOST_TEST(explained.selections.size() == 16u);
    BOOST_TEST(explained.gave_up);
}

BOOST_AUTO_TEST_CASE(legacy_matches_of_each_form) {
    const Matches matches = {{"r1", "$A: '1'"}, {"r2", ""}};
    for (const auto* form : {"object", "relationship", "rules", "rules-descriptors"}) {
        BOOST_TEST_INFO(form);
        const auto read = read_legacy_matches(legacy_answer(form, std::string(64, 'a'), matches));
        BOOST_TEST(read.error.empty());
        BOOST_TEST(read.problems.empty());
        BOOST_REQUIRE_EQUAL(read.matches.size(), 2u);
        BOOST_TEST(read.matches[0].rule_id == "r1");
        BOOST_TEST(read.matches[0].context == "$A: '1'");
        BOOST_TEST(read.matches[1].context == "");
    }
}

BOOST_AUTO_TEST_CASE(learns_the_public_examples) {
    Learner learner;
    for (const auto& example : public_examples)
        BOOST_TEST(add_example(learner, example.legacy, example.objects));
    const auto learnt = learner.finish();

    // 3 + 3 + 2 matches of the attrib rule, one schtasks match in each docs example.
    expect_rule(learnt, attrib_rule, {"CommandLine", "EventID", "Image", "ParentCommandLine"}, 8);
    expect_rule(learnt, schtasks_rule, {"CommandLine", "EventID", "Image", "User"}, 2);
    expect_rule(learnt, defender_rule, {"EventID"}, 1);
    expect_rule(learnt, firewall_rule, {"EventID"}, 1);
    BOOST_TEST(learnt.calibration.rules.size() == 4u);

    const auto& report = learnt.report;
    BOOST_TEST(report.recordings == 4u);
    BOOST_TEST(report.read == 4u);
    BOOST_TEST(report.matches == 12u);
    BOOST_TEST(report.explained == 12u);
    BOOST_TEST(report.conflicts.empty());
    BOOST_TEST(report.unexplained.empty());
    BOOST_TEST(report.empty.empty());
    BOOST_TEST(report.unreadable.empty());
    BOOST_REQUIRE_EQUAL(report.rules.size(), 4u);
    BOOST_TEST(report.rules[1].rule_id == attrib_rule); // by rule id, byte order: 3bc9, 5c3e, 693c, cf90
    BOOST_TEST(report.rules[1].chosen.support == 8u);
    BOOST_TEST(report.rules[1].explained == 8u);
}

BOOST_AUTO_TEST_CASE(learns_the_legacy_selection_from_wide_events) {
    // Today's contexts carry extra Sysmon fields (ProcessId, UtcTime, ...): the legacy strings still name
    // four.
    Learner learner;
    BOOST_TEST(add_example(learner, "legacy_files_sigma_analysis_relationship.docs_example.json",
                           "docs_files_sigma_analysis.wide"));
    const auto learnt = learner.finish();
    expect_rule(learnt, attrib_rule, {"CommandLine", "EventID", "Image", "ParentCommandLine"}, 3);
    expect_rule(learnt, schtasks_rule, {"CommandLine", "EventID", "Image", "User"}, 1);
    BOOST_TEST(learnt.report.explained == 4u);
    BOOST_TEST(learnt.report.conflicts.empty());
}

BOOST_AUTO_TEST_CASE(a_recording_paired_with_another_files_objects_is_reported_not_guessed) {
    // The virscan-py example's strings against the docs relationship example's objects: only the
    // window_texts.txt context is in both.
    Learner learner;
    BOOST_TEST(add_example(learner, "legacy_sigma_analysis_object.docs_example_copy.virscan-py.json",
                           "docs_files_sigma_analysis"));
    const auto learnt = learner.finish();
    expect_rule(learnt, attrib_rule, {"CommandLine", "EventID", "Image", "ParentCommandLine"}, 1);
    BOOST_TEST(!learnt.calibration.rules.contains(schtasks_rule));
    const auto& unexplained = learnt.report.unexplained;
    BOOST_REQUIRE_EQUAL(unexplained.size(), 3u);
    BOOST_TEST(unexplained[0].recording == "legacy_sigma_analysis_object.docs_example_copy.virscan-py.json");
    BOOST_TEST(unexplained[0].rule_id == attrib_rule);
    BOOST_TEST(unexplained[0].events == 3u);
    BOOST_TEST(unexplained[2].rule_id == schtasks_rule);
    BOOST_TEST(unexplained[2].events == 1u);
    BOOST_TEST(unexplained[2].legacy.size() <= 120u);
    BOOST_TEST(unexplained[2].legacy.ends_with("..."));
    BOOST_TEST(unexplained[2].legacy_bytes > 120u);
    BOOST_TEST(unexplained[2].legacy.starts_with("$CommandLine: '\"schtasks.exe\" /create"));
}

BOOST_AUTO_TEST_CASE(learns_every_hidden_selection_of_a_generated_train_set) {
    const auto set = generate_train_set();
    Learner learner;
    for (const auto& recording : set.recordings)
        BOOST_TEST(learner.add(recording.name, recording.legacy, recording.file, recording.behaviours));
    const auto learnt = learner.finish();

    std::size_t matches = 0;
    for (const auto& rule : set.rules) {
        BOOST_TEST_INFO("rule " << rule.id);
        BOOST_TEST(rule.matches > 0u);
        expect_rule(learnt, rule.id, rule.hidden, rule.matches);
        matches += rule.matches;
    }
    BOOST_TEST(learnt.calibration.rules.size() == set.rules.size());
    BOOST_TEST(learnt.report.matches == matches);
    BOOST_TEST(learnt.report.explained == matches);
    BOOST_TEST(learnt.report.unexplained.empty());
    BOOST_TEST(learnt.report.conflicts.empty());
    BOOST_TEST(learnt.report.unreadable.empty());
    std::size_t ambiguous = 0;
    for (const auto& rule : learnt.report.rules)
        ambiguous += rule.ambiguous;
    BOOST_TEST(ambiguous > 0u); // the twins made some matches read two ways; the rule's evidence decided

    // The same recordings in the other order: the same calibration.
    Learner reversed;
    for (auto at = set.recordings.rbegin(); at != set.recordings.rend(); ++at)
        reversed.add(at->name, at->legacy, at->file, at->behaviours);
    const auto again = reversed.finish();
    for (const auto& rule : set.rules)
        expect_rule(again, rule.id, rule.hidden, rule.matches);
}

// The match contexts the calibrated mode writes for one recording's objects: rule id and string, per match.
std::multiset<std::pair<std::string, std::string>> calibrated_contexts(const GeneratedRecording& recording,
                                                                       const sigma_analysis::Calibration& c) {
    namespace sa = sigma_analysis;
    const auto file = sa::find_file_object(recording.file);
    BOOST_TEST_REQUIRE(static_cast<bool>(file), file.error);
    std::vector<const json::object*> behaviours;
    for (const auto& doc : recording.behaviours) {
        const auto found = sa::find_behaviour_objects(doc);
        BOOST_TEST_REQUIRE(static_cast<bool>(found), found.error);
        behaviours.insert(behaviours.end(), found.value.objects.begin(), found.value.objects.end());
    }
    auto analysis = sa::extract(
        {*file.value, behaviours, nullptr, sa::ContextMode::calibrated, &c, sa::ContextMode::all});
    BOOST_TEST(analysis.diagnostics.uncalibrated_rules == 0u);
    const auto answer = sa::render(sa::Form::object, analysis, {});
    const auto doc = json::parse(answer.body);
    std::multiset<std::pair<std::string, std::string>> out;
    for (const auto& m : doc.at("data").at("attributes").at("rule_matches").as_array())
        out.emplace(m.at("rule_id").as_string(), m.at("match_context").as_string());
    return out;
}

BOOST_AUTO_TEST_CASE(a_calibration_learnt_on_some_recordings_writes_the_held_back_ones_byte_for_byte) {
    // Train on the first six files, hold back the last two: every rule is in one of the first six.
    const auto set = generate_train_set();
    const std::size_t train = 6;
    Learner learner;
    for (std::size_t i = 0; i < train; ++i)
        learner.add(set.recordings[i].name, set.recordings[i].legacy, set.recordings[i].file,
                    set.recordings[i].behaviours);
    const auto learnt = learner.finish();
    std::size_t checked = 0;
    for (std::size_t i = train; i < set.recordings.size(); ++i) {
        const auto& recording = set.recordings[i];
        BOOST_TEST_INFO("held back: " << recording.name);
        const auto written = calibrated_contexts(recording, learnt.calibration);
        // Every legacy string comes back byte for byte. Today's objects may hold more contexts than the
        // legacy answer had matches (the generator's twin events), never fewer.
        const auto read = shim::calibrate::read_legacy_matches(recording.legacy);
        BOOST_TEST_REQUIRE(read.error.empty(), read.error);
        for (const auto& m : read.matches) {
            BOOST_TEST_INFO("rule " << m.rule_id << ": " << m.context);
            BOOST_TEST(written.count({m.rule_id, m.context}) >= 1u);
            ++checked;
        }
    }
    BOOST_TEST(checked > 0u);
}

BOOST_AUTO_TEST_CASE(unusable_matches_and_recordings_are_reported_never_learnt) {
    const std::string sha256(64, 'c');
    const std::string rule = "rule-known", unseen = "rule-not-today", only_empty = "rule-only-empty";
    const json::object values{{"EventID", "1"}, {"Image", "C:\\x.exe"}};
    const auto file = file_answer(sha256, {{rule, {values}}, {only_empty, {values}}});
    const std::vector<json::value> no_behaviours;

    Learner learner;
    BOOST_TEST(learner.add("good.json",
                           legacy_answer("object", sha256,
                                         {{rule, "$EventID: '1', $Image: 'C:\\x.exe'"},
                                          {rule, "$EventID: '2', $Image: 'C:\\x.exe'"},
                                          {unseen, "$EventID: '1'"},
                                          {only_empty, ""}}),
                           file, no_behaviours));
    auto with_bad_item = legacy_answer("rules-descriptors", sha256, {{rule, "$EventID: '1'"}});
    with_bad_item.at("data").as_array().push_back(json::object{{"id", rule}, {"type", "sigma_rule"}});
    BOOST_TEST(learner.add("bad-item.json", with_bad_item, file, no_behaviours));

    const std::vector<Unusable> unusable = {
        {"error.json", json::parse(R"({"error": {"code": "NotFoundError", "message": "x"}})")},
        {"descriptor.json",
         json::parse(R"({"data": {"id": "cc", "type": "sigma_analysis"}, "meta": {"count": 1}})")},
        {"none.json", json::parse(R"({"data": null, "meta": {"count": 0}})")},
        {"embedded.json", file},
        {"behaviours.json", json::parse(R"({"data": [{"attributes": {}, "type": "file_behaviour"}]})")},
        {"list.json", json::parse("[1, 2]")},
    };
    for (const auto& u : unusable)
        BOOST_TEST(!learner.add(u.name, u.legacy, file, no_behaviours));
    const std::vector<json::value> bad_behaviours = {json::parse(R"({"data": "nope"})")};
    BOOST_TEST(!learner.add("bad-behaviours.json", legacy_answer("object", sha256, {{rule, "$EventID: '1'"}}),
                            file, bad_behaviours));
    BOOST_TEST(!learner.add("bad-file.json", legacy_answer("object", sha256, {{rule, "$EventID: '1'"}}),
                            json::parse(R"({"data": {"type": "url", "id": "x"}})"), no_behaviours));

    const auto learnt = learner.finish();
    // Learnt only from the matches an event reproduces: "$EventID: '1', $Image: ..." and "$EventID: '1'".
    BOOST_TEST(learnt.calibration.rules.size() == 1u);
    const auto& known = rule_of(learnt, rule);
    BOOST_TEST(known.chosen.support + (known.others.empty() ? 0 : known.others[0].support) == 2u);
    BOOST_TEST(!learnt.calibration.rules.contains(unseen));
    BOOST_TEST(!learnt.calibration.rules.contains(only_empty));

    const auto& report = learnt.report;
    BOOST_TEST(report.recordings == 2u + unusable.size() + 2u);
    BOOST_TEST(report.read == 2u);
    BOOST_TEST(report.matches == 5u);
    BOOST_TEST(report.explained == 2u);
    BOOST_REQUIRE_EQUAL(report.unexplained.size(), 2u);
    BOOST_TEST(report.unexplained[0].recording == "good.json");
    BOOST_TEST(report.unexplained[0].rule_id == rule);
    BOOST_TEST(report.unexplained[0].legacy == "$EventID: '2', $Image: 'C:\\x.exe'");
    BOOST_TEST(report.unexplained[0].events == 1u);
    BOOST_TEST(report.unexplained[1].rule_id == unseen);
    BOOST_TEST(report.unexplained[1].events == 0u);
    BOOST_REQUIRE_EQUAL(report.empty.size(), 1u);
    BOOST_TEST(report.empty[0].recording == "good.json");
    BOOST_TEST(report.empty[0].rule_id == only_empty);

    std::vector<std::string> unreadable;
    for (const auto& u : report.unreadable)
        unreadable.push_back(u.recording + ": " + u.reason);
    const std::vector<std::string> expected = {
        "bad-item.json: data[1] has no string context_attributes.match",
        "error.json: an error answer (NotFoundError): it carries no matches",
        "descriptor.json: a sigma_analysis descriptor: it carries no matches",
        "none.json: a descriptor of no analysis (data null): it carries no matches",
        "embedded.json: a File answer (the embedded or counter form): it carries no matches",
        "behaviours.json: not a legacy sigma_analysis answer: data[0] is an object of type "
        "\"file_behaviour\", not a "
        "sigma_rule object",
        "list.json: not a legacy sigma_analysis answer: the body is an array of 2 items",
    };
    BOOST_REQUIRE_EQUAL(unreadable.size(), expected.size() + 2);
    for (std::size_t i = 0; i < expected.size(); ++i)
        BOOST_TEST(unreadable[i] == expected[i]);
    BOOST_TEST(unreadable[expected.size()].starts_with("bad-behaviours.json: behaviour document 1: "));
    BOOST_TEST(unreadable[expected.size() + 1].starts_with("bad-file.json: the File object: "));
}

BOOST_AUTO_TEST_CASE(a_reading_several_lists_give_follows_the_rules_other_matches) {
    // "$A: 'x', $B: 'y'" reads as A,B (the second event) and as A alone (the first, whose A holds "', $B:
    // '"); the rule's unambiguous match says A: the ambiguous one goes there, and there is no conflict.
    const std::string sha256(64, 'd');
    const json::object tricky{{"A", "x', $B: 'y"}}, plain{{"A", "x"}, {"B", "y"}},
        other{{"A", "p"}, {"B", "q"}};
    Learner learner;
    learner.add("r.json", legacy_answer("object", sha256, {{"R", "$A: 'x', $B: 'y'"}, {"R", "$A: 'p'"}}),
                file_answer(sha256, {{"R", {tricky, plain, other}}}), {});
    const auto learnt = learner.finish();
    expect_rule(learnt, "R", {"A"}, 2);
    BOOST_REQUIRE_EQUAL(learnt.report.rules.size(), 1u);
    BOOST_TEST(learnt.report.rules[0].ambiguous == 1u);
    BOOST_TEST(learnt.report.conflicts.empty());

    // Alone, the ambiguous match takes the reading with more fields.
    Learner alone;
    alone.add("r.json", legacy_answer("object", sha256, {{"R", "$A: 'x', $B: 'y'"}}),
              file_answer(sha256, {{"R", {tricky, plain}}}), {});
    expect_rule(alone.finish(), "R", {"A", "B"}, 1);
}

BOOST_AUTO_TEST_CASE(conflicts_name_each_selection_its_support_and_why_one_won) {
    const std::string sha256(64, 'e');
    const json::object event{{"A", "1"}, {"B", "2"}, {"C", "3"}};
    const auto file = file_answer(sha256, {{"more", {event}}, {"fields", {event}}, {"bytes", {event}}});
    Matches matches;
    for (int i = 0; i < 3; ++i)
        matches.emplace_back("more", "$A: '1', $B: '2'");
    for (int i = 0; i < 2; ++i)
        matches.emplace_back("more", "$C: '3'");
    matches.emplace_back("fields", "$A: '1'");
    matches.emplace_back("fields", "$B: '2', $C: '3'");
    matches.emplace_back("bytes", "$B: '2'");
    matches.emplace_back("bytes", "$A: '1'");
    Learner learner;
    // Split over two recordings of different forms.
    learner.add("one.json",
                legacy_answer("relationship", sha256, Matches(matches.begin(), matches.begin() + 4)), file,
                {});
    learner.add("two.json", legacy_answer("rules", sha256, Matches(matches.begin() + 4, matches.end())), file,
                {});
    const auto learnt = learner.finish();

    const auto& more = rule_of(learnt, "more");
    BOOST_TEST(text(more.chosen.fields) == "A,B");
    BOOST_TEST(more.chosen.support == 3u);
    BOOST_REQUIRE_EQUAL(more.others.size(), 1u);
    BOOST_TEST(text(more.others[0].fields) == "C");
    BOOST_TEST(more.others[0].support == 2u);
    BOOST_TEST(text(rule_of(learnt, "fields").chosen.fields) == "B,C");
    BOOST_TEST(text(rule_of(learnt, "bytes").chosen.fields) == "A");

    const auto& conflicts = learnt.report.conflicts;
    BOOST_REQUIRE_EQUAL(conflicts.size(), 3u); // by rule id: bytes, fields, more
    BOOST_TEST(conflicts[0].rule_id == "bytes");
    BOOST_TEST(win_reason_name(conflicts[0].reason) == "byte_order");
    BOOST_TEST(win_reason_name(conflicts[1].reason) == "more_fields");
    BOOST_TEST(conflicts[2].rule_id == "more");
    BOOST_TEST(win_reason_name(conflicts[2].reason) == "more_support");
    BOOST_REQUIRE_EQUAL(conflicts[2].selections.size(), 2u);
    BOOST_TEST(conflicts[2].selections[0].support == 3u);
    BOOST_TEST(conflicts[2].selections[1].support == 2u);
    BOOST_TEST(learnt.report.rules[2].explained == 5u);

    const auto report = report_text(learnt.report);
    BOOST_TEST_INFO(report);
    BOOST_TEST(report.find("conflict: rule more: chose A,B (3 matches) over C (2 matches): more support\n") !=
               std::string::npos);
    BOOST_TEST(report.find("conflict: rule fields: chose B,C (1 match) over A (1 match): equal support, more "
                           "fields\n") != std::string::npos);
    BOOST_TEST(
        report.find("conflict: rule bytes: chose A (1 match) over B (1 match): equal support and fields, "
                    "first in byte order\n") != std::string::npos);
    BOOST_TEST(report.find("rule more: A,B (3 of 5 matches)\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(report_text_one_line_per_finding) {
    Learner learner;
    BOOST_TEST(add_example(learner, "legacy_files_sigma_analysis.real_f912398c.json", "f912398c"));
    const std::string sha256(64, 'f');
    const json::object values{{"EventID", "1"}};
    learner.add("odd.json",
                legacy_answer("object", sha256,
                              {{"R", "$EventID: 'line\nbreak'"}, {"R", ""}, {"S", "$EventID: '1'"}}),
                file_answer(sha256, {{"R", {values}}, {"S", {values, json::object{{"EventID", "2"}}}}}), {});
    learner.add("error.json", json::parse(R"({"error": {"code": "NotFoundError", "message": "x"}})"), nullptr,
                {});
    const auto text_report = report_text(learner.finish().report);
    const std::string expected =
        "calibrate: 3 recordings (2 read), 5 matches: 3 explained, 1 unexplained, 1 empty; 3 rules learnt, "
        "0 conflicts, 1 unreadable\n"
        "rule 693c36f61ac022fd66354b440464f490058c22b984ba1bef05ca246aba210ed1: EventID (1 match)\n"
        "rule S: EventID (1 match)\n"
        "rule cf90b923dcb2c8192e6651425886607684aac6680bf25b20c39ae3f8743aebf1: EventID (1 match)\n"
        "unexplained: odd.json: rule R: \"$EventID: 'line?break'\" (its one event today does not reproduce "
        "it)\n"
        "empty: odd.json: rule R: the legacy match context is empty, nothing to learn\n"
        "unreadable: error.json: an error answer (NotFoundError): it carries no matches\n";
    BOOST_TEST(text_report == expected);
}

BOOST_AUTO_TEST_CASE(report_json_has_the_documented_members) {
    Learner learner;
    const std::string sha256(64, 'a');
    const json::object event{{"A", "1"}, {"B", "2"}};
    learner.add("a.json",
                legacy_answer("object", sha256,
                              {{"R", "$A: '1', $B: '2'"},
                               {"R", "$A: '1', $B: '2'"},
                               {"R", "$B: '2'"},
                               {"R", "$A: '" + std::string(200, 'z') + "'"},
                               {"R", ""}}),
                file_answer(sha256, {{"R", {event}}}), {});
    learner.add("b.json", json::parse("{}"), nullptr, {});
    const auto text = report_json(learner.finish().report);
    BOOST_TEST(text.ends_with("}\n"));
    const auto root = json::parse(text).as_object();
    std::vector<std::string> keys;
    for (const auto& kv : root)
        keys.emplace_back(kv.key());
    BOOST_TEST((keys == std::vector<std::string>{"schema", "summary", "rules", "conflicts", "unexplained",
                                                 "empty", "unreadable"}));
    BOOST_TEST(root.at("schema").as_string() == "sigma-shim/calibrate-report/1");
    BOOST_TEST(
        json::serialize(root.at("summary")) ==
        R"({"recordings":2,"read":1,"matches":5,"explained":3,"unexplained":1,"empty":1,"unreadable":1,)"
        R"("rules":1,"conflicts":1})");
    BOOST_TEST(json::serialize(root.at("rules")) ==
               R"([{"rule_id":"R","fields":["A","B"],"support":2,"explained":3,"ambiguous":0}])");
    BOOST_TEST(json::serialize(root.at("conflicts")) ==
               R"([{"rule_id":"R","reason":"more_support","selections":[{"fields":["A","B"],"support":2},)"
               R"({"fields":["B"],"support":1}]}])");
    // The string shortened to 120 bytes with "...", and its whole length.
    BOOST_TEST(json::serialize(root.at("unexplained")) ==
               R"([{"recording":"a.json","rule_id":"R","legacy":"$A: ')" + std::string(112, 'z') +
                   R"(...","legacy_bytes":206,"events":1,"gave_up":false}])");
    BOOST_TEST(json::serialize(root.at("empty")) == R"([{"recording":"a.json","rule_id":"R"}])");
    BOOST_TEST(json::serialize(root.at("unreadable")) ==
               R"([{"recording":"b.json","reason":"not a legacy sigma_analysis answer: it has no data"}])");
}

BOOST_AUTO_TEST_CASE(shorten_cuts_between_characters) {
    BOOST_TEST(shorten("short", 10) == "short");
    BOOST_TEST(shorten("0123456789", 10) == "0123456789");
    // "é" is two bytes at 6 and 7: a cut at 7 would split it, so the cut comes before it.
    BOOST_TEST(shorten("abcdef\xC3\xA9ghijk", 10) == "abcdef...");
    BOOST_TEST(shorten("abcdefg\xC3\xA9hijk", 10) == "abcdefg...");
}

BOOST_AUTO_TEST_SUITE_END()
