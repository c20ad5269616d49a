#include "serve/migration_handler.hpp"

#include "compare/legacy_shape.hpp"
#include "compare/redact.hpp"
#include "migrate/sampling.hpp"
#include "sigma_analysis/file_id.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <chrono>

namespace shim::serve {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace asio::experimental::awaitable_operators;

std::string sha256_of(const json::value& legacy_body) {
    const auto shape = compare::legacy_shape(legacy_body, {});
    return shape ? shape->sha256 : std::string();
}

MigrationOutcome answered(HttpAnswer a) {
    return {false, std::move(a)};
}

} // namespace

compare::Answer comparable(const HttpAnswer& a) {
    json::error_code ec;
    auto body = json::parse(a.body_text(), ec);
    if (ec) body = json::string(std::string_view(a.body_text()).substr(0, 4096));
    return {a.status, std::move(body)};
}

void register_migration_metrics(ops::Metrics& m) {
    m.add_counter("sigma_shim_legacy_mode_total", "Legacy requests, by the mode that answered them",
                  {"mode"});
    m.add_counter("sigma_shim_comparisons_total", "Comparisons of legacy and reconstructed answers, by class",
                  {"class"});
    m.add_counter(
        "sigma_shim_comparison_findings_total",
        "Differences found, by field (array indices as *; the first 50 fields, then other) and class",
        {"path", "class"});
    m.add_counter("sigma_shim_shadow_skipped_total",
                  "Shadow requests not compared (outside --shadow-percent)", {});
}

MigrationHandler::MigrationHandler(LegacyHandler& legacy, upstream::Upstream& objects,
                                   upstream::Upstream& legacy_answers, const ServeConfig& config,
                                   ops::Metrics& metrics, ops::Logger& log, migrate::ComparisonStore& store,
                                   const migrate::BaselineCatalog* baseline, net::TaskGroup& background)
    : legacy_(legacy), objects_(objects), legacy_answers_(legacy_answers), config_(config), metrics_(metrics),
      log_(log), store_(store), baseline_(baseline), background_(background),
      redact_(config.redact.begin(), config.redact.end()) {}

asio::awaitable<MigrationOutcome> MigrationHandler::handle(const LegacyRequest& request,
                                                           std::string_view mode_header) {
    Mode mode = config_.mode;
    const bool by_header = !mode_header.empty();
    if (by_header) {
        if (!config_.allow_mode_header) {
            co_return answered(error_answer("ForbiddenError", "X-Sigma-Shim-Mode is refused: this shim was "
                                                              "not started with --allow-mode-header"));
        }
        const auto chosen = parse_mode(mode_header);
        if (!chosen) {
            co_return answered(
                error_answer("InvalidArgumentError",
                             "X-Sigma-Shim-Mode must be reconstruct, passthrough, shadow or compare"));
        }
        mode = *chosen;
    }
    // A bad id or page never leaves the shim, whatever the mode: the reconstruction path says why.
    if (!sigma_analysis::is_file_id(request.route.id) || !request.route.error.empty()) {
        co_return answered(co_await legacy_.handle(request));
    }
    if (mode == Mode::reconstruct && !by_header && config_.rollout_percent < 100) {
        const std::string sha256 = co_await file_sha256(request);
        // A file whose SHA-256 cannot be had is not found or not reachable: the reconstruction says which.
        if (!sha256.empty() && !migrate::in_share(migrate::Sample::rollout, sha256, config_.rollout_percent))
            mode = Mode::passthrough;
    }
    metrics_.inc("sigma_shim_legacy_mode_total", {std::string(mode_name(mode))});
    switch (mode) {
    case Mode::passthrough:
        co_return MigrationOutcome{true, {}};
    case Mode::shadow:
        co_return co_await shadow(request);
    case Mode::compare:
        co_return co_await compare_now(request);
    case Mode::reconstruct:
        break;
    }
    co_return answered(co_await legacy_.handle(request));
}

asio::awaitable<std::string> MigrationHandler::file_sha256(const LegacyRequest& request) {
    std::string id = sigma_analysis::to_lower_ascii(request.route.id);
    if (id.size() == 64) co_return id;
    // An MD5 or SHA-1: the File object says which SHA-256 it is. It goes through the cache, so the
    // reconstruction that may follow finds it there.
    upstream::UpstreamRequest file_request{"/api/v3/files/" + id, request.api_key, request.request_id,
                                           request.client};
    const auto r = co_await objects_.get(std::move(file_request));
    if (r.failure != upstream::Failure::none || r.status != 200) co_return std::string();
    json::error_code ec;
    const auto doc = json::parse(r.body, ec);
    const auto* data = !ec && doc.is_object() ? doc.get_object().if_contains("data") : nullptr;
    const auto* sha = data && data->is_object() ? data->get_object().if_contains("id") : nullptr;
    if (!sha || !sha->is_string()) co_return std::string();
    co_return sigma_analysis::to_lower_ascii(sha->get_string());
}

std::optional<HttpAnswer> MigrationHandler::recorded_answer(const LegacyRequest& request,
                                                            const std::string& sha256) const {
    const auto* recorded = sha256.empty() ? nullptr : baseline_->find(request.target, sha256);
    if (!recorded) return std::nullopt;
    HttpAnswer a;
    a.status = recorded->status;
    a.body = recorded->body;
    a.set("Content-Type", "application/json; charset=utf-8");
    return a;
}

asio::awaitable<HttpAnswer> MigrationHandler::upstream_legacy_answer(const LegacyRequest& request) {
    upstream::UpstreamRequest legacy_request{request.target, request.api_key, request.request_id,
                                             request.client};
    const auto r = co_await legacy_answers_.get(std::move(legacy_request));
    if (r.failure != upstream::Failure::none) co_return upstream_error(r, "legacy answer");
    HttpAnswer a;
    a.status = r.status;
    a.body = r.body;
    a.set("Content-Type", r.content_type.empty() ? "application/json; charset=utf-8" : r.content_type);
    if (!r.retry_after.empty()) a.set("Retry-After", r.retry_after);
    a.upstream_calls = 1;
    co_return a;
}

asio::awaitable<MigrationOutcome> MigrationHandler::shadow(const LegacyRequest& request) {
    std::string sha256;
    HttpAnswer served;
    if (baseline_) {
        sha256 = co_await file_sha256(request);
        auto recorded = recorded_answer(request, sha256);
        // Nothing recorded to serve: the reconstruction stands in, and there is nothing to compare it with.
        if (!recorded) co_return answered(co_await legacy_.handle(request));
        served = std::move(*recorded);
    } else {
        served = co_await upstream_legacy_answer(request);
    }
    // The served body is parsed once, for its SHA-256 when no baseline gave it and for the comparison; a
    // recorded answer that is not sampled is not parsed at all.
    std::optional<compare::Answer> legacy;
    if (sha256.empty()) {
        legacy = comparable(served);
        sha256 = sha256_of(legacy->body);
    }
    const std::string& sample_id = sha256.empty() ? request.route.id : sha256;
    if (migrate::in_share(migrate::Sample::shadow, sigma_analysis::to_lower_ascii(sample_id),
                          config_.shadow_percent)) {
        // The comparison runs on its own, after this answer is on its way: it cannot delay or fail it.
        if (!legacy) legacy = comparable(served);
        const auto executor = co_await asio::this_coro::executor;
        background_.spawn(executor, compare_later(request, std::move(*legacy), sha256));
    } else {
        metrics_.inc("sigma_shim_shadow_skipped_total");
    }
    if (!served.has("X-Sigma-Shim")) served.set("X-Sigma-Shim", "shadow"); // a local error stays `local`
    co_return answered(std::move(served));
}

asio::awaitable<void> MigrationHandler::compare_later(LegacyRequest request, compare::Answer legacy,
                                                      std::string sha256) {
    try {
        const HttpAnswer reconstructed = co_await legacy_.handle(request);
        record(request, sha256, std::move(legacy), reconstructed);
    } catch (const std::exception& e) {
        log_.write(ops::LogLevel::error, "shadow comparison failed",
                   {{"request_id", request.request_id}, {"error", std::string(e.what())}});
    }
}

asio::awaitable<MigrationOutcome> MigrationHandler::compare_now(const LegacyRequest& request) {
    std::string sha256;
    HttpAnswer legacy_answer, reconstructed;
    if (baseline_) {
        sha256 = co_await file_sha256(request);
        auto recorded = recorded_answer(request, sha256);
        if (!recorded) {
            co_return answered(
                error_answer("NotFoundError", "no legacy answer to this route is recorded in --baseline"));
        }
        legacy_answer = std::move(*recorded);
        reconstructed = co_await legacy_.handle(request);
    } else {
        std::tie(legacy_answer, reconstructed) =
            co_await (upstream_legacy_answer(request) && legacy_.handle(request));
    }
    auto legacy = comparable(legacy_answer);
    if (sha256.empty()) sha256 = sha256_of(legacy.body);
    auto entry = record(request, sha256, std::move(legacy), reconstructed);
    HttpAnswer a;
    a.body = compare::report_json(compare::make_report({std::move(entry)}));
    a.upstream_calls = legacy_answer.upstream_calls + reconstructed.upstream_calls;
    a.set("Content-Type", "application/json; charset=utf-8");
    a.set("X-Sigma-Shim", "compare");
    co_return answered(std::move(a));
}

compare::ReportEntry MigrationHandler::record(const LegacyRequest& request, const std::string& sha256,
                                              compare::Answer legacy, const HttpAnswer& reconstructed) {
    compare::CompareOptions options;
    options.date_tolerance_seconds = config_.date_tolerance_seconds;
    options.ignore = config_.compare_ignore;
    compare::ReportEntry entry;
    entry.name = request.target;
    entry.sha256 = sha256;
    entry.target = request.target;
    entry.legacy = std::move(legacy);
    entry.reconstructed = comparable(reconstructed);
    entry.result = compare::compare(entry.legacy, entry.reconstructed, options);
    entry.time =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    const std::string verdict(compare::verdict_name(entry.result.verdict));
    metrics_.inc("sigma_shim_comparisons_total", {verdict});
    for (const auto& f : entry.result.findings) {
        metrics_.inc("sigma_shim_comparison_findings_total",
                     {store_.path_label(compare::normalized_path(f.path)),
                      std::string(compare::verdict_name(f.verdict))});
    }
    if (!redact_.empty()) {
        compare::redact(entry.legacy.body, redact_);
        compare::redact(entry.reconstructed.body, redact_);
        compare::redact(entry.result.findings, redact_);
    }
    log_.write(entry.result.verdict == compare::Verdict::different ? ops::LogLevel::warn
                                                                   : ops::LogLevel::info,
               "comparison",
               {{"request_id", request.request_id},
                {"class", verdict},
                {"findings", static_cast<std::int64_t>(entry.result.findings.size())}});
    store_.add(entry);
    return entry;
}

} // namespace shim::serve
