#include "serve/config.hpp"

#include "sigma_analysis/legacy_routes.hpp"
#include "util/match_context_option.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

namespace shim::serve {
namespace {

template <typename T>
bool parse_number(std::string_view text, T& out, T min, T max) {
    T value{};
    const auto res = std::from_chars(text.data(), text.data() + text.size(), value);
    if (res.ec != std::errc{} || res.ptr != text.data() + text.size() || value < min || value > max)
        return false;
    out = value;
    return true;
}

// Each option: its flag, a placeholder for the help, the help text, the default shown, and how it applies.
struct Option {
    std::string_view name;
    std::string_view placeholder;
    std::string_view help;
    std::string_view default_text;
    std::function<std::string(ServeConfig&, std::string_view)> apply; // returns an error, or ""
};

std::string bad(std::string_view name, std::string_view value, std::string_view expected) {
    return "--" + std::string(name) + " '" + std::string(value) + "': " + std::string(expected);
}

template <typename T>
Option number_option(std::string_view name, std::string_view help, std::string_view default_text,
                     T ServeConfig::*field, T min, T max) {
    return {name, "N", help, default_text, [=](ServeConfig& c, std::string_view v) {
                return parse_number(v, c.*field, min, max)
                           ? std::string()
                           : bad(name, v,
                                 "expected a whole number from " + std::to_string(min) + " to " +
                                     std::to_string(max));
            }};
}

Option duration_option(std::string_view name, std::string_view help, std::string_view default_text,
                       Duration ServeConfig::*field, bool zero_allowed = false) {
    return {name, "DURATION", help, default_text, [=](ServeConfig& c, std::string_view v) {
                return parse_duration(v, c.*field) && (zero_allowed || (c.*field).count() > 0)
                           ? std::string()
                           : bad(name, v,
                                 "expected a duration such as 30s, 500ms or 2m, at most " +
                                     std::to_string(kLongestDuration / std::chrono::hours(1)) + "h (a year)");
            }};
}

std::string apply_listen(ServeConfig& c, std::string_view v) {
    const auto colon = v.rfind(':');
    if (colon == std::string_view::npos) return bad("listen", v, "expected HOST:PORT");
    std::string host(v.substr(0, colon));
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host == "localhost") host = "127.0.0.1";
    boost::system::error_code ec;
    boost::asio::ip::make_address(host, ec);
    if (ec) return bad("listen", v, "the host must be an IP address (or localhost)");
    if (!parse_number<std::uint16_t>(v.substr(colon + 1), c.listen_port, 0, 65535)) {
        return bad("listen", v, "the port must be a number from 0 to 65535");
    }
    c.listen_host = host;
    return {};
}

std::string apply_public_base(ServeConfig& c, std::string_view v) {
    UpstreamAddress parsed;
    std::string error;
    if (v == "demo" || !parse_upstream(v, parsed, error))
        return bad("public-base", v, "expected http(s)://host[:port]");
    c.public_base = parsed.origin;
    return {};
}

// The file is read at start-up (and again on SIGHUP); a name that cannot be read now is a bad configuration.
std::string apply_readable_file(std::string& field, std::string_view name, std::string_view v) {
    std::error_code ec;
    std::ifstream in{std::string(v)};
    if (!std::filesystem::is_regular_file(std::string(v), ec) || !in) return bad(name, v, "cannot read the file");
    field = v;
    return {};
}

std::string apply_switch(bool& field, std::string_view name, std::string_view v) {
    if (v == "true" || v == "1" || v == "on")
        field = true;
    else if (v == "false" || v == "0" || v == "off")
        field = false;
    else
        return bad(name, v, "expected on or off");
    return {};
}

std::string apply_globs(std::vector<std::string>& into, std::string_view name, std::string_view v) {
    // A comma-separated list; the flag may also be given more than once.
    std::size_t start = 0;
    while (start <= v.size()) {
        auto end = v.find(',', start);
        if (end == std::string_view::npos) end = v.size();
        const auto glob = v.substr(start, end - start);
        if (glob.empty() || glob.front() == '.' || glob.back() == '.' || glob.find("..") != glob.npos)
            return bad(name, v, "expected path globs such as data.links.self or **.match_context");
        into.emplace_back(glob);
        start = end + 1;
    }
    return {};
}

std::string apply_baseline(ServeConfig& c, std::string_view v) {
    std::error_code ec;
    const auto dir = v.starts_with("dir:") ? v.substr(4) : std::string_view();
    if (dir.empty() || !std::filesystem::is_directory(std::string(dir), ec))
        return bad("baseline", v, "expected dir:DIR, a folder of recorded legacy answers");
    c.baseline_dir = dir;
    return {};
}

const std::vector<Option>& options() {
    static const std::vector<Option> all = {
        {"listen", "HOST:PORT", "address to serve on; a port of 0 picks a free one (the log says which)",
         "127.0.0.1:8080", apply_listen},
        {"allow-remote-clients", "",
         "with a server-side key (--api-key-env), listen on an address other clients can reach", "off",
         [](ServeConfig& c, std::string_view v) {
             return apply_switch(c.allow_remote_clients, "allow-remote-clients", v);
         }},
        {"tls-cert", "FILE",
         "serve HTTPS: the PEM certificate chain (leaf first), with --tls-key; re-read on SIGHUP", "",
         [](ServeConfig& c, std::string_view v) { return apply_readable_file(c.tls_cert, "tls-cert", v); }},
        {"tls-key", "FILE", "the PEM private key of --tls-cert; re-read on SIGHUP", "",
         [](ServeConfig& c, std::string_view v) { return apply_readable_file(c.tls_key, "tls-key", v); }},
        {"client-tokens", "FILE",
         "clients authenticate with their own token in x-apikey (lines `NAME sha256:HEX`, made by `sigma-shim "
         "token new NAME`), which the server-side key replaces; re-read on SIGHUP",
         "",
         [](ServeConfig& c, std::string_view v) {
             return apply_readable_file(c.client_tokens, "client-tokens", v);
         }},
        {"upstream", "URL",
         "the VirusTotal API: https://host[:port], http://host[:port], demo (the bundled "
         "sample objects, no network, no key) or dir:DIR (a folder written by --record)",
         "https://www.virustotal.com",
         [](ServeConfig& c, std::string_view v) {
             std::string error;
             return parse_upstream(v, c.upstream, error) ? std::string() : bad("upstream", v, error);
         }},
        {"upstream-ca", "FILE", "PEM certificates trusted for the upstream, in addition to the system store",
         "",
         [](ServeConfig& c, std::string_view v) { return apply_readable_file(c.upstream_ca, "upstream-ca", v); }},
        {"upstream-proxy", "URL",
         "forward proxy to the upstream: http://[user:password@]host:port (none: direct); without it, "
         "https_proxy/HTTPS_PROXY or http_proxy/HTTP_PROXY, with NO_PROXY (docs/serve.md \"Behind a proxy\")",
         "",
         [](ServeConfig& c, std::string_view v) {
             c.upstream_proxy_url =
                 v; // checked once the upstream is known, and never quoted: it may hold a password
             return std::string();
         }},
        {"public-base", "URL", "the base of every link in reconstructed answers",
         "https://www.virustotal.com", apply_public_base},
        number_option<unsigned>("threads", "threads, each running its own event loop", "the number of cores",
                                &ServeConfig::threads, 1, 256),
        number_option<std::size_t>("max-header-bytes", "largest request header block accepted", "16384",
                                   &ServeConfig::max_header_bytes, 1024, 1u << 20),
        number_option<std::size_t>("max-body-bytes", "largest request body accepted (pass-through only)",
                                   "41943040", &ServeConfig::max_body_bytes, 0, std::size_t(1) << 40),
        duration_option("idle-timeout", "how long a keep-alive connection may wait for its next request",
                        "60s", &ServeConfig::idle_timeout),
        duration_option("request-timeout", "how long reading a request or writing an answer may take", "60s",
                        &ServeConfig::request_timeout),
        duration_option("drain-timeout",
                        "on SIGTERM or SIGINT, how long requests in flight may take to finish", "30s",
                        &ServeConfig::drain_timeout),
        number_option<std::size_t>("upstream-connections", "most open connections to the upstream", "16",
                                   &ServeConfig::upstream_connections, 1, 1024),
        duration_option("upstream-timeout",
                        "deadline of one upstream request, connecting included (504 after)", "30s",
                        &ServeConfig::upstream_timeout),
        number_option<std::size_t>("upstream-max-body-bytes",
                                   "largest upstream answer read for a reconstruction", "67108864",
                                   &ServeConfig::upstream_max_body_bytes, 1024, std::size_t(1) << 40),
        number_option<unsigned>("behaviour-pages", "most File behaviour pages fetched for one answer", "5",
                                &ServeConfig::behaviour_pages, 0, 100),
        number_option<unsigned>("rule-fetch-concurrency", "most sigma_rule fetches at once for one answer",
                                "4", &ServeConfig::rule_fetch_concurrency, 1, 64),
        {"match-context", "MODE",
         "all: every key of a match context; rule-fields: EventID and the rule's fields; "
         "calibrated:FIELDS.json: each rule's fields as `sigma-shim calibrate` learnt them from recorded "
         "answers (docs/calibration.md)",
         "all",
         [](ServeConfig& c, std::string_view v) {
             util::MatchContextChoice choice;
             if (auto error = util::parse_match_context(v, choice); !error.empty())
                 return bad("match-context", v, error);
             c.match_context = choice.mode;
             c.calibration = std::move(choice.calibration);
             return std::string();
         }},
        {"match-context-fallback", "MODE",
         "with --match-context calibrated:...: the mode for rules the calibration does not hold "
         "(rule-fields, itself all where the rule object cannot be had; or all); such answers are partial",
         "rule-fields",
         [](ServeConfig& c, std::string_view v) {
             auto error = util::parse_match_context_fallback(v, c.match_context_fallback);
             return error.empty() ? error : bad("match-context-fallback", v, error);
         }},
        {"api-key-env", "NAME", "environment variable holding the key used when a client sends no x-apikey",
         "VT_API_KEY",
         [](ServeConfig& c, std::string_view v) {
             if (v.empty()) return bad("api-key-env", v, "expected a variable name");
             c.api_key_env = v;
             return std::string();
         }},
        number_option<std::size_t>("cache-bytes",
                                   "memory for cached upstream objects (least recently used go first)",
                                   "268435456", &ServeConfig::cache_bytes, 0, std::size_t(1) << 40),
        duration_option("cache-ttl", "how long a cached File or behaviour object is fresh", "1h",
                        &ServeConfig::cache_ttl),
        duration_option("negative-ttl", "how long a cached NotFoundError is fresh", "10m",
                        &ServeConfig::negative_ttl),
        duration_option("rule-cache-ttl",
                        "how long a cached sigma_rule object is fresh (shared by every key)", "24h",
                        &ServeConfig::rule_cache_ttl),
        duration_option("stale-if-error",
                        "how old a cached copy may be and still be served when the upstream fails", "24h",
                        &ServeConfig::stale_if_error, true),
        number_option<unsigned>("quota-per-minute", "upstream requests per key in any 60 s (0: no limit)",
                                "0", &ServeConfig::quota_per_minute, 0, 1000000),
        number_option<unsigned>("quota-per-day", "upstream requests per key per UTC day (0: no limit)", "0",
                                &ServeConfig::quota_per_day, 0, 100000000),
        number_option<unsigned>("quota-per-month",
                                "upstream requests per key per UTC calendar month (0: no limit)", "0",
                                &ServeConfig::quota_per_month, 0, 1000000000),
        duration_option("quota-wait", "how long a request may wait for quota before a local 429", "0s",
                        &ServeConfig::quota_wait, true),
        number_option<unsigned>("upstream-retries", "retries of an upstream request that failed transiently",
                                "2", &ServeConfig::upstream_retries, 0, 10),
        {"record", "DIR", "write every upstream object fetched (File, behaviour pages, sigma_rules) into DIR",
         "",
         [](ServeConfig& c, std::string_view v) {
             std::error_code ec;
             std::filesystem::create_directories(std::string(v), ec);
             if (ec || !std::filesystem::is_directory(std::string(v)))
                 return bad("record", v, "cannot create the folder");
             c.record_dir = v;
             return std::string();
         }},
        {"redis", "URL",
         "Redis shared by the replicas: redis://[user:password@]host:port[/db] or unix:///path[?db=N]; "
         "the password may come from SIGMA_SHIM_REDIS_PASSWORD instead (docs/serve.md \"Running several "
         "replicas\")",
         "",
         [](ServeConfig& c, std::string_view v) {
             c.redis_url_text = v; // parsed once every flag is read, and never quoted: it may hold a password
             return std::string();
         }},
        duration_option("redis-timeout",
                        "deadline of one Redis call, connecting included; past it the replica goes on alone",
                        "250ms", &ServeConfig::redis_timeout),
        number_option<std::size_t>(
            "redis-max-entry-bytes",
            "largest upstream answer shared through Redis (larger: served, not shared)", "4194304",
            &ServeConfig::redis_max_entry_bytes, 1024, 512u << 20),
        number_option<unsigned>("replicas", "how many replicas share each key's quota", "1",
                                &ServeConfig::replicas, 1, 1000),
        {"mode", "MODE",
         "legacy routes: reconstruct, passthrough (relay them unchanged), shadow (serve the legacy answer, "
         "compare a reconstruction in the background) or compare (answer with the comparison)",
         "reconstruct",
         [](ServeConfig& c, std::string_view v) {
             const auto mode = parse_mode(v);
             if (!mode) return bad("mode", v, "expected reconstruct, passthrough, shadow or compare");
             c.mode = *mode;
             return std::string();
         }},
        number_option<unsigned>(
            "rollout-percent",
            "reconstruct mode: the share of files (by SHA-256) served the reconstruction; "
            "the rest pass through",
            "100", &ServeConfig::rollout_percent, 0, 100),
        number_option<unsigned>("shadow-percent",
                                "shadow mode: the share of files (by SHA-256) compared; each comparison "
                                "spends quota",
                                "100", &ServeConfig::shadow_percent, 0, 100),
        {"allow-mode-header", "", "let the X-Sigma-Shim-Mode request header choose the mode of one request",
         "off",
         [](ServeConfig& c, std::string_view v) {
             return apply_switch(c.allow_mode_header, "allow-mode-header", v);
         }},
        {"baseline", "dir:DIR",
         "shadow and compare modes: legacy answers recorded in DIR stand in for the upstream's", "",
         apply_baseline},
        number_option<std::size_t>("keep-mismatches",
                                   "how many `different` comparisons /_shim/comparisons keeps", "1000",
                                   &ServeConfig::keep_mismatches, 0, 1000000),
        number_option<std::int64_t>("date-tolerance",
                                    "comparisons: dates this many seconds apart are compatible", "0",
                                    &ServeConfig::date_tolerance_seconds, 0, std::int64_t(1) << 40),
        {"compare-ignore", "GLOBS",
         "comparisons: paths left out (comma-separated; * is one element, ** any number)", "",
         [](ServeConfig& c, std::string_view v) {
             return apply_globs(c.compare_ignore, "compare-ignore", v);
         }},
        {"redact", "GLOBS", "comparisons: paths whose values are masked in what /_shim/comparisons keeps", "",
         [](ServeConfig& c, std::string_view v) { return apply_globs(c.redact, "redact", v); }},
        {"log-level", "LEVEL", "debug, info, warn or error", "info",
         [](ServeConfig& c, std::string_view v) {
             const auto level = ops::parse_log_level(v);
             if (!level) return bad("log-level", v, "expected debug, info, warn or error");
             c.log_level = *level;
             return std::string();
         }},
    };
    return all;
}

std::string env_name(std::string_view flag) {
    std::string name = "SIGMA_SHIM_";
    for (char ch : flag)
        name.push_back(ch == '-' ? '_' : static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 32 : ch));
    return name;
}

// `text` as "# " lines of at most 100 columns, broken between words.
std::string comment_wrapped(std::string_view text) {
    std::string out;
    std::string line = "#";
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find(' ', start);
        if (end == std::string_view::npos) end = text.size();
        const auto word = text.substr(start, end - start);
        if (line.size() > 1 && line.size() + 1 + word.size() > 100) {
            out += line + "\n";
            line = "#";
        }
        line += " " + std::string(word);
        start = end + 1;
    }
    return out + line + "\n";
}

} // namespace

std::optional<Mode> parse_mode(std::string_view name) {
    for (const Mode m : {Mode::reconstruct, Mode::passthrough, Mode::shadow, Mode::compare})
        if (mode_name(m) == name) return m;
    return std::nullopt;
}

std::string_view mode_name(Mode mode) {
    switch (mode) {
    case Mode::reconstruct:
        return "reconstruct";
    case Mode::passthrough:
        return "passthrough";
    case Mode::shadow:
        return "shadow";
    case Mode::compare:
        return "compare";
    }
    return "reconstruct";
}

bool parse_duration(std::string_view text, Duration& out) {
    std::size_t unit_at = text.find_first_not_of("0123456789");
    const auto number = text.substr(0, unit_at);
    const auto unit = unit_at == std::string_view::npos ? std::string_view("s") : text.substr(unit_at);
    std::int64_t n = 0;
    if (number.empty() || !parse_number<std::int64_t>(number, n, 0, 86'400'000)) return false;
    std::int64_t ms_per_unit = 0;
    if (unit == "ms")
        ms_per_unit = 1;
    else if (unit == "s")
        ms_per_unit = 1000;
    else if (unit == "m")
        ms_per_unit = 60'000;
    else if (unit == "h")
        ms_per_unit = 3'600'000;
    else
        return false;
    const Duration parsed(n * ms_per_unit);
    // Timers and deadlines add durations to the clock in nanoseconds, which overflow past ~292 years; a year
    // is longer than any timeout or cache lifetime means, and keeps every sum far inside the range.
    if (parsed > kLongestDuration) return false;
    out = parsed;
    return true;
}

bool parse_upstream(std::string_view text, UpstreamAddress& out, std::string& error) {
    if (text == "demo") {
        out = UpstreamAddress{true, "", false, "demo", "", "demo"};
        return true;
    }
    if (text.starts_with("dir:")) {
        const std::string dir(text.substr(4));
        std::error_code ec;
        if (dir.empty() || !std::filesystem::is_directory(dir, ec)) {
            error = "dir: needs a folder that exists";
            return false;
        }
        out = UpstreamAddress{true, dir, false, "dir", "", "dir:" + dir};
        return true;
    }
    const auto url = boost::urls::parse_absolute_uri(text);
    if (!url) {
        error = "expected https://host[:port], http://host[:port] or demo";
        return false;
    }
    const auto scheme = url->scheme_id();
    if (scheme != boost::urls::scheme::https && scheme != boost::urls::scheme::http) {
        error = "the scheme must be https or http";
        return false;
    }
    if (url->encoded_host().empty() || url->has_userinfo() || url->has_query() || url->has_fragment() ||
        (!url->encoded_path().empty() && url->encoded_path() != "/")) {
        error = "expected only a scheme, a host and a port";
        return false;
    }
    UpstreamAddress a;
    a.tls = scheme == boost::urls::scheme::https;
    std::uint16_t port = a.tls ? 443 : 80;
    if (url->has_port() && !parse_number<std::uint16_t>(url->port(), port, 1, 65535)) {
        error = "the port must be a number from 1 to 65535";
        return false;
    }
    // The host without IPv6 brackets, for the resolver and certificate checks; host_header() adds them back.
    a.host = url->encoded_host_address();
    a.port = std::to_string(port);
    a.origin = std::string(a.tls ? "https" : "http") + "://" + std::string(url->encoded_host_and_port());
    out = a;
    return true;
}

ConfigResult parse_serve_config(std::span<const std::string> args,
                                const std::function<const char*(const char*)>& getenv) {
    ConfigResult r;
    r.config.threads = std::max(1u, std::thread::hardware_concurrency());
    parse_upstream("https://www.virustotal.com", r.config.upstream, r.error);

    // Flags win over variables: the flags are read first, and a variable is applied only when no flag gave
    // it.
    std::vector<std::pair<const Option*, std::string_view>> given;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        if (arg == "-h" || arg == "--help") {
            r.help = true;
            continue;
        }
        if (arg == "--print-env-defaults") {
            r.print_env_defaults = true;
            continue;
        }
        const auto eq = arg.find('=');
        const auto name = arg.starts_with("--") ? arg.substr(2, eq == arg.npos ? arg.npos : eq - 2) : arg;
        const auto it =
            std::find_if(options().begin(), options().end(), [&](const auto& o) { return o.name == name; });
        if (!arg.starts_with("--") || it == options().end()) {
            r.error = "unknown option '" + std::string(arg) + "'";
            return r;
        }
        if (eq != arg.npos)
            given.emplace_back(&*it, arg.substr(eq + 1));
        else if (it->placeholder.empty())
            given.emplace_back(&*it, "on"); // a switch: given means on
        else if (i + 1 < args.size())
            given.emplace_back(&*it, args[++i]);
        else {
            r.error = "option '--" + std::string(name) + "' needs a value";
            return r;
        }
    }
    for (const auto& o : options()) {
        const bool flagged =
            std::any_of(given.begin(), given.end(), [&](const auto& g) { return g.first == &o; });
        const char* v = flagged ? nullptr : getenv(env_name(o.name).c_str());
        if (!v || !*v) continue;
        if (auto e = o.apply(r.config, v); !e.empty()) {
            r.error = env_name(o.name) + ": " + e;
            return r;
        }
    }
    for (const auto& [option, value] : given) {
        if (auto e = option->apply(r.config, value); !e.empty()) {
            r.error = e;
            return r;
        }
    }
    if (!r.config.redis_url_text.empty()) {
        const bool redis_flagged =
            std::any_of(given.begin(), given.end(), [](const auto& g) { return g.first->name == "redis"; });
        std::string error;
        r.config.redis = redis::parse_redis_url(r.config.redis_url_text, error);
        if (!r.config.redis) {
            r.error = std::string(redis_flagged ? "--redis" : "SIGMA_SHIM_REDIS") + ": " + error;
            return r;
        }
        // So that a unit file can name Redis and an EnvironmentFile hold the secret.
        if (const char* password = getenv("SIGMA_SHIM_REDIS_PASSWORD"); password && *password)
            r.config.redis->password = password;
    }
    const bool proxy_flagged = std::any_of(given.begin(), given.end(),
                                           [](const auto& g) { return g.first->name == "upstream-proxy"; });
    const auto& up = r.config.upstream;
    const upstream::ProxyRequest proxy_request{r.config.upstream_proxy_url,
                                               proxy_flagged ? "--upstream-proxy"
                                                             : "SIGMA_SHIM_UPSTREAM_PROXY",
                                               up.demo,
                                               up.tls,
                                               up.host,
                                               up.port};
    r.config.upstream_proxy = upstream::choose_proxy(proxy_request, getenv, r.error);
    return r;
}

std::string exposure_error(const ServeConfig& config, std::string_view key_source) {
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(config.listen_host, ec);
    if (!config.client_tokens.empty() && key_source.empty() && !config.upstream.demo)
        return "--client-tokens needs a server-side key (--api-key-env, or the credential api-key): clients' "
               "tokens stand in for it";
    // With client tokens, only their holders spend the key, wherever the listener is.
    if (key_source.empty() || config.allow_remote_clients || !config.client_tokens.empty() ||
        (!ec && address.is_loopback()))
        return {};
    return "refusing to listen on " + config.listen_host + " with a server-side key (" +
           std::string(key_source) +
           "): every client that can reach it would spend that key. Listen on 127.0.0.1, give clients "
           "tokens of their own (--client-tokens), or pass --allow-remote-clients if that is meant";
}

ServerKey find_server_key(const ServeConfig& config, const std::function<const char*(const char*)>& getenv) {
    if (const char* key = getenv(config.api_key_env.c_str()); key && *key)
        return {key, config.api_key_env, {}};
    const char* dir = getenv("CREDENTIALS_DIRECTORY");
    if (!dir || !*dir) return {};
    const std::filesystem::path path = std::filesystem::path(dir) / "api-key";
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return {};
    const std::string source = "credential api-key";
    std::ifstream in(path, std::ios::binary);
    std::string key;
    if (std::filesystem::is_regular_file(path, ec) && in)
        key.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (!std::filesystem::is_regular_file(path, ec) || !in || in.bad())
        return {{}, {}, "the " + source + " (" + path.string() + ") cannot be read"};
    // `echo KEY > file` leaves a line break, which is no part of a key.
    while (!key.empty() &&
           (key.back() == '\n' || key.back() == '\r' || key.back() == ' ' || key.back() == '\t'))
        key.pop_back();
    if (key.empty()) return {};
    return {key, source, {}};
}

std::string serve_usage() {
    std::string s =
        "usage: sigma-shim serve [options]\n\n"
        "Serves the deprecated VirusTotal Sigma routes, rebuilt from File and File behaviour objects,\n"
        "and passes every other /api/v3/ request through to the upstream unchanged.\n\n"
        "legacy routes ({id}: an MD5, SHA-1 or SHA-256; `sigma-shim routes` says what each answers):\n";
    for (const auto& route : sigma_analysis::legacy_routes()) {
        std::string line = "  " + std::string(route.method) + " " + std::string(route.path);
        line.append(line.size() < 58 ? 58 - line.size() : 1, ' ');
        s += line + std::string(sigma_analysis::form_name(route.form)) + "\n";
    }
    s += "\noptions (each also from the environment variable shown):\n";
    for (const auto& o : options()) {
        std::string head = "  --" + std::string(o.name);
        if (!o.placeholder.empty()) head += " " + std::string(o.placeholder);
        s += head;
        s += std::string(head.size() < 34 ? 34 - head.size() : 1, ' ');
        s += std::string(o.help) + "\n";
        s += std::string(34, ' ') + env_name(o.name);
        if (!o.default_text.empty()) s += "; default: " + std::string(o.default_text);
        s += "\n";
    }
    s += "  -h, --help                      this text\n"
         "  --print-env-defaults            the service's environment file: every variable above, commented "
         "out\n\n"
         "The API key: the client's x-apikey header is forwarded; without one, the key in the variable named "
         "by\n"
         "--api-key-env is used, else the systemd credential api-key ($CREDENTIALS_DIRECTORY/api-key); "
         "without\n"
         "any, the answer is 401 AuthenticationRequiredError.\n";
    return s;
}

std::string env_defaults() {
    std::string s =
        "# The environment of the sigma-shim service (EnvironmentFile= in sigma-shim.service), written by\n"
        "# `sigma-shim serve --print-env-defaults`: every setting of `sigma-shim serve`, commented out at "
        "its\n"
        "# default. A flag on the command line wins over its variable. Apply a change with\n"
        "# `systemctl restart sigma-shim` (requests in flight are drained first).\n"
        "#\n"
        "# The VirusTotal key does not belong here: put it in /etc/sigma-shim/api-key (owner root, mode\n"
        "# 0600), which systemd hands to the service as the credential api-key. VT_API_KEY (or the\n"
        "# variable SIGMA_SHIM_API_KEY_ENV names), when set, wins over the credential.\n";
    for (const auto& o : options()) {
        std::string help = "--" + std::string(o.name);
        if (!o.placeholder.empty()) help += " " + std::string(o.placeholder);
        s += "\n" + comment_wrapped(help + ": " + std::string(o.help));
        // A default that is a description rather than a value ("the number of cores") is said, not set.
        const bool literal = o.default_text.find(' ') == std::string_view::npos;
        if (!o.default_text.empty() && !literal) s += "# default: " + std::string(o.default_text) + "\n";
        s += "#" + env_name(o.name) + "=" + std::string(literal ? o.default_text : "") + "\n";
    }
    s += "\n# Secrets, each replacing the password in its URL (so that the URL can be set elsewhere). If you "
         "set\n"
         "# one, make this file readable by root only.\n"
         "#SIGMA_SHIM_UPSTREAM_PROXY_PASSWORD=\n"
         "#SIGMA_SHIM_REDIS_PASSWORD=\n";
    return s;
}

} // namespace shim::serve
