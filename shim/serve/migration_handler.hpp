#pragma once
// Legacy routes during a migration: which mode answers this request (the configured one, the rollout share,
// or the X-Sigma-Shim-Mode header), the legacy side of shadow and compare modes (the upstream's own answer or
// a recorded baseline), and the comparisons, made in the background in shadow mode so that they never delay
// or fail the answer served.
#include "compare/path_glob.hpp"
#include "migrate/baseline_catalog.hpp"
#include "migrate/comparison_store.hpp"
#include "net/task_group.hpp"
#include "ops/log.hpp"
#include "ops/metrics.hpp"
#include "serve/legacy_handler.hpp"

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <vector>

namespace shim::serve {

struct MigrationOutcome {
    bool relay = false; // pass the request to the upstream unchanged (passthrough mode or side)
    HttpAnswer answer;  // otherwise, the answer
};

class MigrationHandler {
public:
    // `objects` is the cached chain the reconstruction uses (to learn a file's SHA-256); `legacy_answers` the
    // uncached one that asks the upstream for its own legacy answers (it spends quota).
    MigrationHandler(LegacyHandler& legacy, upstream::Upstream& objects, upstream::Upstream& legacy_answers,
                     const ServeConfig& config, ops::Metrics& metrics, ops::Logger& log,
                     migrate::ComparisonStore& store, const migrate::BaselineCatalog* baseline,
                     net::TaskGroup& background);

    boost::asio::awaitable<MigrationOutcome> handle(const LegacyRequest& request,
                                                    std::string_view mode_header);

private:
    boost::asio::awaitable<std::string> file_sha256(const LegacyRequest& request);
    // The legacy side: the answer recorded in --baseline (none when nothing was recorded for this route and
    // file), or the upstream's own.
    std::optional<HttpAnswer> recorded_answer(const LegacyRequest& request, const std::string& sha256) const;
    boost::asio::awaitable<HttpAnswer> upstream_legacy_answer(const LegacyRequest& request);
    boost::asio::awaitable<MigrationOutcome> shadow(const LegacyRequest& request);
    boost::asio::awaitable<MigrationOutcome> compare_now(const LegacyRequest& request);
    boost::asio::awaitable<void> compare_later(LegacyRequest request, compare::Answer legacy,
                                               std::string sha256);
    compare::ReportEntry record(const LegacyRequest& request, const std::string& sha256,
                                compare::Answer legacy, const HttpAnswer& reconstructed);

    LegacyHandler& legacy_;
    upstream::Upstream& objects_;
    upstream::Upstream& legacy_answers_;
    const ServeConfig& config_;
    ops::Metrics& metrics_;
    ops::Logger& log_;
    migrate::ComparisonStore& store_;
    const migrate::BaselineCatalog* baseline_;
    net::TaskGroup& background_; // shadow comparisons: the drain waits for them, or cancels them
    std::vector<compare::PathGlob> redact_;
};

// An answer as the comparison engine takes it: a body that is not JSON is compared as its text, cut short (an
// HTML error page needs no more to differ).
compare::Answer comparable(const HttpAnswer& answer);

// Registers the migration metrics.
void register_migration_metrics(ops::Metrics& metrics);

} // namespace shim::serve
