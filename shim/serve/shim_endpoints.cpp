#include "serve/shim_endpoints.hpp"

#include "compare/report.hpp"
#include "economy/byte_lru.hpp"
#include "migrate/comparison_store.hpp"
#include "ops/metrics.hpp"
#include "sigma_analysis/json_writer.hpp"
#include "upstream/upstream_metrics.hpp"

namespace shim::serve {
namespace {

HttpAnswer text(unsigned status, std::string body, std::string content_type = "text/plain; charset=utf-8") {
    HttpAnswer a;
    a.status = status;
    a.body = std::move(body);
    a.set("Content-Type", std::move(content_type));
    a.set("Cache-Control", "no-store");
    return a;
}

bool has_flag(std::string_view query, std::string_view flag) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto item = query.substr(0, amp);
        if (item == flag || item.starts_with(std::string(flag) + "=")) return true;
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    }
    return false;
}

// readyz's line for Redis. Informative only: replicas carry on alone without Redis, so its state never makes
// readyz fail (an outage must not take every replica out of the load balancer at once).
std::string redis_line(const ServerState& state) {
    const auto status = state.redis_status ? state.redis_status() : std::string();
    return status.empty() ? std::string() : "[+]redis " + status + "\n";
}

} // namespace

void register_server_metrics(ops::Metrics& m) {
    const auto buckets = ops::default_duration_buckets();
    m.add_counter("sigma_shim_requests_total", "Requests answered, by route class and status",
                  {"route", "status"});
    m.add_counter("sigma_shim_calibrated_contexts_total",
                  "Match contexts of reconstructions in --match-context calibrated, by source: calibrated "
                  "(the rule's learnt fields) or fallback (a rule the calibration does not hold)",
                  {"source"});
    m.add_histogram("sigma_shim_request_duration_seconds",
                    "Time from request header to the end of the answer", {"route"}, buckets);
    m.add_gauge("sigma_shim_in_flight_requests", "Requests being answered");
    m.add_gauge("sigma_shim_open_connections", "Client connections open");
    upstream::register_upstream_metrics(m);
    m.add_counter("sigma_shim_cache_requests_total",
                  "Upstream fetches looked up in the cache, by object kind and result", {"kind", "result"});
    m.add_counter("sigma_shim_cache_evictions_total", "Cache entries evicted to stay within --cache-bytes",
                  {});
    m.add_gauge("sigma_shim_cache_bytes", "Bytes held by the cache");
    m.add_gauge("sigma_shim_cache_entries", "Entries held by the cache");
    m.add_counter("sigma_shim_coalesced_requests_total",
                  "Upstream fetches that shared another request's call", {});
    m.add_counter("sigma_shim_upstream_calls_saved_total",
                  "Upstream calls saved by the cache and by coalescing", {});
    m.add_counter("sigma_shim_upstream_retries_total", "Upstream requests retried after a transient failure",
                  {});
    m.add_gauge("sigma_shim_quota_remaining", "Requests left in a quota window, by key fingerprint",
                {"key", "window"});
    m.add_counter("sigma_shim_quota_rejections_total", "Local 429s, by key fingerprint and window",
                  {"key", "window"});
    m.add_counter("sigma_shim_received_bytes_total", "Bytes received from clients (headers and bodies)", {});
    m.add_counter("sigma_shim_sent_bytes_total", "Bytes sent to clients (headers and bodies)", {});
    m.add_counter("sigma_shim_tls_handshakes_total",
                  "TLS connections by how their start went: ok, failed, timeout, plain_http, not_tls",
                  {"result"});
    m.add_counter("sigma_shim_client_requests_total", "Requests answered, by client token name and status",
                  {"client", "status"});
    m.add_counter("sigma_shim_client_auth_failures_total",
                  "/api/v3/ requests refused for want of a known client token: missing or unknown",
                  {"reason"});
}

HttpAnswer cache_report(const economy::ByteLru& cache) {
    std::string body = "{\"budget_bytes\":" + std::to_string(cache.budget()) +
                       ",\"bytes\":" + std::to_string(cache.bytes()) +
                       ",\"entries\":" + std::to_string(cache.entries()) + ",\"kinds\":{";
    bool first = true;
    for (const auto& [kind, stats] : cache.stats_by_kind()) {
        if (!first) body += ',';
        first = false;
        sigma_analysis::json_out::append_key(body, kind);
        body += "{\"bytes\":" + std::to_string(stats.bytes) +
                ",\"entries\":" + std::to_string(stats.entries) + "}";
    }
    body += "}}";
    return text(200, std::move(body), "application/json; charset=utf-8");
}

HttpAnswer answer_shim_endpoint(const Route& route, ServerState& state, bool loopback_peer) {
    if (route.shim_endpoint == "cache") {
        if (!loopback_peer)
            return error_answer("ForbiddenError", "/_shim/cache answers loopback clients only");
        return cache_report(state.cache);
    }
    if (route.shim_endpoint == "comparisons" || route.shim_endpoint == "comparisons.html") {
        // Kept answers may hold what an operator would rather not show beyond this host.
        if (!loopback_peer)
            return error_answer("ForbiddenError", "/_shim/comparisons answers loopback clients only");
        const auto report = state.comparisons.snapshot();
        if (route.shim_endpoint == "comparisons")
            return text(200, compare::report_json(report), "application/json; charset=utf-8");
        return text(200, compare::report_html(report), "text/html; charset=utf-8");
    }
    if (route.shim_endpoint == "livez") return text(200, "ok\n");
    if (route.shim_endpoint == "readyz") {
        const bool draining = state.draining.load();
        std::string body = draining ? "draining\n" : "ok\n";
        if (has_flag(route.shim_query, "verbose")) {
            const auto& proxy = state.config.upstream_proxy.proxy;
            body = std::string("[+]listener ") + (draining ? "failed: draining" : "ok") + "\n[+]upstream " +
                   state.config.upstream.origin + (proxy ? " through " + proxy->display() : std::string()) +
                   " configured\n" + redis_line(state) + body;
        }
        return text(draining ? 503 : 200, std::move(body));
    }
    if (route.shim_endpoint == "metrics") {
        return text(200, state.metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
    }
    auto a = error_answer("NotFoundError",
                          "no such endpoint under /_shim/ (livez, readyz, metrics, cache, comparisons, "
                          "comparisons.html)");
    return a;
}

} // namespace shim::serve
