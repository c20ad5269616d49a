// Golden answers: every fixture that carries Sigma data, on every legacy route (the route table) in both
// match-context modes, compared with tests/golden/.
//
// The golden files are stored pretty-printed (two spaces a level, one member or element per line) so that a
// change to an answer is a reviewable diff. The answer is pretty-printed with the same printer and the texts
// compared exactly; and since the printer drops nothing but white space outside strings, every answer is also
// checked to be exactly its golden file with that white space removed (number formats, escapes, key order).
//
// To regenerate them after an intended change, then review the diff before committing:
//   SIGMA_SHIM_UPDATE_GOLDEN=1 build/tests/unit/unit_tests --run_test=golden
#include "sigma_analysis/legacy_routes.hpp"
#include "test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace ts = test_support;
namespace json = boost::json;

namespace {

struct GoldenInput {
    std::string name;  // folder under tests/golden/
    std::string bytes; // the File object
};

// The File objects with Sigma data: three whole fixtures and the two search results that carry results.
std::vector<GoldenInput> golden_inputs() {
    std::vector<GoldenInput> inputs;
    for (const char* name :
         {"file_object.real.azul_Win32DLL_multipurpose", "file_object.real.azul_powershell_script",
          "file_object.real.msticpy_vt3_file_1"}) {
        inputs.push_back({name, ts::read_file(ts::fixture(std::string("vt/") + name + ".json"))});
    }
    const auto search =
        json::parse(ts::read_file(ts::fixture("vt/intelligence_search.real.msticpy_vt3_search.json")));
    for (const auto& query : search.as_object()) {
        for (const auto& item : query.value().as_array()) {
            const auto& attributes = item.at("attributes").as_object();
            if (!attributes.contains("sigma_analysis_results")) continue;
            const std::string id(item.at("id").as_string());
            inputs.push_back(
                {"intelligence_search.real.msticpy_vt3_search." + id.substr(0, 12), json::serialize(item)});
        }
    }
    return inputs;
}

constexpr const char* modes[] = {"all", "rule-fields"};

bool mode_matters(sigma_analysis::Form form) {
    return form != sigma_analysis::Form::descriptor && form != sigma_analysis::Form::embedded;
}

std::string golden_path(const std::string& input, sigma_analysis::Form form, std::string_view mode) {
    std::string path = ts::source_dir() + "/tests/golden/" + input + "/";
    path.append(sigma_analysis::form_name(form));
    if (mode_matters(form)) path.append(".").append(mode);
    return path.append(".json");
}

// Where two texts first differ, by line, for the failure message.
std::string first_difference(const std::string& got, const std::string& want) {
    std::istringstream a(got), b(want);
    std::string la, lb;
    for (int line = 1;; ++line) {
        const bool more_a = static_cast<bool>(std::getline(a, la));
        const bool more_b = static_cast<bool>(std::getline(b, lb));
        if (!more_a && !more_b) return "no line differs";
        if (!more_a || !more_b || la != lb) {
            return "line " + std::to_string(line) + ": got " + (more_a ? la : "(end)") + " / golden " +
                   (more_b ? lb : "(end)");
        }
    }
}

} // namespace

BOOST_AUTO_TEST_SUITE(golden)

BOOST_AUTO_TEST_CASE(printer_keeps_every_byte_but_white_space) {
    const std::string compact =
        R"({"a":[1,-2.5e-7,{}],"b":{"c":"x\"y\\ ,:{[ \u0001"},"d":[],"e":{"f":null,"g":[true,false]}})"
        "\n";
    const std::string want = R"({
  "a": [
    1,
    -2.5e-7,
    {}
  ],
  "b": {
    "c": "x\"y\\ ,:{[ \u0001"
  },
  "d": [],
  "e": {
    "f": null,
    "g": [
      true,
      false
    ]
  }
}
)";
    BOOST_TEST(ts::pretty_json_text(compact) == want);
    BOOST_TEST(ts::pretty_json_text(want) == want);
    BOOST_TEST(ts::minify_json_text(want) + "\n" == compact);
}

BOOST_AUTO_TEST_CASE(every_fixture_route_and_mode) {
    const bool update = std::getenv("SIGMA_SHIM_UPDATE_GOLDEN") != nullptr;
    const auto inputs = golden_inputs();
    BOOST_TEST(inputs.size() == 5u);
    std::size_t compared = 0;
    for (const auto& input : inputs) {
        for (const auto& route : sigma_analysis::legacy_routes()) {
            const std::string form(sigma_analysis::form_name(route.form));
            for (const char* mode : modes) {
                if (!mode_matters(route.form) && mode != modes[0]) continue; // the same answer in both modes
                BOOST_TEST_CONTEXT(input.name << " --form " << form << " --match-context " << mode) {
                    const auto r = ts::convert({"--file", "-", "--form", form, "--match-context", mode},
                                               {{"-", input.bytes}});
                    BOOST_TEST(r.exit_code == 0, r.err);
                    const auto path = golden_path(input.name, route.form, mode);
                    if (update) {
                        std::filesystem::create_directories(std::filesystem::path(path).parent_path());
                        ts::write_file(path, ts::pretty_json_text(r.out));
                    }
                    const auto golden = ts::read_file(path);
                    const auto got = ts::pretty_json_text(r.out);
                    BOOST_TEST((got == golden), path << " differs at " << first_difference(got, golden));
                    BOOST_TEST((r.out == ts::minify_json_text(golden) + "\n"),
                               "the compact bytes differ from " << path);
                    json::error_code ec;
                    json::parse(r.out, ec);
                    BOOST_TEST(!ec, "not JSON: " << ec.message());
                    ++compared;
                }
            }
        }
    }
    // Every file under tests/golden/ is one of those compared: none is left behind by a renamed route.
    std::size_t files = 0;
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(ts::source_dir() + "/tests/golden"))
        files += entry.is_regular_file() ? 1 : 0;
    BOOST_TEST(files == compared);
    BOOST_TEST(compared == 50u);
}

// No sigma_rule objects are public for these fixtures' rules: rule-fields falls back to every key, rules
// forms stand in for the objects, and both say so.
BOOST_AUTO_TEST_CASE(fallbacks_are_reported_as_partial) {
    const auto input = ts::read_file(ts::fixture("vt/file_object.real.azul_Win32DLL_multipurpose.json"));
    const auto all = ts::convert({"--file", "-"}, {{"-", input}});
    BOOST_TEST(all.err.empty(), all.err);
    const auto fields = ts::convert({"--file", "-", "--match-context", "rule-fields"}, {{"-", input}});
    BOOST_TEST(fields.err.find("fidelity partial: rule_fallbacks=3") != std::string::npos, fields.err);
    BOOST_TEST((fields.out == all.out));
    const auto rules = ts::convert({"--file", "-", "--form", "rules"}, {{"-", input}});
    BOOST_TEST(rules.err.find("missing_rule_objects=5") != std::string::npos, rules.err);
}

// The binary writes the same bytes as the in-process runner.
BOOST_AUTO_TEST_CASE(binary_matches_golden) {
    for (const auto& input : golden_inputs()) {
        BOOST_TEST_CONTEXT(input.name) {
            const auto r = ts::run_binary({"convert", "--file", "-", "--form", "relationship"}, input.bytes);
            BOOST_TEST(r.exit_code == 0, r.err);
            const auto golden =
                ts::read_file(golden_path(input.name, sigma_analysis::Form::relationship, "all"));
            BOOST_TEST((r.out == ts::minify_json_text(golden) + "\n"));
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
