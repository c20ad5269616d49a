// The legacy route table (adapters/sigma_analysis/legacy_routes.hpp) and everything that must agree with it:
// the router, `sigma-shim routes`, `serve --help` and README.md.
#include "cli/routes_command.hpp"
#include "serve/config.hpp"
#include "serve/router.hpp"
#include "sigma_analysis/legacy_routes.hpp"
#include "test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>
#include <set>
#include <sstream>

namespace ts = test_support;
namespace sa = sigma_analysis;
namespace json = boost::json;

namespace {

const std::string sha256 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9";

std::string with_id(std::string_view path, std::string_view id) {
    std::string s(path);
    const auto at = s.find("{id}");
    return s.replace(at, 4, id);
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(legacy_routes)

BOOST_AUTO_TEST_CASE(one_row_per_form_each_with_one_id) {
    std::set<std::string_view> forms, paths;
    for (const auto& r : sa::legacy_routes()) {
        BOOST_TEST_CONTEXT(r.path) {
            BOOST_TEST(r.method == "GET");
            BOOST_TEST(r.path.starts_with("/api/v3/"));
            const auto id = r.path.find("{id}");
            BOOST_TEST(
                (id != std::string_view::npos && r.path.find("{id}", id + 1) == std::string_view::npos));
            BOOST_TEST(!r.description.empty());
            forms.insert(sa::form_name(r.form));
            paths.insert(r.path);
        }
    }
    BOOST_TEST(sa::legacy_routes().size() == 6u);
    BOOST_TEST(forms.size() == sa::legacy_routes().size());
    BOOST_TEST(paths.size() == sa::legacy_routes().size());
}

BOOST_AUTO_TEST_CASE(the_router_answers_every_row_with_its_form) {
    using shim::serve::RouteClass;
    for (const auto& r : sa::legacy_routes()) {
        const auto target = with_id(r.path, sha256);
        BOOST_TEST_CONTEXT(target) {
            const auto route = shim::serve::route_request(r.method, target);
            BOOST_TEST((route.route_class == RouteClass::legacy));
            BOOST_TEST(sa::form_name(route.form) == sa::form_name(r.form));
            BOOST_TEST(route.id == sha256);
            BOOST_TEST(route.page.has_value() == r.paged);
            BOOST_TEST((shim::serve::route_request("POST", target).route_class == RouteClass::passthrough));
        }
    }
}

BOOST_AUTO_TEST_CASE(readme_names_every_route) {
    const auto readme = ts::read_file(ts::source_dir() + "/README.md");
    for (const auto& r : sa::legacy_routes()) {
        const std::string route = "`" + std::string(r.method) + " " + std::string(r.path) + "`";
        BOOST_TEST(contains(readme, route), route << " is not in README.md");
    }
    BOOST_TEST(contains(readme, "sigma-shim routes"));
}

BOOST_AUTO_TEST_CASE(serve_usage_lists_every_route) {
    const auto usage = shim::serve::serve_usage();
    for (const auto& r : sa::legacy_routes()) {
        const std::string route = std::string(r.method) + " " + std::string(r.path);
        BOOST_TEST(contains(usage, route), route);
    }
}

BOOST_AUTO_TEST_CASE(routes_command_prints_the_table) {
    std::ostringstream out, err;
    BOOST_TEST(shim::cli::run_routes({}, {out, err, nullptr}) == 0);
    BOOST_TEST(err.str().empty());
    std::istringstream lines(out.str());
    std::string line;
    for (const auto& r : sa::legacy_routes()) {
        BOOST_TEST_REQUIRE(static_cast<bool>(std::getline(lines, line)));
        BOOST_TEST(line.starts_with(std::string(r.method) + " " + std::string(r.path) + " "), line);
        BOOST_TEST(contains(line, " " + std::string(sa::form_name(r.form)) + " "), line);
        BOOST_TEST(line.ends_with(r.description), line);
    }
    BOOST_TEST(!std::getline(lines, line));

    std::ostringstream json_out;
    const std::vector<std::string> args = {"--json"};
    BOOST_TEST(shim::cli::run_routes(args, {json_out, err, nullptr}) == 0);
    const auto doc = json::parse(json_out.str()).as_array();
    BOOST_TEST_REQUIRE(doc.size() == sa::legacy_routes().size());
    for (std::size_t i = 0; i < doc.size(); ++i) {
        const auto& r = sa::legacy_routes()[i];
        const auto& o = doc[i].as_object();
        BOOST_TEST(o.size() == 5u);
        BOOST_TEST(o.at("method").as_string() == r.method);
        BOOST_TEST(o.at("path").as_string() == r.path);
        BOOST_TEST(o.at("form").as_string() == sa::form_name(r.form));
        BOOST_TEST(o.at("paged").as_bool() == r.paged);
        BOOST_TEST(o.at("description").as_string() == r.description);
    }
}

BOOST_AUTO_TEST_CASE(routes_command_help_and_usage_errors) {
    std::ostringstream out, err;
    const std::vector<std::string> help = {"--help"};
    BOOST_TEST(shim::cli::run_routes(help, {out, err, nullptr}) == 0);
    BOOST_TEST(contains(out.str(), "usage: sigma-shim routes"));
    for (const std::vector<std::string>& bad :
         {std::vector<std::string>{"--bogus"}, {"--json=1"}, {"stray"}}) {
        std::ostringstream o, e;
        BOOST_TEST(shim::cli::run_routes(bad, {o, e, nullptr}) == 2, bad.front());
        BOOST_TEST(o.str().empty());
        BOOST_TEST(contains(e.str(), "usage: sigma-shim routes"));
    }
}

BOOST_AUTO_TEST_CASE(the_binary_runs_the_routes_command) {
    const auto r = ts::run_binary({"routes", "--json"});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(r.out == shim::cli::routes_json());
    BOOST_TEST(contains(ts::run_binary({"--help"}).out, "routes"));
}

BOOST_AUTO_TEST_SUITE_END()
