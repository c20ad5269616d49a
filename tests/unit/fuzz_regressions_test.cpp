// Inputs the fuzz targets (tests/fuzz/) found to break an invariant, kept as cases once fixed. Each case says
// which target found it, the invariant it broke and the fix.
#include "compare/report.hpp"
#include "sigma_analysis/extract.hpp"
#include "sigma_analysis/input.hpp"
#include "sigma_analysis/json_writer.hpp"
#include "sigma_analysis/render.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <string>

namespace {

namespace json = boost::json;
namespace sa = sigma_analysis;

const std::string kSha = "f912398cb3542ab704fe917af4a60d4feee21ac577535b10453170f10c6fd6de";

} // namespace

BOOST_AUTO_TEST_SUITE(fuzz_regressions)

// transform_fuzz, "every answer's body is valid JSON": Boost.JSON reads a number beyond the double range as
// an infinity, and the writer printed it with to_chars as `inf`, so the embedded form (the File answer as it
// came) was not JSON. Fixed in adapters/sigma_analysis/json_writer.cpp: an infinity is written 1e999
// (-1e999).
BOOST_AUTO_TEST_CASE(number_beyond_double_range_stays_json) {
    const json::value doc =
        json::parse(R"({"data":{"type":"file","id":")" + kSha +
                    R"(","attributes":{"size":1e400,"negative":-1e400,)"
                    R"("sigma_analysis_stats":{"critical":0,"high":1,"medium":0,"low":0}}}})");
    const auto file = sa::find_file_object(doc);
    BOOST_REQUIRE(file);
    auto analysis = sa::extract({*file.value, {}, nullptr, sa::ContextMode::all});
    const auto answer =
        sa::render(sa::Form::embedded, analysis, {"https://www.virustotal.com", kSha, {}, nullptr, &doc});
    BOOST_TEST(answer.status == 200u);

    json::error_code ec;
    const json::value body = json::parse(answer.body, ec);
    BOOST_TEST_REQUIRE(!ec, ec.message() << ": " << answer.body);
    const auto& attributes = body.at("data").at("attributes");
    BOOST_TEST(std::isinf(attributes.at("size").as_double()));
    BOOST_TEST(attributes.at("size").as_double() > 0);
    BOOST_TEST(attributes.at("negative").as_double() < 0);
    BOOST_TEST(answer.body.find("\"size\":1e999,\"negative\":-1e999") != std::string::npos, answer.body);
}

// The same writer, as match contexts and sigma_rule objects use it.
BOOST_AUTO_TEST_CASE(infinity_written_as_json_number) {
    std::string out;
    sa::json_out::append_value(out, json::parse("[1e400,-1e400,1.5,0]"), sa::json_out::KeyOrder::as_given);
    BOOST_TEST(out == "[1e999,-1e999,1.5,0]");
}

// The same number in a comparison report: report_json wrote bodies with json::serialize, which gives
// `Infinity`. Fixed in shim/compare/report_json.cpp: the report goes through the project's writer.
BOOST_AUTO_TEST_CASE(number_beyond_double_range_in_a_report_stays_json) {
    shim::compare::ReportEntry entry;
    entry.legacy.body = json::parse(R"({"data":{"size":1e400}})");
    entry.reconstructed.body = json::parse(R"({"data":{"size":-1e400}})");
    entry.result = shim::compare::compare(entry.legacy, entry.reconstructed, {});
    const auto text = shim::compare::report_json(shim::compare::make_report({entry}));
    json::error_code ec;
    const auto report = json::parse(text, ec);
    BOOST_TEST_REQUIRE(!ec, ec.message() << ": " << text);
    BOOST_TEST(report.at("results").at(0).at("class").as_string() == "different");
}

// compare_fuzz, "an answer compares exact with itself": Boost.JSON 1.81 reads 0e400 (a zero with an exponent
// beyond the double range) as NaN, and NaN == NaN is false, so the body `0e400` differed from itself. Fixed
// in shim/compare/comparison.cpp (such a NaN is the zero it stood for) and
// adapters/sigma_analysis/json_writer.cpp (written 0, not `nan`).
BOOST_AUTO_TEST_CASE(zero_with_a_huge_exponent_is_zero) {
    const shim::compare::Answer answer{200, json::parse("0e400")};
    const auto itself = shim::compare::compare(answer, answer, {});
    BOOST_TEST((itself.verdict == shim::compare::Verdict::exact));
    BOOST_TEST(itself.findings.empty());
    const auto against_zero = shim::compare::compare(answer, {200, json::parse("[0]").at(0)}, {});
    BOOST_TEST((against_zero.verdict == shim::compare::Verdict::exact));

    std::string out;
    sa::json_out::append_value(out, json::parse("[0e400,-0e400,1]"), sa::json_out::KeyOrder::as_given);
    BOOST_TEST(out == "[0,0,1]");
}

BOOST_AUTO_TEST_SUITE_END()
