// Gradual migration without the network: the rollout and shadow shares, the kept comparisons, the recorded
// baseline, and the migration flags of `serve`.
#include "compare/report.hpp"
#include "migrate/baseline_catalog.hpp"
#include "migrate/comparison_store.hpp"
#include "migrate/sampling.hpp"
#include "serve/config.hpp"
#include "test_support.hpp"
#include "util/key_hash.hpp"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace ts = test_support;
namespace mg = shim::migrate;
using mg::Sample;

namespace {

// 10,000 distinct SHA-256s, as a rollout over that many files would see them.
std::vector<std::string> many_files() {
    std::vector<std::string> out;
    for (int i = 0; i < 10000; ++i)
        out.push_back(shim::util::sha256_hex("file " + std::to_string(i)));
    return out;
}

shim::serve::ConfigResult parse(const std::vector<std::string>& args,
                                const std::map<std::string, std::string>& env = {}) {
    return shim::serve::parse_serve_config(args, [&env](const char* name) -> const char* {
        const auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    });
}

shim::compare::ReportEntry entry(std::string name, shim::compare::Verdict verdict) {
    shim::compare::ReportEntry e;
    e.name = std::move(name);
    e.result.verdict = verdict;
    return e;
}

} // namespace

BOOST_AUTO_TEST_SUITE(migrate)

BOOST_AUTO_TEST_CASE(shares_are_within_two_percent_over_ten_thousand_files) {
    const auto files = many_files();
    for (const Sample purpose : {Sample::rollout, Sample::shadow}) {
        for (const unsigned percent : {0u, 1u, 10u, 25u, 50u, 90u, 100u}) {
            std::size_t in = 0;
            for (const auto& f : files)
                in += mg::in_share(purpose, f, percent) ? 1 : 0;
            const double share = 100.0 * static_cast<double>(in) / static_cast<double>(files.size());
            BOOST_TEST(share >= percent - 2.0, "share " << share << "% for " << percent << "%");
            BOOST_TEST(share <= percent + 2.0, "share " << share << "% for " << percent << "%");
        }
    }
}

BOOST_AUTO_TEST_CASE(a_file_is_always_on_the_same_side_and_raising_a_share_only_adds_files) {
    const auto files = many_files();
    for (std::size_t i = 0; i < 1000; ++i) {
        const auto& f = files[i];
        const bool first = mg::in_share(Sample::rollout, f, 50);
        for (int again = 0; again < 3; ++again)
            BOOST_TEST(mg::in_share(Sample::rollout, f, 50) == first);
        // Any case of the hex digits is the same file.
        std::string upper = f;
        for (auto& ch : upper)
            ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        BOOST_TEST(mg::in_share(Sample::rollout, upper, 50) == first);
        if (mg::in_share(Sample::rollout, f, 10)) BOOST_TEST(first);
        if (first) BOOST_TEST(mg::in_share(Sample::rollout, f, 100));
        BOOST_TEST(!mg::in_share(Sample::rollout, f, 0));
    }
}

BOOST_AUTO_TEST_CASE(rollout_and_shadow_samples_are_independent) {
    const auto files = many_files();
    std::size_t both = 0;
    for (const auto& f : files)
        both += mg::in_share(Sample::rollout, f, 50) && mg::in_share(Sample::shadow, f, 50) ? 1 : 0;
    // Independent halves overlap on about a quarter of the files.
    BOOST_TEST(both > 2300u);
    BOOST_TEST(both < 2700u);
}

BOOST_AUTO_TEST_CASE(the_bucket_is_the_documented_hash) {
    // docs/migration.md: the first 8 hex digits of SHA-256("rollout:" + sha256) modulo 10000, against percent * 100.
    const std::string f = shim::util::sha256_hex("x");
    const auto digest = shim::util::sha256_hex("rollout:" + f);
    BOOST_TEST(mg::sample_bucket(Sample::rollout, f) == std::stoul(digest.substr(0, 8), nullptr, 16) % 10000);
}

BOOST_AUTO_TEST_CASE(the_store_counts_everything_and_keeps_the_last_mismatches) {
    using shim::compare::Verdict;
    mg::ComparisonStore store(3);
    store.add(entry("a", Verdict::exact));
    store.add(entry("b", Verdict::compatible));
    for (const char* name : {"d1", "d2", "d3", "d4"})
        store.add(entry(name, Verdict::different));
    const auto r = store.snapshot();
    BOOST_TEST(r.total == 6u);
    BOOST_TEST(r.exact == 1u);
    BOOST_TEST(r.compatible == 1u);
    BOOST_TEST(r.different == 4u);
    BOOST_REQUIRE(r.entries.size() == 3u);
    BOOST_TEST(r.entries[0].name == "d4"); // newest first
    BOOST_TEST(r.entries[2].name == "d2");

    mg::ComparisonStore none(0);
    none.add(entry("d", Verdict::different));
    BOOST_TEST(none.snapshot().entries.empty());
    BOOST_TEST(none.snapshot().different == 1u);
}

BOOST_AUTO_TEST_CASE(path_labels_are_bounded) {
    mg::ComparisonStore store(1, 2);
    BOOST_TEST(store.path_label("a") == "a");
    BOOST_TEST(store.path_label("b") == "b");
    BOOST_TEST(store.path_label("c") == "other");
    BOOST_TEST(store.path_label("a") == "a");
}

BOOST_AUTO_TEST_CASE(canonical_targets_name_the_file_by_sha256) {
    const std::string sha = std::string(64, 'a');
    BOOST_TEST(mg::canonical_target("/api/v3/files/0123456789ABCDEF0123456789abcdef/sigma_analysis", sha) ==
               "/api/v3/files/" + sha + "/sigma_analysis");
    BOOST_TEST(mg::canonical_target("/api/v3/sigma_analyses/" + sha + "/rules?limit=2", sha) ==
               "/api/v3/sigma_analyses/" + sha + "/rules?limit=2");
    BOOST_TEST(mg::canonical_target("/api/v3/sigma_analyses/" + std::string(40, 'B'), sha) ==
               "/api/v3/sigma_analyses/" + sha);
}

BOOST_AUTO_TEST_CASE(the_baseline_indexes_recorded_answers_by_route_and_file) {
    const auto dir = std::filesystem::temp_directory_path() / "sigma-shim-baseline-test";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    ts::write_file((dir / "f912.json").string(),
                   ts::read_file(ts::fixture("vt/legacy_files_sigma_analysis.real_f912398c.json")));
    const std::string missing = std::string(64, 'c');
    ts::write_file((dir / (missing + ".json")).string(),
                   R"({"error":{"code":"NotFoundError","message":"no such file"}})");
    ts::write_file((dir / "notes.txt").string(), "not read: not *.json");
    const mg::BaselineCatalog catalog(dir.string());
    BOOST_TEST(catalog.size() == 2u);
    const std::string f912 = "f912398cb3542ab704fe917af4a60d4feee21ac577535b10453170f10c6fd6de";
    const auto* found = catalog.find("/api/v3/files/" + f912 + "/sigma_analysis", f912);
    BOOST_REQUIRE(found);
    BOOST_TEST(found->status == 200u);
    BOOST_TEST(found->body.find("Windows Defender Threat Detected") != std::string::npos);
    BOOST_TEST(!catalog.find("/api/v3/sigma_analyses/" + f912, f912)); // another route: not recorded
    const auto* error = catalog.find("/api/v3/sigma_analyses/" + missing, missing);
    BOOST_REQUIRE(error);
    BOOST_TEST(error->status == 404u);

    ts::write_file((dir / "broken.json").string(), "{\"data\": ");
    BOOST_CHECK_THROW(mg::BaselineCatalog{dir.string()}, std::runtime_error);
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(migration_flags) {
    using shim::serve::Mode;
    const auto defaults = parse({});
    BOOST_TEST(defaults.error.empty());
    BOOST_TEST((defaults.config.mode == Mode::reconstruct));
    BOOST_TEST(defaults.config.rollout_percent == 100u);
    BOOST_TEST(defaults.config.shadow_percent == 100u);
    BOOST_TEST(!defaults.config.allow_mode_header);
    BOOST_TEST(defaults.config.keep_mismatches == 1000u);

    const auto r =
        parse({"--mode", "shadow", "--rollout-percent", "10", "--shadow-percent=5", "--allow-mode-header",
               "--listen", "127.0.0.1:0", "--redact", "**.match_context,a.*", "--redact", "b",
               "--compare-ignore", "data.links.self", "--date-tolerance", "60", "--keep-mismatches", "7"});
    BOOST_TEST(r.error.empty(), r.error);
    BOOST_TEST((r.config.mode == Mode::shadow));
    BOOST_TEST(r.config.rollout_percent == 10u);
    BOOST_TEST(r.config.shadow_percent == 5u);
    BOOST_TEST(r.config.allow_mode_header); // a switch: it does not take the next word
    BOOST_TEST(r.config.listen_port == 0);
    BOOST_TEST((r.config.redact == std::vector<std::string>{"**.match_context", "a.*", "b"}));
    BOOST_TEST((r.config.compare_ignore == std::vector<std::string>{"data.links.self"}));
    BOOST_TEST(r.config.date_tolerance_seconds == 60);
    BOOST_TEST(r.config.keep_mismatches == 7u);

    const auto env = parse({}, {{"SIGMA_SHIM_MODE", "passthrough"},
                                {"SIGMA_SHIM_ALLOW_MODE_HEADER", "on"},
                                {"SIGMA_SHIM_ROLLOUT_PERCENT", "50"}});
    BOOST_TEST(env.error.empty(), env.error);
    BOOST_TEST((env.config.mode == Mode::passthrough));
    BOOST_TEST(env.config.allow_mode_header);
    BOOST_TEST(env.config.rollout_percent == 50u);
    BOOST_TEST(!parse({"--allow-mode-header=off"}).config.allow_mode_header);

    for (const std::vector<std::string>& bad : {std::vector<std::string>{"--mode", "fast"},
                                                {"--rollout-percent", "101"},
                                                {"--shadow-percent", "-1"},
                                                {"--baseline", "/no/such/folder"},
                                                {"--baseline", "dir:/no/such/folder"},
                                                {"--redact", "a..b"},
                                                {"--compare-ignore", ""},
                                                {"--allow-mode-header=maybe"}}) {
        BOOST_TEST(!parse(bad).error.empty(), bad.front());
    }
}

BOOST_AUTO_TEST_SUITE_END()
