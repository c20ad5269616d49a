// Golden answers: every fixture that carries Sigma data, in every form and both match-context modes, compared
// byte for byte with tests/golden/. SIGMA_SHIM_UPDATE_GOLDEN=1 rewrites them (review the diff before
// committing).
#include "test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>

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

constexpr const char* forms[] = {"object",   "relationship", "descriptor",
                                 "embedded", "rules",        "rules-descriptors"};
constexpr const char* modes[] = {"all", "rule-fields"};

bool mode_matters(std::string_view form) {
    return form != "descriptor" && form != "embedded";
}

std::string golden_path(const std::string& input, std::string_view form, std::string_view mode) {
    std::string path = ts::source_dir() + "/tests/golden/" + input + "/";
    path.append(form);
    if (mode_matters(form)) path.append(".").append(mode);
    return path.append(".json");
}

} // namespace

BOOST_AUTO_TEST_SUITE(golden)

BOOST_AUTO_TEST_CASE(every_fixture_form_and_mode) {
    const bool update = std::getenv("SIGMA_SHIM_UPDATE_GOLDEN") != nullptr;
    const auto inputs = golden_inputs();
    BOOST_TEST(inputs.size() == 5u);
    for (const auto& input : inputs) {
        for (const char* form : forms) {
            for (const char* mode : modes) {
                BOOST_TEST_CONTEXT(input.name << " --form " << form << " --match-context " << mode) {
                    const auto r = ts::convert({"--file", "-", "--form", form, "--match-context", mode},
                                               {{"-", input.bytes}});
                    BOOST_TEST(r.exit_code == 0, r.err);
                    const auto path = golden_path(input.name, form, mode);
                    if (update) {
                        std::filesystem::create_directories(std::filesystem::path(path).parent_path());
                        ts::write_file(path, r.out);
                    }
                    const auto expected = ts::read_file(path);
                    BOOST_TEST((r.out == expected), "differs from " << path);
                    json::error_code ec;
                    json::parse(r.out, ec);
                    BOOST_TEST(!ec, "not JSON: " << ec.message());
                }
            }
        }
    }
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
            BOOST_TEST((r.out == ts::read_file(golden_path(input.name, "relationship", "all"))));
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
