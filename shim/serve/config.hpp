#pragma once
// The configuration of `sigma-shim serve`: a value built once from flags and SIGMA_SHIM_* environment
// variables, then passed down. Every limit is named here.
#include "ops/log.hpp"
#include "redis/redis_url.hpp"
#include "sigma_analysis/calibration.hpp"
#include "sigma_analysis/match_context.hpp"
#include "upstream/proxy_settings.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shim::serve {

using Duration = std::chrono::milliseconds;

// Where upstream requests go: VirusTotal (or a test upstream) over HTTPS or HTTP, or the bundled demo data.
struct UpstreamAddress {
    bool demo = false; // the bundled objects, or the folder in `dir`, served in-process
    std::string dir;   // dir:DIR: a recorded folder (see --record)
    bool tls = true;
    std::string host;   // as in the Host header and SNI
    std::string port;   // "443" when not given
    std::string origin; // scheme://host[:port], no trailing slash
};

// What the server does on legacy routes (see docs/migration.md).
enum class Mode {
    reconstruct, // serve the reconstruction
    passthrough, // relay legacy routes to the upstream unchanged
    shadow,  // serve the legacy answer (upstream or --baseline), compare a reconstruction in the background
    compare, // answer with the comparison report
};

std::optional<Mode> parse_mode(std::string_view name);
std::string_view mode_name(Mode mode);

struct ServeConfig {
    std::string listen_host = "127.0.0.1";
    bool allow_remote_clients =
        false; // listening beyond loopback with a server-side key is refused without it
    std::uint16_t listen_port = 8080;
    std::string tls_cert; // --tls-cert: serve HTTPS with this chain and --tls-key ("" : plain HTTP)
    std::string tls_key;
    std::string client_tokens; // --client-tokens: the tokens file ("" : clients send VirusTotal keys)
    UpstreamAddress upstream;
    std::string upstream_ca;        // extra trust anchors (PEM), added to the system store
    std::string upstream_proxy_url; // --upstream-proxy as given (it may hold a password: never print it)
    upstream::ProxyChoice upstream_proxy; // the proxy chosen from it or the environment, and why
    std::string public_base = "https://www.virustotal.com";
    unsigned threads = 1;
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_body_bytes = 40u << 20;
    Duration idle_timeout{std::chrono::seconds(60)};
    Duration request_timeout{std::chrono::seconds(60)};
    Duration drain_timeout{std::chrono::seconds(30)};
    std::size_t upstream_connections = 16;
    Duration upstream_timeout{std::chrono::seconds(30)};
    std::size_t upstream_max_body_bytes = 64u << 20;
    unsigned behaviour_pages = 5;
    unsigned rule_fetch_concurrency = 4;
    sigma_analysis::ContextMode match_context = sigma_analysis::ContextMode::all;
    std::shared_ptr<const sigma_analysis::Calibration> calibration; // --match-context calibrated:FILE
    sigma_analysis::ContextMode match_context_fallback = sigma_analysis::ContextMode::rule_fields;
    std::string api_key_env = "VT_API_KEY";
    ops::LogLevel log_level = ops::LogLevel::info;

    // Upstream economy: cache, stale copies, quota and retries.
    std::size_t cache_bytes = 256u << 20;
    Duration cache_ttl{std::chrono::hours(1)};
    Duration negative_ttl{std::chrono::minutes(10)};
    Duration rule_cache_ttl{std::chrono::hours(24)};
    Duration stale_if_error{std::chrono::hours(24)};
    unsigned quota_per_minute = 0; // 0: no limit
    unsigned quota_per_day = 0;
    unsigned quota_per_month = 0;
    Duration quota_wait{0};
    unsigned upstream_retries = 2;
    std::string record_dir; // --record: every upstream object fetched is written here

    // Replicas: what several shims in front of one key share through Redis (docs/serve.md "Running several
    // replicas").
    std::string redis_url_text;           // --redis as given (it may hold a password: never print it)
    std::optional<redis::RedisUrl> redis; // parsed from it, SIGMA_SHIM_REDIS_PASSWORD applied; none: alone
    Duration redis_timeout{250};          // every Redis call's deadline, connecting included
    std::size_t redis_max_entry_bytes = 4u << 20; // larger objects are served, not shared
    unsigned replicas = 1;                        // how many replicas share a key's quota

    // Migration: modes, rollout, shadow comparisons and what is kept of them.
    Mode mode = Mode::reconstruct;
    unsigned rollout_percent = 100; // reconstruct mode: the share of files served the reconstruction
    unsigned shadow_percent = 100;  // shadow mode: the share of files compared in the background
    bool allow_mode_header = false; // X-Sigma-Shim-Mode may choose the mode of one request
    std::string baseline_dir; // shadow and compare modes: recorded legacy answers instead of the upstream's
    std::size_t keep_mismatches = 1000;
    std::int64_t date_tolerance_seconds = 0;
    std::vector<std::string> compare_ignore; // path globs left out of comparisons
    std::vector<std::string> redact;         // path globs whose values are masked in kept comparisons
};

struct ConfigResult {
    ServeConfig config;
    bool help = false;
    bool print_env_defaults = false; // --print-env-defaults: the service's environment file, then exit
    std::string error;               // one line; empty when the configuration is good
};

// Flags win over environment variables (SIGMA_SHIM_LISTEN for --listen, and so on), which win over defaults.
// `getenv` is injected so that tests need no process environment.
ConfigResult parse_serve_config(std::span<const std::string> args,
                                const std::function<const char*(const char*)>& getenv);

std::string serve_usage();

// The environment file of the service (/etc/default/sigma-shim), made from the same table as the usage so
// that the two cannot drift: every SIGMA_SHIM_ variable, commented out, with its help and its default.
std::string env_defaults();

// The key used when a client sends no x-apikey. The variable named by --api-key-env wins when it is set and
// not empty; else the systemd credential `api-key` ($CREDENTIALS_DIRECTORY/api-key, from LoadCredential=),
// its trailing line breaks and spaces dropped. `source` names where the key came from ("" when there is
// none) and is all a log line or an error may say of it.
struct ServerKey {
    std::string key;
    std::string source;
    std::string error; // the credential is there but cannot be read: start-up must stop
};
ServerKey find_server_key(const ServeConfig& config, const std::function<const char*(const char*)>& getenv);

// Why this configuration must not start, or "": a server-side key (named by `key_source`, empty when there
// is none) spent by anyone who can reach a non-loopback listener is refused unless client tokens or
// --allow-remote-clients say who may; client tokens without a server-side key have nothing to stand in for.
std::string exposure_error(const ServeConfig& config, std::string_view key_source);

// Parses "https://host[:port]" or "http://host[:port]" (no path), "demo", or "dir:DIR".
bool parse_upstream(std::string_view text, UpstreamAddress& out, std::string& error);

inline constexpr Duration kLongestDuration = std::chrono::hours(24 * 365);

// Parses "90", "90s", "500ms", "2m", "1h", up to kLongestDuration.
bool parse_duration(std::string_view text, Duration& out);

} // namespace shim::serve
