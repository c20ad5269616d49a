// Legacy routes during a migration, with scripted upstreams: one serving the objects the reconstruction
// reads, one standing for the upstream's own legacy answers. Which mode answers, what is served, and what the
// background comparisons record (the io_context is run until idle, then the store is read).
#include "economy/byte_lru.hpp"
#include "fake_upstream.hpp"
#include "migrate/baseline_catalog.hpp"
#include "migrate/comparison_store.hpp"
#include "ops/log.hpp"
#include "ops/metrics.hpp"
#include "serve/answer_memo.hpp"
#include "serve/legacy_handler.hpp"
#include "serve/migration_handler.hpp"
#include "serve/router.hpp"
#include "test_support.hpp"
#include "util/key_hash.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>
#include <cctype>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace {

namespace json = boost::json;
namespace ts = test_support;
using shim::serve::HttpAnswer;
using shim::serve::MigrationOutcome;
using shim::serve::Mode;

const std::string F912 = "f912398cb3542ab704fe917af4a60d4feee21ac577535b10453170f10c6fd6de";
const std::string DOCS_REL = "c8846914b9644d1bff54155ce4d14ef82548c64655c9431ae94d56448bfc7424";
const std::string F568 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9";
const std::string F568_MD5 = "2a0ac716254c23667b8a223a6e5f6e13";

std::string relationship(const std::string& id) {
    return "/api/v3/files/" + id + "/sigma_analysis";
}
std::string object(const std::string& id) {
    return "/api/v3/sigma_analyses/" + id;
}
std::string files(const std::string& id) {
    return "/api/v3/files/" + id;
}
std::string behaviours(const std::string& id) {
    return files(id) + "/behaviours";
}

std::string legacy_f912() {
    return ts::read_file(ts::fixture("vt/legacy_files_sigma_analysis.real_f912398c.json"));
}

std::string header(const HttpAnswer& a, std::string_view name) {
    for (const auto& [n, v] : a.header_list())
        if (n == name) return v;
    return {};
}

// docs/migration.md's rule, computed here on its own: the first 8 hex digits of SHA-256("<purpose>:" +
// sha256) modulo 10000, below percent * 100.
bool in_share(const std::string& purpose, const std::string& sha256, unsigned percent) {
    const auto digest = shim::util::sha256_hex(purpose + ":" + sha256);
    return std::stoul(digest.substr(0, 8), nullptr, 16) % 10000 < percent * 100;
}

// An upstream whose every request throws: a reconstruction that fails below the handler.
class ThrowingUpstream final : public shim::upstream::Upstream {
public:
    boost::asio::awaitable<shim::upstream::UpstreamResponse> get(shim::upstream::UpstreamRequest) override {
        throw std::runtime_error("the upstream layer broke");
        co_return shim::upstream::UpstreamResponse{};
    }
};

struct Rig {
    boost::asio::io_context ioc;
    ts::FakeUpstream objects;        // what the reconstruction reads
    ts::FakeUpstream legacy_answers; // the upstream's own legacy answers
    shim::serve::ServeConfig config;
    shim::economy::ByteLru lru{0};
    shim::ops::Metrics metrics;
    shim::serve::AnswerMemo memo{lru, metrics};
    std::optional<ThrowingUpstream> broken;
    std::optional<shim::serve::LegacyHandler> legacy;
    std::ostringstream log_text;
    shim::ops::Logger log{log_text, shim::ops::LogLevel::info};
    shim::migrate::ComparisonStore store{1000};
    std::optional<shim::migrate::BaselineCatalog> baseline;
    shim::net::TaskGroup background; // the shadow comparisons
    std::optional<shim::serve::MigrationHandler> handler;

    Rig() { shim::serve::register_migration_metrics(metrics); }

    // Built on first use, once the test has set the configuration.
    shim::serve::MigrationHandler& migration() {
        if (!handler) {
            shim::upstream::Upstream& below =
                broken ? static_cast<shim::upstream::Upstream&>(*broken) : objects;
            legacy.emplace(below, config, memo, metrics);
            handler.emplace(*legacy, objects, legacy_answers, config, metrics, log, store,
                            baseline ? &*baseline : nullptr, background);
        }
        return *handler;
    }

    void use_baseline() { baseline.emplace(ts::fixture("migration/legacy")); }
    // A file's objects as the migration fixtures hold them.
    void serve_objects(const std::string& sha256) {
        const auto dir = ts::fixture("migration/objects/");
        objects.always(files(sha256), ts::json_answer(200, ts::read_file(dir + "files/" + sha256 + ".json")));
        objects.always(behaviours(sha256),
                       ts::json_answer(200, ts::read_file(dir + "behaviours/" + sha256 + ".json")));
    }
    void serve_legacy(const std::string& target, std::string body, unsigned status = 200) {
        legacy_answers.always(target, ts::json_answer(status, std::move(body)));
    }

    boost::asio::awaitable<MigrationOutcome> ask(shim::serve::LegacyRequest request,
                                                 std::string mode_header) {
        co_return co_await migration().handle(request, mode_header);
    }
    static shim::serve::LegacyRequest request(const std::string& target) {
        return {shim::serve::route_request("GET", target), "test-key", "req-1", target, {}};
    }
    // Runs the request and everything it started (the background comparison too) to the end.
    MigrationOutcome get(const std::string& target, const std::string& mode_header = {}) {
        return ts::run_to_end(ioc, ask(request(target), mode_header));
    }
};

void check_served(const MigrationOutcome& o, std::string_view side) {
    BOOST_TEST(!o.relay);
    BOOST_TEST(header(o.answer, "X-Sigma-Shim") == side);
}

void check_same_json(const std::string& produced, const std::string& expected) {
    std::string diff;
    BOOST_TEST(ts::same_json(produced, expected, diff), diff);
}

void check_error(const HttpAnswer& a, unsigned status, const std::string& code) {
    BOOST_TEST(a.status == status, a.body.substr(0, 300));
    BOOST_TEST(json::parse(a.body).at_pointer("/error/code").as_string() == code);
}

} // namespace

BOOST_AUTO_TEST_SUITE(migration_handler)

// -- reconstruct and rollout ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(reconstruct_serves_the_reconstruction) {
    Rig r;
    r.serve_objects(F912);
    const auto o = r.get(relationship(F912));
    check_served(o, "reconstructed");
    BOOST_TEST(o.answer.status == 200u);
    check_same_json(o.answer.body, legacy_f912());
    BOOST_TEST(r.legacy_answers.requests.empty());
    BOOST_TEST(r.store.snapshot().total == 0u);
}

BOOST_AUTO_TEST_CASE(rollout_zero_relays_and_hundred_reconstructs) {
    {
        Rig r;
        r.config.rollout_percent = 0;
        r.serve_objects(F912);
        const auto o = r.get(relationship(F912));
        BOOST_TEST(o.relay);
        BOOST_TEST(r.objects.requests.empty(), "a SHA-256 needs no File object to pick its side");
        BOOST_TEST(r.legacy_answers.requests.empty(), "the relay is the server's, not the handler's");
    }
    {
        Rig r;
        r.config.rollout_percent = 100;
        r.serve_objects(F912);
        check_served(r.get(relationship(F912)), "reconstructed");
    }
}

BOOST_AUTO_TEST_CASE(a_middle_rollout_splits_files_by_their_sha256) {
    Rig r;
    r.config.rollout_percent = 30;
    std::size_t reconstructed = 0, relayed = 0;
    for (int i = 0; i < 40; ++i) {
        const auto sha256 = shim::util::sha256_hex("rollout file " + std::to_string(i));
        const bool in = in_share("rollout", sha256, 30);
        BOOST_TEST_CONTEXT(sha256 << (in ? " in" : " out")) {
            // Asked twice, and upper-cased once: the side is the file's, every time.
            std::string upper = sha256;
            for (auto& ch : upper)
                ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            for (const auto& asked : {sha256, sha256, upper}) {
                const auto o = r.get(object(asked));
                BOOST_TEST(o.relay == !in);
                if (!in) continue;
                // Nothing upstream has these files: the reconstruction says so.
                BOOST_TEST(header(o.answer, "X-Sigma-Shim") == "reconstructed");
                BOOST_TEST(o.answer.status == 404u);
            }
            (in ? reconstructed : relayed) += 1;
        }
    }
    BOOST_TEST(reconstructed > 0u);
    BOOST_TEST(relayed > 0u);
}

BOOST_AUTO_TEST_CASE(a_file_asked_by_md5_gets_the_side_of_its_sha256) {
    for (const unsigned percent : {10u, 50u, 90u}) {
        BOOST_TEST_CONTEXT("rollout " << percent) {
            Rig r;
            r.config.rollout_percent = percent;
            r.objects.always(
                files(F568_MD5),
                ts::json_answer(200, ts::read_file(ts::source_dir() + "/shim/demo/files/" + F568 + ".json")));
            r.objects.always(behaviours(F568_MD5),
                             ts::json_answer(200, ts::read_file(ts::source_dir() + "/shim/demo/behaviours/" +
                                                                F568 + ".json")));
            const auto o = r.get(object(F568_MD5));
            const bool in = in_share("rollout", F568, percent);
            BOOST_TEST(o.relay == !in);
            if (in) check_served(o, "reconstructed");
            // The File object told the SHA-256 (and the reconstruction read it again: the cache is below).
            BOOST_TEST(r.objects.count(files(F568_MD5)) == (in ? 2u : 1u));
        }
    }
}

// -- passthrough ------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(passthrough_relays_and_still_refuses_a_bad_id) {
    Rig r;
    r.config.mode = Mode::passthrough;
    const auto o = r.get(relationship(F912));
    BOOST_TEST(o.relay);
    const auto bad = r.get(object("nothex"));
    BOOST_TEST(!bad.relay);
    check_error(bad.answer, 400, "InvalidArgumentError");
    BOOST_TEST(r.objects.requests.empty());
    BOOST_TEST(r.legacy_answers.requests.empty());
}

// -- shadow -----------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(shadow_serves_the_upstream_answer_and_records_the_comparison) {
    Rig r;
    r.config.mode = Mode::shadow;
    r.serve_objects(F912);
    const std::string canned = legacy_f912();
    r.serve_legacy(relationship(F912), canned);
    const auto o = r.get(relationship(F912));
    check_served(o, "shadow");
    BOOST_TEST(o.answer.status == 200u);
    BOOST_TEST((o.answer.body == canned), "the upstream's bytes as they came");
    BOOST_TEST(r.legacy_answers.count(relationship(F912)) == 1u);
    BOOST_TEST(r.objects.count(files(F912)) == 1u);

    const auto report = r.store.snapshot();
    BOOST_TEST(report.total == 1u);
    BOOST_TEST(report.exact == 1u);
    BOOST_TEST(report.entries.empty(), "only `different` results are kept");
    BOOST_TEST(r.metrics.render().find("sigma_shim_comparisons_total{class=\"exact\"} 1") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(shadow_keeps_a_difference_redacted) {
    Rig r;
    r.config.mode = Mode::shadow;
    r.config.redact = {"**.rule_author"};
    r.serve_objects(F912);
    auto legacy = json::parse(legacy_f912());
    legacy.at_pointer("/data/attributes/rule_matches/1/rule_level") = "medium";
    const std::string served = json::serialize(legacy);
    r.serve_legacy(relationship(F912), served);
    const auto o = r.get(relationship(F912));
    BOOST_TEST((o.answer.body == served), "the difference is recorded, not corrected");

    const auto report = r.store.snapshot();
    BOOST_TEST(report.different == 1u);
    BOOST_REQUIRE(report.entries.size() == 1u);
    const auto& entry = report.entries.front();
    BOOST_TEST(entry.sha256 == F912);
    BOOST_TEST(entry.target == relationship(F912));
    bool level_found = false;
    for (const auto& f : entry.result.findings)
        level_found |= shim::compare::path_text(f.path) == "data.attributes.rule_matches.1.rule_level";
    BOOST_TEST(level_found);
    const std::string kept = json::serialize(entry.legacy.body) + json::serialize(entry.reconstructed.body);
    BOOST_TEST(kept.find("frack113") == std::string::npos, "--redact masks what is kept");
    BOOST_TEST(kept.find("[REDACTED]") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(shadow_serves_recorded_baseline_answers) {
    Rig r;
    r.config.mode = Mode::shadow;
    r.use_baseline();
    r.serve_objects(F912);
    r.serve_objects(DOCS_REL);

    const auto f912 = r.get(relationship(F912));
    check_served(f912, "shadow");
    check_same_json(f912.answer.body,
                    ts::read_file(ts::fixture("migration/legacy/f912398c.files_sigma_analysis.json")));
    auto report = r.store.snapshot();
    BOOST_TEST(report.total == 1u);
    BOOST_TEST(report.exact == 1u);

    // The wide objects carry extra fields in each context: compatible, not exact.
    const auto docs = r.get(relationship(DOCS_REL));
    check_served(docs, "shadow");
    report = r.store.snapshot();
    BOOST_TEST(report.total == 2u);
    BOOST_TEST(report.compatible == 1u);
    BOOST_TEST(r.legacy_answers.requests.empty(), "a recorded answer is never asked of the upstream");

    // A route with nothing recorded: the reconstruction is served, and there is nothing to compare.
    const auto unrecorded = r.get(object(F912));
    check_served(unrecorded, "reconstructed");
    BOOST_TEST(unrecorded.answer.status == 200u);
    BOOST_TEST(r.store.snapshot().total == 2u);
}

BOOST_AUTO_TEST_CASE(the_served_answer_never_waits_for_the_comparison) {
    Rig r;
    r.config.mode = Mode::shadow;
    r.serve_objects(F912);
    r.serve_legacy(relationship(F912), legacy_f912());
    r.objects.hold(); // the reconstruction cannot finish
    auto task = ts::start_task(r.ioc, r.ask(Rig::request(relationship(F912)), {}));
    r.ioc.poll();
    BOOST_REQUIRE(task->done);
    check_served(task->get(), "shadow");
    BOOST_TEST(r.objects.waiting() == 2u, "the comparison's reconstruction is under way");
    BOOST_TEST(r.store.snapshot().total == 0u);

    r.objects.release();
    r.ioc.run();
    BOOST_TEST(r.store.snapshot().exact == 1u);
}

BOOST_AUTO_TEST_CASE(a_failed_reconstruction_is_recorded_and_never_changes_the_served_answer) {
    struct Case {
        std::string what;
        shim::upstream::UpstreamResponse file;
        unsigned reconstructed_status;
    };
    const Case cases[] = {
        {"a VirusTotal error",
         ts::json_answer(503, R"({"error": {"code": "TransientError", "message": "try later"}})"), 503},
        {"unreachable", ts::failure_answer(shim::upstream::Failure::transient), 503},
        {"too slow", ts::failure_answer(shim::upstream::Failure::deadline), 504},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.what) {
            Rig r;
            r.config.mode = Mode::shadow;
            r.serve_objects(F912);
            r.objects.always(files(F912), c.file);
            const std::string canned = legacy_f912();
            r.serve_legacy(relationship(F912), canned);
            const auto o = r.get(relationship(F912));
            check_served(o, "shadow");
            BOOST_TEST(o.answer.status == 200u);
            BOOST_TEST((o.answer.body == canned));
            const auto report = r.store.snapshot();
            BOOST_TEST(report.different == 1u);
            BOOST_REQUIRE(report.entries.size() == 1u);
            const auto& entry = report.entries.front();
            BOOST_TEST(entry.reconstructed.status == c.reconstructed_status);
            BOOST_TEST(shim::compare::path_text(entry.result.findings.front().path) == "@status");
        }
    }
}

BOOST_AUTO_TEST_CASE(a_reconstruction_that_throws_is_logged_and_never_reaches_the_served_answer) {
    Rig r;
    r.config.mode = Mode::shadow;
    r.broken.emplace();
    const std::string canned = legacy_f912();
    r.serve_legacy(relationship(F912), canned);
    const auto o = r.get(relationship(F912));
    check_served(o, "shadow");
    BOOST_TEST((o.answer.body == canned));
    BOOST_TEST(r.store.snapshot().total == 0u);
    BOOST_TEST(r.log_text.str().find("shadow comparison failed") != std::string::npos, r.log_text.str());
    BOOST_TEST(r.log_text.str().find(R"("request_id":"req-1")") != std::string::npos, r.log_text.str());
}

BOOST_AUTO_TEST_CASE(shadow_percent_samples_files) {
    for (const unsigned percent : {0u, 30u, 100u}) {
        BOOST_TEST_CONTEXT("shadow " << percent) {
            Rig r;
            r.config.mode = Mode::shadow;
            r.config.shadow_percent = percent;
            std::size_t sampled = 0;
            for (int i = 0; i < 30; ++i) {
                const auto sha256 = shim::util::sha256_hex("shadow file " + std::to_string(i));
                auto legacy = json::parse(legacy_f912());
                legacy.at_pointer("/data/id") = sha256;
                r.serve_legacy(relationship(sha256), json::serialize(legacy));
                const auto o = r.get(relationship(sha256));
                check_served(o, "shadow");
                const bool in = in_share("shadow", sha256, percent);
                sampled += in;
                // Only a sampled file is reconstructed (nothing upstream has these: a 404, still compared).
                BOOST_TEST(r.objects.count(files(sha256)) == (in ? 1u : 0u), sha256);
            }
            BOOST_TEST(r.store.snapshot().total == sampled);
            if (percent == 0) BOOST_TEST(sampled == 0u);
            if (percent == 30) BOOST_TEST((sampled > 0u && sampled < 30u));
            if (percent == 100) BOOST_TEST(sampled == 30u);
        }
    }
}

// -- compare ----------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(compare_answers_with_the_report) {
    Rig r;
    r.config.mode = Mode::compare;
    r.serve_objects(F912);
    r.serve_legacy(relationship(F912), legacy_f912());
    const auto o = r.get(relationship(F912));
    check_served(o, "compare");
    BOOST_TEST(o.answer.status == 200u);
    BOOST_TEST(header(o.answer, "Content-Type") == "application/json; charset=utf-8");
    BOOST_TEST(o.answer.upstream_calls == 3u, "the legacy answer, the File object and one behaviour page");
    const auto report = json::parse(o.answer.body);
    BOOST_TEST(report.at("schema").as_string() == "sigma-shim/compare-report/1");
    BOOST_TEST(report.at_pointer("/summary/total").as_int64() == 1);
    const auto& result = report.at_pointer("/results/0");
    BOOST_TEST(result.at("class").as_string() == "exact");
    BOOST_TEST(result.at("target").as_string() == relationship(F912));
    BOOST_TEST(result.at_pointer("/legacy/status").as_int64() == 200);
    BOOST_TEST(result.at_pointer("/reconstructed/status").as_int64() == 200);
    BOOST_TEST(r.store.snapshot().exact == 1u, "the comparison is counted as shadow ones are");
}

BOOST_AUTO_TEST_CASE(compare_with_a_baseline) {
    Rig r;
    r.config.mode = Mode::compare;
    r.use_baseline();
    r.serve_objects(DOCS_REL);
    const auto o = r.get(relationship(DOCS_REL));
    check_served(o, "compare");
    BOOST_TEST(json::parse(o.answer.body).at_pointer("/results/0/class").as_string() == "compatible");
    BOOST_TEST(r.legacy_answers.requests.empty());
    // Nothing recorded for this route: nothing to compare with.
    const auto none = r.get(object(DOCS_REL));
    check_error(none.answer, 404, "NotFoundError");
}

// -- X-Sigma-Shim-Mode ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_mode_header_is_refused_unless_allowed) {
    Rig r;
    r.serve_objects(F912);
    const auto o = r.get(relationship(F912), "passthrough");
    BOOST_TEST(!o.relay);
    check_error(o.answer, 403, "ForbiddenError");
    BOOST_TEST(r.objects.requests.empty());
    BOOST_TEST(r.legacy_answers.requests.empty());
}

BOOST_AUTO_TEST_CASE(the_mode_header_picks_the_mode_of_one_request_when_allowed) {
    Rig r;
    r.config.allow_mode_header = true;
    r.config.rollout_percent = 0;
    r.serve_objects(F912);
    r.serve_legacy(relationship(F912), legacy_f912());
    BOOST_TEST(r.get(relationship(F912), "passthrough").relay);
    for (const auto& [mode, side] : {std::pair{"reconstruct", "reconstructed"}, std::pair{"shadow", "shadow"},
                                     std::pair{"compare", "compare"}}) {
        BOOST_TEST_CONTEXT(mode) {
            const auto o = r.get(relationship(F912), mode);
            check_served(o, side);
            BOOST_TEST(o.answer.status == 200u);
        }
    }
    // Without the header, the configured rollout: 0%, everything passes through.
    BOOST_TEST(r.get(relationship(F912)).relay);
    const auto bad = r.get(relationship(F912), "fastest");
    check_error(bad.answer, 400, "InvalidArgumentError");
}

BOOST_AUTO_TEST_SUITE_END()
