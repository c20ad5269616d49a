// `sigma-shim convert` as a command: options, exit statuses, messages, and input that is cut or not JSON.
#include "cli/convert_command.hpp"
#include "test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

namespace ts = test_support;

namespace {

const std::string powershell = "vt/file_object.real.azul_powershell_script.json";

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cli)

BOOST_AUTO_TEST_CASE(help_describes_every_option) {
    const auto top = ts::run_binary({"--help"});
    BOOST_TEST(top.exit_code == 0);
    BOOST_TEST(contains(top.out, "convert"));
    const auto r = ts::run_binary({"convert", "--help"});
    BOOST_TEST(r.exit_code == 0);
    for (const char* option : {"--file", "--behaviours", "--rules", "--form", "--id", "--match-context",
                               "--public-base", "--limit", "--cursor", "--help"}) {
        BOOST_TEST(contains(r.out, option), option);
    }
    for (const char* form :
         {"object", "relationship", "descriptor", "embedded", "rules", "rules-descriptors"}) {
        BOOST_TEST(contains(r.out, form), form);
    }
}

BOOST_AUTO_TEST_CASE(usage_errors_exit_2_with_the_usage_text) {
    const std::vector<std::vector<std::string>> cases = {
        {},
        {"--file"},
        {"--file", "x.json", "--bogus"},
        {"--file", "x.json", "--form", "sideways"},
        {"--file", "x.json", "--match-context", "some"},
        {"--file", "x.json", "--id", "not-a-hash"},
        {"--file", "x.json", "--id", "0123456789abcdef0123456789abcdef0"},
        {"--file", "x.json", "--public-base", "ftp://example"},
        {"--file", "x.json", "--limit", "0"},
        {"--file", "x.json", "--limit", "41"},
        {"--file", "x.json", "--limit", "3x"},
        {"--file", "x.json", "--cursor", "-1"},
        {"stray"},
    };
    for (const auto& args : cases) {
        const auto r = ts::convert(args);
        BOOST_TEST(r.exit_code == 2);
        BOOST_TEST(contains(r.err, "usage: sigma-shim convert"));
        BOOST_TEST(r.out.empty());
    }
    BOOST_TEST(ts::run_binary({}).exit_code == 2);
    BOOST_TEST(ts::run_binary({"transmogrify"}).exit_code == 2);
}

BOOST_AUTO_TEST_CASE(unreadable_input_exits_3_and_names_it) {
    const auto r = ts::convert({"--file", "/nonexistent/file.json"});
    BOOST_TEST(r.exit_code == 3);
    BOOST_TEST(contains(r.err, "/nonexistent/file.json: No such file or directory"), r.err);
}

BOOST_AUTO_TEST_CASE(not_json_says_where) {
    const auto r = ts::convert({"--file", "-"}, {{"-", "{\"data\":\n  {\"id\": tru}}"}});
    BOOST_TEST(r.exit_code == 3);
    BOOST_TEST(contains(r.err, "standard input: not JSON at byte 18 (line 2, column 10)"), r.err);
    const auto trailing = ts::convert({"--file", "-"}, {{"-", "{} x"}});
    BOOST_TEST(trailing.exit_code == 3);
    BOOST_TEST(contains(trailing.err, "not JSON at byte 3 (line 1, column 4)"), trailing.err);
    const auto empty = ts::convert({"--file", "-"}, {{"-", ""}});
    BOOST_TEST(empty.exit_code == 3);
    BOOST_TEST(contains(empty.err, "not JSON at byte 0"), empty.err);
}

BOOST_AUTO_TEST_CASE(not_a_file_object_says_what_was_found) {
    const auto behaviour =
        ts::convert({"--file", ts::fixture("vt/file_behaviour.real.msticpy_ms_sysinternals.json")});
    BOOST_TEST(behaviour.exit_code == 3);
    BOOST_TEST(contains(behaviour.err, "expected a File object (\"type\": \"file\"), found an object of type "
                                       "\"file_behaviour\""),
               behaviour.err);
    const auto array = ts::convert({"--file", "-"}, {{"-", "[1,2]"}});
    BOOST_TEST(contains(array.err, "found an array of 2 items"), array.err);
    const auto error =
        ts::convert({"--file", "-"}, {{"-", R"({"error":{"code":"NotFoundError","message":"x"}})"}});
    BOOST_TEST(error.exit_code == 3);
    BOOST_TEST(contains(error.err, "found a VirusTotal error object"), error.err);
    const auto no_id = ts::convert({"--file", "-"}, {{"-", R"({"data":{"type":"file","attributes":{}}})"}});
    BOOST_TEST(contains(no_id.err, "the File object has no \"id\""), no_id.err);
    const auto bad_page =
        ts::convert({"--file", ts::fixture(powershell), "--behaviours", "-"}, {{"-", R"({"data":"nope"})"}});
    BOOST_TEST(bad_page.exit_code == 3);
    BOOST_TEST(contains(bad_page.err, "expected a file_behaviour object or a list of them, found a string"),
               bad_page.err);
}

BOOST_AUTO_TEST_CASE(no_sigma_analysis_exits_4_with_the_not_found_body) {
    const std::string file =
        R"({"data":{"id":"ab","type":"file","attributes":{"last_modification_date":1}}})";
    const auto r = ts::convert({"--file", "-", "--id", "D41D8CD98F00B204E9800998ECF8427E"}, {{"-", file}});
    BOOST_TEST(r.exit_code == 4);
    BOOST_TEST(r.out == "{\"error\":{\"code\":\"NotFoundError\",\"message\":\"Sigma analysis for "
                        "\\\"d41d8cd98f00b204e9800998ecf8427e\\\" not found\"}}\n");
    const auto descriptor = ts::convert({"--file", "-", "--form", "descriptor"}, {{"-", file}});
    BOOST_TEST(descriptor.exit_code == 4);
    BOOST_TEST(contains(descriptor.out, "\"data\":null"));
}

BOOST_AUTO_TEST_CASE(rules_folder_problems_exit_3) {
    const auto r = ts::convert({"--file", ts::fixture(powershell), "--rules", "/nonexistent-dir"});
    BOOST_TEST(r.exit_code == 3);
    const auto not_rules =
        ts::convert({"--file", ts::fixture(powershell), "--rules", ts::fixture("roundtrip")});
    BOOST_TEST(not_rules.exit_code == 3);
    BOOST_TEST(contains(not_rules.err, "expected a list of sigma_rule objects"), not_rules.err);
}

// The real File object cut at every byte offset: never a crash, always exit 3 with a place.
BOOST_AUTO_TEST_CASE(truncated_at_every_offset_exits_3) {
    const auto whole = ts::read_file(ts::fixture(powershell));
    // Cutting only the trailing newline leaves a whole document.
    const std::size_t last = whole.find_last_not_of(" \r\n\t");
    std::size_t failures = 0;
    for (std::size_t cut = 0; cut <= last; ++cut) {
        const auto r = ts::convert({"--file", "-"}, {{"-", whole.substr(0, cut)}});
        if (r.exit_code != 3 || !contains(r.err, "not JSON at byte") || !r.out.empty()) {
            if (++failures < 5) BOOST_ERROR("cut at " << cut << ": exit " << r.exit_code << ": " << r.err);
        }
    }
    BOOST_TEST(failures == 0u);
    BOOST_TEST(ts::convert({"--file", "-"}, {{"-", whole.substr(0, last + 1)}}).exit_code == 0);
}

// The same through the real binary and its standard input, at a spread of offsets.
BOOST_AUTO_TEST_CASE(binary_truncated_input_exits_3) {
    const auto whole = ts::read_file(ts::fixture(powershell));
    for (std::size_t cut = 0; cut < whole.size(); cut += 4999) {
        const auto r = ts::run_binary({"convert", "--file", "-"}, whole.substr(0, cut));
        BOOST_TEST(r.exit_code == 3, "cut at " << cut << ": " << r.err);
    }
}

BOOST_AUTO_TEST_SUITE_END()
