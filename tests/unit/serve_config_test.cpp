// The configuration of `sigma-shim serve` (shim/serve/config.hpp): defaults, flags in both spellings, the
// SIGMA_SHIM_* environment variables through the injected getenv, precedence, and the errors.
#include "serve/config.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace ts = test_support;
using shim::serve::ConfigResult;
using shim::serve::Duration;
using shim::serve::parse_serve_config;
using shim::serve::ServeConfig;
using namespace std::chrono_literals;

namespace {

using Env = std::map<std::string, std::string>;

ConfigResult parse(const std::vector<std::string>& args, const Env& env = {}) {
    const std::function<const char*(const char*)> getenv = [&env](const char* name) -> const char* {
        const auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    };
    return parse_serve_config(args, getenv);
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

std::string env_name(const std::string& flag) {
    std::string name = "SIGMA_SHIM_";
    for (char c : flag)
        name.push_back(c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c));
    return name;
}

// One flag with a good value and what it must set.
struct FlagCase {
    std::string flag;
    std::string value;
    std::function<bool(const ServeConfig&)> check;
};

// The flag as two words, or one for a switch (which takes no value: given means on).
std::vector<std::string> flag_words(const FlagCase& f) {
    if (f.flag.starts_with("allow-")) return {"--" + f.flag};
    return {"--" + f.flag, f.value};
}

const std::vector<FlagCase>& flag_cases() {
    static const std::vector<FlagCase> all = {
        {"listen", "0.0.0.0:9090",
         [](const ServeConfig& c) { return c.listen_host == "0.0.0.0" && c.listen_port == 9090; }},
        {"upstream", "http://127.0.0.1:8081",
         [](const ServeConfig& c) {
             return !c.upstream.demo && !c.upstream.tls && c.upstream.host == "127.0.0.1" &&
                    c.upstream.port == "8081" && c.upstream.origin == "http://127.0.0.1:8081";
         }},
        {"upstream-ca", ts::source_dir() + "/README.md",
         [](const ServeConfig& c) { return c.upstream_ca == ts::source_dir() + "/README.md"; }},
        {"tls-cert", ts::source_dir() + "/README.md",
         [](const ServeConfig& c) { return c.tls_cert == ts::source_dir() + "/README.md"; }},
        {"tls-key", ts::source_dir() + "/README.md",
         [](const ServeConfig& c) { return c.tls_key == ts::source_dir() + "/README.md"; }},
        {"client-tokens", ts::source_dir() + "/README.md",
         [](const ServeConfig& c) { return c.client_tokens == ts::source_dir() + "/README.md"; }},
        {"upstream-proxy", "http://ops:s%3Acret@proxy.corp:3128",
         [](const ServeConfig& c) {
             // Parsed once the upstream is known (an in-process one is never proxied).
             const auto& p = c.upstream_proxy.proxy;
             return c.upstream_proxy_url == "http://ops:s%3Acret@proxy.corp:3128" &&
                    (c.upstream.demo || (p && p->host == "proxy.corp" && p->port == "3128" &&
                                         p->user == "ops" && p->password == "s:cret"));
         }},
        {"public-base", "http://localhost:8080",
         [](const ServeConfig& c) { return c.public_base == "http://localhost:8080"; }},
        {"threads", "3", [](const ServeConfig& c) { return c.threads == 3; }},
        {"max-header-bytes", "32768", [](const ServeConfig& c) { return c.max_header_bytes == 32768; }},
        {"max-body-bytes", "0", [](const ServeConfig& c) { return c.max_body_bytes == 0; }},
        {"idle-timeout", "5s", [](const ServeConfig& c) { return c.idle_timeout == 5s; }},
        {"request-timeout", "500ms", [](const ServeConfig& c) { return c.request_timeout == 500ms; }},
        {"drain-timeout", "2m", [](const ServeConfig& c) { return c.drain_timeout == 2min; }},
        {"upstream-connections", "2", [](const ServeConfig& c) { return c.upstream_connections == 2; }},
        {"upstream-timeout", "7", [](const ServeConfig& c) { return c.upstream_timeout == 7s; }},
        {"upstream-max-body-bytes", "2048",
         [](const ServeConfig& c) { return c.upstream_max_body_bytes == 2048; }},
        {"behaviour-pages", "0", [](const ServeConfig& c) { return c.behaviour_pages == 0; }},
        {"rule-fetch-concurrency", "9", [](const ServeConfig& c) { return c.rule_fetch_concurrency == 9; }},
        {"match-context", "rule-fields",
         [](const ServeConfig& c) { return c.match_context == sigma_analysis::ContextMode::rule_fields; }},
        {"match-context-fallback", "all",
         [](const ServeConfig& c) { return c.match_context_fallback == sigma_analysis::ContextMode::all; }},
        {"api-key-env", "MY_VT_KEY", [](const ServeConfig& c) { return c.api_key_env == "MY_VT_KEY"; }},
        {"log-level", "debug",
         [](const ServeConfig& c) { return c.log_level == shim::ops::LogLevel::debug; }},
        {"cache-bytes", "1000", [](const ServeConfig& c) { return c.cache_bytes == 1000; }},
        {"cache-ttl", "2h", [](const ServeConfig& c) { return c.cache_ttl == 2h; }},
        {"negative-ttl", "30s", [](const ServeConfig& c) { return c.negative_ttl == 30s; }},
        {"rule-cache-ttl", "1h", [](const ServeConfig& c) { return c.rule_cache_ttl == 1h; }},
        {"stale-if-error", "0s", [](const ServeConfig& c) { return c.stale_if_error == 0s; }},
        {"quota-per-minute", "4", [](const ServeConfig& c) { return c.quota_per_minute == 4; }},
        {"quota-per-day", "500", [](const ServeConfig& c) { return c.quota_per_day == 500; }},
        {"quota-per-month", "15500", [](const ServeConfig& c) { return c.quota_per_month == 15500; }},
        {"quota-wait", "3s", [](const ServeConfig& c) { return c.quota_wait == 3s; }},
        {"upstream-retries", "0", [](const ServeConfig& c) { return c.upstream_retries == 0; }},
        {"record", "/tmp/sigma-shim-config-test-record",
         [](const ServeConfig& c) { return c.record_dir == "/tmp/sigma-shim-config-test-record"; }},
        {"mode", "shadow", [](const ServeConfig& c) { return c.mode == shim::serve::Mode::shadow; }},
        {"rollout-percent", "10", [](const ServeConfig& c) { return c.rollout_percent == 10; }},
        {"shadow-percent", "0", [](const ServeConfig& c) { return c.shadow_percent == 0; }},
        {"allow-mode-header", "on", [](const ServeConfig& c) { return c.allow_mode_header; }},
        {"allow-remote-clients", "on", [](const ServeConfig& c) { return c.allow_remote_clients; }},
        {"baseline", "dir:" + ts::source_dir() + "/tests/fixtures/migration/legacy",
         [](const ServeConfig& c) { return c.baseline_dir.ends_with("/tests/fixtures/migration/legacy"); }},
        {"keep-mismatches", "5", [](const ServeConfig& c) { return c.keep_mismatches == 5; }},
        {"date-tolerance", "30", [](const ServeConfig& c) { return c.date_tolerance_seconds == 30; }},
        {"compare-ignore", "data.links.self,**.rule_author",
         [](const ServeConfig& c) { return c.compare_ignore.size() == 2; }},
        {"redact", "**.match_context", [](const ServeConfig& c) { return c.redact.size() == 1; }},
        {"redis", "redis://shim:s%3Acret@10.0.0.5:6380/2",
         [](const ServeConfig& c) {
             return c.redis && c.redis->host == "10.0.0.5" && c.redis->port == 6380 && c.redis->db == 2 &&
                    c.redis->user == "shim" && c.redis->password == "s:cret";
         }},
        {"redis-timeout", "1s", [](const ServeConfig& c) { return c.redis_timeout == 1s; }},
        {"redis-max-entry-bytes", "65536",
         [](const ServeConfig& c) { return c.redis_max_entry_bytes == 65536; }},
        {"replicas", "3", [](const ServeConfig& c) { return c.replicas == 3; }},
    };
    return all;
}

} // namespace

BOOST_AUTO_TEST_SUITE(serve_config)

BOOST_AUTO_TEST_CASE(defaults) {
    const auto r = parse({});
    BOOST_TEST(r.error.empty());
    BOOST_TEST(!r.help);
    const auto& c = r.config;
    BOOST_TEST(c.listen_host == "127.0.0.1");
    BOOST_TEST(c.listen_port == 8080);
    BOOST_TEST(!c.upstream.demo);
    BOOST_TEST(c.upstream.tls);
    BOOST_TEST(c.upstream.host == "www.virustotal.com");
    BOOST_TEST(c.upstream.port == "443");
    BOOST_TEST(c.upstream.origin == "https://www.virustotal.com");
    BOOST_TEST(c.upstream_ca.empty());
    BOOST_TEST(c.public_base == "https://www.virustotal.com");
    BOOST_TEST(c.threads == std::max(1u, std::thread::hardware_concurrency()));
    BOOST_TEST(c.max_header_bytes == 16u * 1024);
    BOOST_TEST(c.max_body_bytes == 40u << 20);
    BOOST_TEST((c.idle_timeout == 60s));
    BOOST_TEST((c.request_timeout == 60s));
    BOOST_TEST((c.drain_timeout == 30s));
    BOOST_TEST(c.upstream_connections == 16u);
    BOOST_TEST((c.upstream_timeout == 30s));
    BOOST_TEST(c.upstream_max_body_bytes == 64u << 20);
    BOOST_TEST(c.behaviour_pages == 5u);
    BOOST_TEST(c.rule_fetch_concurrency == 4u);
    BOOST_TEST((c.match_context == sigma_analysis::ContextMode::all));
    BOOST_TEST(c.api_key_env == "VT_API_KEY");
    BOOST_TEST((c.log_level == shim::ops::LogLevel::info));
    BOOST_TEST(c.redis_url_text.empty());
    BOOST_TEST(!c.redis);
    BOOST_TEST((c.redis_timeout == 250ms));
    BOOST_TEST(c.redis_max_entry_bytes == 4u << 20);
    BOOST_TEST(c.replicas == 1u);
}

BOOST_AUTO_TEST_CASE(every_flag_with_a_separate_value) {
    for (const auto& f : flag_cases()) {
        BOOST_TEST_CONTEXT("--" << f.flag << " " << f.value) {
            const auto r = parse(flag_words(f));
            BOOST_TEST(r.error.empty(), r.error);
            BOOST_TEST(f.check(r.config));
        }
    }
}

BOOST_AUTO_TEST_CASE(every_flag_with_an_equals_sign) {
    for (const auto& f : flag_cases()) {
        BOOST_TEST_CONTEXT("--" << f.flag << "=" << f.value) {
            const auto r = parse({"--" + f.flag + "=" + f.value});
            BOOST_TEST(r.error.empty(), r.error);
            BOOST_TEST(f.check(r.config));
        }
    }
}

BOOST_AUTO_TEST_CASE(every_flag_from_its_environment_variable) {
    for (const auto& f : flag_cases()) {
        BOOST_TEST_CONTEXT(env_name(f.flag) << "=" << f.value) {
            const auto r = parse({}, {{env_name(f.flag), f.value}});
            BOOST_TEST(r.error.empty(), r.error);
            BOOST_TEST(f.check(r.config));
        }
    }
}

BOOST_AUTO_TEST_CASE(named_environment_variables) {
    const auto r = parse({}, {{"SIGMA_SHIM_LISTEN", "127.0.0.1:9999"},
                              {"SIGMA_SHIM_UPSTREAM_TIMEOUT", "1500ms"},
                              {"SIGMA_SHIM_UPSTREAM", "demo"},
                              {"SIGMA_SHIM_MATCH_CONTEXT", "rule-fields"},
                              {"SIGMA_SHIM_BEHAVIOUR_PAGES", "2"},
                              {"SIGMA_SHIM_UPSTREAM_MAX_BODY_BYTES", "4096"},
                              {"SIGMA_SHIM_API_KEY_ENV", "OTHER_KEY"},
                              {"VT_API_KEY", "not-a-config-variable"},
                              {"LISTEN", "1.1.1.1:1"}});
    BOOST_TEST(r.error.empty(), r.error);
    BOOST_TEST(r.config.listen_host == "127.0.0.1");
    BOOST_TEST(r.config.listen_port == 9999);
    BOOST_TEST((r.config.upstream_timeout == 1500ms));
    BOOST_TEST(r.config.upstream.demo);
    BOOST_TEST((r.config.match_context == sigma_analysis::ContextMode::rule_fields));
    BOOST_TEST(r.config.behaviour_pages == 2u);
    BOOST_TEST(r.config.upstream_max_body_bytes == 4096u);
    BOOST_TEST(r.config.api_key_env == "OTHER_KEY");
}

BOOST_AUTO_TEST_CASE(empty_environment_variable_is_ignored) {
    const auto r = parse({}, {{"SIGMA_SHIM_LISTEN", ""}, {"SIGMA_SHIM_THREADS", ""}});
    BOOST_TEST(r.error.empty(), r.error);
    BOOST_TEST(r.config.listen_port == 8080);
}

BOOST_AUTO_TEST_CASE(a_flag_beats_its_environment_variable) {
    for (const auto& f : flag_cases()) {
        BOOST_TEST_CONTEXT("--" << f.flag) {
            // The environment says the default-ish other thing; the flag's value must win.
            const Env env = {{env_name("listen"), "127.0.0.1:1111"},
                             {env_name("upstream"), "demo"},
                             {env_name("upstream-ca"), ts::source_dir() + "/CMakeLists.txt"},
                             {env_name("public-base"), "https://other.example"},
                             {env_name("threads"), "7"},
                             {env_name("max-header-bytes"), "2048"},
                             {env_name("max-body-bytes"), "5"},
                             {env_name("idle-timeout"), "9s"},
                             {env_name("request-timeout"), "9s"},
                             {env_name("drain-timeout"), "9s"},
                             {env_name("upstream-connections"), "7"},
                             {env_name("upstream-timeout"), "9s"},
                             {env_name("upstream-max-body-bytes"), "4096"},
                             {env_name("behaviour-pages"), "7"},
                             {env_name("rule-fetch-concurrency"), "7"},
                             {env_name("match-context"), "all"},
                             {env_name("match-context-fallback"), "rule-fields"},
                             {env_name("api-key-env"), "ENV_KEY"},
                             {env_name("log-level"), "error"}};
            const auto r = parse(flag_words(f), env);
            BOOST_TEST(r.error.empty(), r.error);
            BOOST_TEST(f.check(r.config));
        }
    }
    const auto r = parse({"--upstream-timeout=2s"}, {{"SIGMA_SHIM_UPSTREAM_TIMEOUT", "9s"}});
    BOOST_TEST((r.config.upstream_timeout == 2s));
}

BOOST_AUTO_TEST_CASE(a_flag_overrides_a_bad_environment_variable) {
    const auto r = parse({"--listen", "127.0.0.1:1"}, {{"SIGMA_SHIM_LISTEN", "bogus"}});
    BOOST_TEST(r.error.empty(), r.error);
    BOOST_TEST(r.config.listen_port == 1);
}

BOOST_AUTO_TEST_CASE(ipv6_and_upper_case_upstreams) {
    const auto v6 = parse({"--upstream", "https://[::1]:8443"});
    BOOST_TEST(v6.error.empty(), v6.error);
    BOOST_TEST(v6.config.upstream.host == "::1"); // brackets only in the Host header and the origin
    BOOST_TEST(v6.config.upstream.port == "8443");
    BOOST_TEST(v6.config.upstream.origin == "https://[::1]:8443");
    const auto upper = parse({"--upstream", "HTTPS://Example.COM"});
    BOOST_TEST(upper.error.empty(), upper.error);
    BOOST_TEST(upper.config.upstream.tls);
    BOOST_TEST(!parse({"--upstream-ca", "/tmp"}).error.empty()); // a folder is not a certificate file
}

BOOST_AUTO_TEST_CASE(the_last_flag_wins) {
    const auto r = parse({"--threads", "2", "--threads=5"});
    BOOST_TEST(r.error.empty());
    BOOST_TEST(r.config.threads == 5u);
}

BOOST_AUTO_TEST_CASE(help) {
    for (const std::string flag : {"-h", "--help"}) {
        const auto r = parse({flag});
        BOOST_TEST(r.help, flag);
        BOOST_TEST(r.error.empty());
    }
}

BOOST_AUTO_TEST_CASE(errors) {
    const std::vector<std::vector<std::string>> cases = {
        {"--listen", "nonsense"},
        {"--listen", "1.2.3.4:99999"},
        {"--listen", "1.2.3.4:-1"},
        {"--listen", "1.2.3.4:"},
        {"--listen", "1.2.3.4"},
        {"--listen", ":8080"},
        {"--listen", "host.example:80"},
        {"--listen", "999.1.1.1:80"},
        {"--listen="},
        {"--upstream", "ftp://x"},
        {"--upstream", "https://x/path"},
        {"--upstream", "https://x?q=1"},
        {"--upstream", "https://x#frag"},
        {"--upstream", "https://user@x"},
        {"--upstream", "x.example"},
        {"--upstream", ""},
        {"--upstream-ca", "/nonexistent"},
        {"--public-base", "demo"},
        {"--public-base", "https://x/path"},
        {"--match-context", "bogus"},
        {"--match-context", "calibrated:"},
        {"--match-context", "calibrated:/nonexistent/FIELDS.json"},
        {"--match-context-fallback", "calibrated"},
        {"--threads", "0"},
        {"--threads", "257"},
        {"--threads", "-1"},
        {"--threads", "two"},
        {"--max-header-bytes", "100"},
        {"--upstream-connections", "0"},
        {"--rule-fetch-concurrency", "0"},
        {"--behaviour-pages", "101"},
        {"--idle-timeout", "5x"},
        {"--idle-timeout", "0"},
        {"--idle-timeout", "0ms"},
        {"--idle-timeout", ""},
        {"--request-timeout", "1.5s"},
        {"--drain-timeout", "-1s"},
        {"--upstream-timeout", "s"},
        {"--log-level", "loud"},
        {"--api-key-env", ""},
        {"--bogus", "1"},
        {"--bogus"},
        {"-x"},
        {"listen"},
        {"--"},
        {"--help=yes"},
        {"--listen"},
        {"--threads", "2", "--upstream-timeout"},
    };
    for (const auto& args : cases) {
        std::string shown;
        for (const auto& a : args)
            shown += "'" + a + "' ";
        BOOST_TEST_CONTEXT(shown) {
            const auto r = parse(args);
            BOOST_TEST(!r.error.empty());
            BOOST_TEST(!contains(r.error, "\n"));
        }
    }
}

BOOST_AUTO_TEST_CASE(error_messages_name_the_option) {
    BOOST_TEST(contains(parse({"--listen", "nonsense"}).error, "--listen"));
    BOOST_TEST(contains(parse({"--threads=0"}).error, "--threads"));
    BOOST_TEST(contains(parse({"--bogus"}).error, "--bogus"));
    BOOST_TEST(contains(parse({"--listen"}).error, "--listen"));
    const auto env = parse({}, {{"SIGMA_SHIM_IDLE_TIMEOUT", "5x"}});
    BOOST_TEST(contains(env.error, "SIGMA_SHIM_IDLE_TIMEOUT"), env.error);
}

BOOST_AUTO_TEST_CASE(upstream_forms) {
    const auto demo = parse({"--upstream", "demo"});
    BOOST_TEST(demo.error.empty());
    BOOST_TEST(demo.config.upstream.demo);

    const auto plain = parse({"--upstream", "http://127.0.0.1:8081"});
    BOOST_TEST(plain.error.empty(), plain.error);
    BOOST_TEST(!plain.config.upstream.demo);
    BOOST_TEST(!plain.config.upstream.tls);
    BOOST_TEST(plain.config.upstream.host == "127.0.0.1");
    BOOST_TEST(plain.config.upstream.port == "8081");
    BOOST_TEST(plain.config.upstream.origin == "http://127.0.0.1:8081");

    const auto http_default = parse({"--upstream=http://vt.internal"});
    BOOST_TEST(http_default.error.empty());
    BOOST_TEST(http_default.config.upstream.port == "80");
    BOOST_TEST(http_default.config.upstream.origin == "http://vt.internal");

    const auto https_port = parse({"--upstream=https://vt.internal:8443/"});
    BOOST_TEST(https_port.error.empty(), https_port.error);
    BOOST_TEST(https_port.config.upstream.tls);
    BOOST_TEST(https_port.config.upstream.host == "vt.internal");
    BOOST_TEST(https_port.config.upstream.port == "8443");
    BOOST_TEST(https_port.config.upstream.origin == "https://vt.internal:8443"); // no trailing slash

    // A demo upstream does not change the public base: links still name VirusTotal.
    BOOST_TEST(demo.config.public_base == "https://www.virustotal.com");
}

// The port of an upstream must be one a socket can use. "https://x:" has an empty port and "https://x:99999"
// one out of range; both parse as URLs, so parse_upstream must check the port itself.
BOOST_AUTO_TEST_CASE(upstream_port_must_be_usable) {
    for (const std::string value : {"https://x:", "https://x:99999", "http://127.0.0.1:65536"}) {
        BOOST_TEST_CONTEXT(value) {
            const auto r = parse({"--upstream", value});
            BOOST_TEST(!r.error.empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(durations) {
    struct Case {
        std::string text;
        Duration want;
    };
    for (const auto& c : std::vector<Case>{
             {"500ms", 500ms}, {"2s", 2s}, {"3m", 3min}, {"7", 7s}, {"0", 0s}, {"90", 90s}, {"1ms", 1ms},
             {"8760h", 8760h}, {"525600m", 8760h}}) {
        BOOST_TEST_CONTEXT(c.text) {
            Duration d{};
            BOOST_TEST(shim::serve::parse_duration(c.text, d));
            BOOST_TEST(d.count() == c.want.count());
        }
    }
    for (const std::string bad :
         {"", "ms", "s", "5x", "-1", "1.5s", " 2s", "2s ", "2 s", "2sec", "1e3", "2S", "8761h", "3000000h",
          "86400000h", "31536001s"}) {
        BOOST_TEST_CONTEXT("'" << bad << "'") {
            Duration d{123};
            BOOST_TEST(!shim::serve::parse_duration(bad, d));
        }
    }
    // Through the flags too.
    const auto r = parse({"--idle-timeout", "500ms", "--request-timeout=2s", "--drain-timeout", "3m",
                          "--upstream-timeout", "7"});
    BOOST_TEST(r.error.empty(), r.error);
    BOOST_TEST(r.config.idle_timeout.count() == 500);
    BOOST_TEST(r.config.request_timeout.count() == 2000);
    BOOST_TEST(r.config.drain_timeout.count() == 180000);
    BOOST_TEST(r.config.upstream_timeout.count() == 7000);
    // Past a year is refused with the flag's one line, not wrapped round in the clock's nanoseconds later.
    const auto too_long = parse({"--request-timeout", "3000000h"});
    BOOST_TEST(too_long.error.find("at most 8760h") != std::string::npos, too_long.error);
}

BOOST_AUTO_TEST_CASE(listen_forms) {
    const auto v6 = parse({"--listen", "[::1]:8080"});
    BOOST_TEST(v6.error.empty(), v6.error);
    BOOST_TEST(v6.config.listen_host == "::1");
    BOOST_TEST(v6.config.listen_port == 8080);

    const auto any6 = parse({"--listen=[::]:0"});
    BOOST_TEST(any6.error.empty(), any6.error);
    BOOST_TEST(any6.config.listen_host == "::");
    BOOST_TEST(any6.config.listen_port == 0);

    const auto local = parse({"--listen", "localhost:8080"});
    BOOST_TEST(local.error.empty(), local.error);
    BOOST_TEST(local.config.listen_host == "127.0.0.1");
    BOOST_TEST(local.config.listen_port == 8080);

    const auto any = parse({"--listen", "0.0.0.0:0"});
    BOOST_TEST(any.error.empty());
    BOOST_TEST(any.config.listen_host == "0.0.0.0");
    BOOST_TEST(any.config.listen_port == 0);

    const auto top = parse({"--listen", "10.0.0.1:65535"});
    BOOST_TEST(top.error.empty());
    BOOST_TEST(top.config.listen_port == 65535);

    // A failed --listen leaves nothing half-applied.
    const auto failed = parse({"--listen", "1.2.3.4:99999"});
    BOOST_TEST(!failed.error.empty());
    BOOST_TEST(failed.config.listen_host == "127.0.0.1");
}

BOOST_AUTO_TEST_CASE(usage_names_every_flag_and_variable) {
    const std::string usage = shim::serve::serve_usage();
    std::vector<std::string> flags;
    for (const auto& f : flag_cases())
        flags.push_back(f.flag);
    BOOST_TEST(flags.size() == 48u);
    for (const auto& flag : flags) {
        BOOST_TEST(contains(usage, "--" + flag + " "), flag);
        BOOST_TEST(contains(usage, env_name(flag)), env_name(flag));
    }
    BOOST_TEST(contains(usage, "--help"));
    BOOST_TEST(contains(usage, "-h"));
    // Every SIGMA_SHIM_ name the usage shows is one of ours (no stale variable names).
    for (std::size_t at = usage.find("SIGMA_SHIM_"); at != std::string::npos;
         at = usage.find("SIGMA_SHIM_", at + 1)) {
        const auto end = usage.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_", at);
        const std::string name = usage.substr(at, end - at);
        const bool known =
            name == "SIGMA_SHIM_REDIS_PASSWORD" || // a secret, not a flag: named in --redis's help
            std::any_of(flags.begin(), flags.end(), [&](const auto& f) { return env_name(f) == name; });
        BOOST_TEST(known, name);
    }
    // And every flag and variable the usage shows is accepted.
    for (const auto& f : flag_cases()) {
        BOOST_TEST(parse(flag_words(f)).error.empty(), f.flag);
    }
}

BOOST_AUTO_TEST_CASE(a_server_side_key_stays_on_loopback_unless_allowed) {
    using shim::serve::exposure_error;
    for (const char* listen : {"127.0.0.1:8080", "localhost:0", "[::1]:8080", "127.0.0.2:1"}) {
        const auto c = parse({"--listen", listen}).config;
        BOOST_TEST(exposure_error(c, "VT_API_KEY").empty(), listen);
    }
    for (const char* listen : {"0.0.0.0:8080", "[::]:8080", "10.1.2.3:8080"}) {
        auto c = parse({"--listen", listen}).config;
        BOOST_TEST(contains(exposure_error(c, "VT_API_KEY"), "--allow-remote-clients"), listen);
        BOOST_TEST(contains(exposure_error(c, "credential api-key"), "(credential api-key)"), listen);
        BOOST_TEST(exposure_error(c, "").empty(), listen); // each client brings its own key
        c.allow_remote_clients = true;
        BOOST_TEST(exposure_error(c, "VT_API_KEY").empty(), listen);
    }
}

BOOST_AUTO_TEST_CASE(client_tokens_let_a_server_side_key_listen_anywhere_and_need_one) {
    using shim::serve::exposure_error;
    auto c = parse({"--listen", "0.0.0.0:8443", "--client-tokens", ts::source_dir() + "/README.md"}).config;
    BOOST_TEST(exposure_error(c, "VT_API_KEY").empty()); // only token holders spend the key
    BOOST_TEST(contains(exposure_error(c, ""), "--client-tokens needs a server-side key"));
    c.upstream.demo = true; // the demo upstream needs no key
    BOOST_TEST(exposure_error(c, "").empty());
}

namespace {

// A credentials folder as systemd's LoadCredential= makes one; removed at the end of the test.
struct CredentialsDir {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("sigma-shim-credentials-" + std::to_string(::getpid()));
    CredentialsDir() { std::filesystem::create_directories(path); }
    ~CredentialsDir() { std::filesystem::remove_all(path); }
    void write(const std::string& key) const { std::ofstream(path / "api-key", std::ios::binary) << key; }
};

shim::serve::ServerKey server_key(const ServeConfig& config, const Env& env) {
    return shim::serve::find_server_key(config, [&env](const char* name) -> const char* {
        const auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    });
}

} // namespace

BOOST_AUTO_TEST_CASE(the_server_key_comes_from_the_variable_else_the_systemd_credential) {
    const CredentialsDir credentials;
    credentials.write("0123456789abcdef\n"); // as `echo KEY > /etc/sigma-shim/api-key` leaves it
    const Env both = {{"VT_API_KEY", "from-variable"}, {"CREDENTIALS_DIRECTORY", credentials.path.string()}};
    const auto config = parse({}).config;

    auto key = server_key(config, both);
    BOOST_TEST(key.key == "from-variable");
    BOOST_TEST(key.source == "VT_API_KEY");

    // An empty variable is no key: the credential is next.
    key = server_key(config, {{"VT_API_KEY", ""}, {"CREDENTIALS_DIRECTORY", credentials.path.string()}});
    BOOST_TEST(key.key == "0123456789abcdef");
    BOOST_TEST(key.source == "credential api-key");
    BOOST_TEST(key.error.empty());

    // --api-key-env names the variable that wins; VT_API_KEY is then nothing special.
    const auto renamed = parse({"--api-key-env", "MY_KEY"}).config;
    key = server_key(renamed, both);
    BOOST_TEST(key.key == "0123456789abcdef");
    key = server_key(renamed, {{"MY_KEY", "mine"}, {"CREDENTIALS_DIRECTORY", credentials.path.string()}});
    BOOST_TEST(key.key == "mine");
    BOOST_TEST(key.source == "MY_KEY");

    // No variable, no credentials folder, or one without api-key, or an empty api-key: no server-side key.
    for (const Env& env : {Env{}, Env{{"CREDENTIALS_DIRECTORY", "/nonexistent/credentials"}}}) {
        key = server_key(config, env);
        BOOST_TEST(key.key.empty());
        BOOST_TEST(key.source.empty());
        BOOST_TEST(key.error.empty());
    }
    credentials.write("\r\n");
    key = server_key(config, {{"CREDENTIALS_DIRECTORY", credentials.path.string()}});
    BOOST_TEST(key.key.empty());
    BOOST_TEST(key.error.empty());

    // There, but not a file that can be read: start-up stops, naming the path and never a key.
    std::filesystem::remove(credentials.path / "api-key");
    std::filesystem::create_directory(credentials.path / "api-key");
    key = server_key(config, {{"CREDENTIALS_DIRECTORY", credentials.path.string()}});
    BOOST_TEST(key.key.empty());
    BOOST_TEST(contains(key.error, "credential api-key"), key.error);
}

BOOST_AUTO_TEST_CASE(the_environment_file_names_every_variable_at_its_default) {
    const std::string file = shim::serve::env_defaults();
    // Every line is a comment: installed as it is, the file changes nothing.
    std::istringstream lines(file);
    Env uncommented;
    for (std::string line; std::getline(lines, line);) {
        BOOST_TEST((line.empty() || line.front() == '#'), line);
        if (line.starts_with("#SIGMA_SHIM_")) {
            const auto eq = line.find('=');
            BOOST_TEST_REQUIRE(eq != std::string::npos, line);
            uncommented[line.substr(1, eq - 1)] = line.substr(eq + 1);
        }
    }
    for (const auto& f : flag_cases())
        BOOST_TEST(uncommented.count(env_name(f.flag)) == 1u, env_name(f.flag));
    BOOST_TEST(uncommented.count("SIGMA_SHIM_REDIS_PASSWORD") == 1u);
    BOOST_TEST(uncommented.count("SIGMA_SHIM_UPSTREAM_PROXY_PASSWORD") == 1u);
    BOOST_TEST(uncommented.size() == flag_cases().size() + 2);
    BOOST_TEST(uncommented["SIGMA_SHIM_LISTEN"] == "127.0.0.1:8080");
    BOOST_TEST(uncommented["SIGMA_SHIM_DRAIN_TIMEOUT"] == "30s");
    BOOST_TEST(uncommented["SIGMA_SHIM_API_KEY_ENV"] == "VT_API_KEY");
    BOOST_TEST(uncommented["SIGMA_SHIM_THREADS"].empty()); // "the number of cores" is said, not set

    // Uncommented, each value is accepted and is the default: the file says what the program does.
    const auto r = parse({}, uncommented);
    BOOST_TEST(r.error.empty(), r.error);
    const auto defaults = parse({}).config;
    BOOST_TEST(r.config.listen_host == defaults.listen_host);
    BOOST_TEST(r.config.listen_port == defaults.listen_port);
    BOOST_TEST(r.config.upstream.origin == defaults.upstream.origin);
    BOOST_TEST(r.config.drain_timeout.count() == defaults.drain_timeout.count());
    BOOST_TEST(r.config.cache_bytes == defaults.cache_bytes);
    BOOST_TEST(r.config.cache_ttl.count() == defaults.cache_ttl.count());
    BOOST_TEST(r.config.redis_timeout.count() == defaults.redis_timeout.count());
    BOOST_TEST(r.config.keep_mismatches == defaults.keep_mismatches);
    BOOST_TEST(r.config.allow_remote_clients == defaults.allow_remote_clients);
    BOOST_TEST((r.config.mode == defaults.mode));

    BOOST_TEST(parse({"--print-env-defaults"}).print_env_defaults);
}

BOOST_AUTO_TEST_CASE(the_upstream_proxy_is_chosen_once_the_upstream_is_known) {
    // The variable for the upstream's scheme; the flag over the variables; SIGMA_SHIM_UPSTREAM_PROXY over
    // them.
    auto r = parse({}, {{"HTTPS_PROXY", "http://10.0.0.1:3128"}, {"HTTP_PROXY", "http://10.0.0.2:3128"}});
    BOOST_TEST(r.error.empty(), r.error);
    BOOST_TEST(r.config.upstream_proxy.proxy->host == "10.0.0.1");
    BOOST_TEST(r.config.upstream_proxy.reason == "HTTPS_PROXY");
    r = parse({"--upstream", "http://127.0.0.1:8081"}, {{"HTTPS_PROXY", "http://10.0.0.1:3128"}});
    BOOST_TEST(!r.config.upstream_proxy.proxy);
    BOOST_TEST(r.config.upstream_proxy.reason == "no proxy variable is set");
    r = parse({"--upstream-proxy", "10.0.0.3:8080"}, {{"HTTPS_PROXY", "http://10.0.0.1:3128"}});
    BOOST_TEST(r.config.upstream_proxy.proxy->host == "10.0.0.3");
    BOOST_TEST(r.config.upstream_proxy.reason == "--upstream-proxy");
    r = parse({}, {{"SIGMA_SHIM_UPSTREAM_PROXY", "none"}, {"HTTPS_PROXY", "http://10.0.0.1:3128"}});
    BOOST_TEST(!r.config.upstream_proxy.proxy);
    BOOST_TEST(r.config.upstream_proxy.reason == "SIGMA_SHIM_UPSTREAM_PROXY none");
    r = parse({"--upstream", "demo"},
              {{"HTTPS_PROXY", "http://10.0.0.1:3128"}, {"HTTP_PROXY", "http://x:1"}});
    BOOST_TEST(!r.config.upstream_proxy.proxy);
    BOOST_TEST(r.config.upstream_proxy.reason == "the upstream is in-process");
    r = parse({}, {{"HTTPS_PROXY", "http://10.0.0.1:3128"}, {"NO_PROXY", ".virustotal.com"}});
    BOOST_TEST(!r.config.upstream_proxy.proxy);
    BOOST_TEST(r.config.upstream_proxy.reason == "NO_PROXY matches .virustotal.com");
}

BOOST_AUTO_TEST_CASE(a_bad_proxy_url_is_refused_without_quoting_it) {
    for (const auto& [args, env] : std::vector<std::pair<std::vector<std::string>, Env>>{
             {{"--upstream-proxy", "socks5://ops:hunter2@10.0.0.1:1080"}, {}},
             {{"--upstream-proxy=http://ops:hunter2@10.0.0.1:notaport"}, {}},
             {{}, {{"HTTPS_PROXY", "http://ops:hunter2@10.0.0.1:3128/some/path"}}},
             {{}, {{"SIGMA_SHIM_UPSTREAM_PROXY", "https://ops:hunter2@10.0.0.1:3128"}}},
         }) {
        const auto r = parse(args, env);
        BOOST_TEST(!r.error.empty());
        BOOST_TEST(!contains(r.error, "hunter2"), r.error);
        BOOST_TEST((contains(r.error, "--upstream-proxy") || contains(r.error, "PROXY")), r.error);
    }
    // A password variable with no user to go with it is a mistake, said at start-up.
    const auto r = parse({"--upstream-proxy", "http://10.0.0.1:3128"},
                         {{"SIGMA_SHIM_UPSTREAM_PROXY_PASSWORD", "hunter2"}});
    BOOST_TEST(contains(r.error, "names no user"), r.error);
    BOOST_TEST(!contains(r.error, "hunter2"), r.error);
}

BOOST_AUTO_TEST_CASE(redis_urls_and_the_password_variable) {
    auto r = parse({"--redis", "unix:///run/redis/redis.sock?db=3"});
    BOOST_TEST(r.error.empty(), r.error);
    BOOST_TEST((r.config.redis->transport == shim::redis::RedisUrl::Transport::unix_socket));
    BOOST_TEST(r.config.redis->socket_path == "/run/redis/redis.sock");
    BOOST_TEST(r.config.redis->db == 3u);
    r = parse({}, {{"SIGMA_SHIM_REDIS", "redis://127.0.0.1:6379/0"}});
    BOOST_TEST(r.config.redis->port == 6379);
    BOOST_TEST(r.config.redis->password.empty());
    // The variable replaces the URL's password, or adds one.
    r = parse({"--redis", "redis://:old@127.0.0.1:6379"}, {{"SIGMA_SHIM_REDIS_PASSWORD", "hunter2"}});
    BOOST_TEST(r.error.empty(), r.error);
    BOOST_TEST(r.config.redis->password == "hunter2");
    BOOST_TEST(!contains(r.config.redis->display(), "hunter2"), r.config.redis->display());
    r = parse({"--redis", "redis://127.0.0.1"}, {{"SIGMA_SHIM_REDIS_PASSWORD", "hunter2"}});
    BOOST_TEST(r.config.redis->password == "hunter2");
    // Without --redis the variable configures nothing.
    r = parse({}, {{"SIGMA_SHIM_REDIS_PASSWORD", "hunter2"}});
    BOOST_TEST(r.error.empty(), r.error);
    BOOST_TEST(!r.config.redis);
}

BOOST_AUTO_TEST_CASE(a_bad_redis_url_is_refused_without_quoting_it) {
    for (const auto& [args, env] : std::vector<std::pair<std::vector<std::string>, Env>>{
             {{"--redis", "rediss://ops:hunter2@10.0.0.1:6379"}, {}},
             {{"--redis=redis://ops:hunter2@10.0.0.1:notaport"}, {}},
             {{"--redis", "redis://ops:hunter2@10.0.0.1:6379/hunter2"}, {}},
             {{}, {{"SIGMA_SHIM_REDIS", "http://ops:hunter2@10.0.0.1"}}},
             {{}, {{"SIGMA_SHIM_REDIS", "hunter2"}}},
         }) {
        const auto r = parse(args, env);
        BOOST_TEST(!r.error.empty());
        BOOST_TEST(!contains(r.error, "hunter2"), r.error);
        BOOST_TEST((contains(r.error, "--redis") || contains(r.error, "SIGMA_SHIM_REDIS")), r.error);
    }
    BOOST_TEST(contains(parse({"--replicas", "0"}).error, "--replicas"));
    BOOST_TEST(contains(parse({"--redis-timeout", "0ms"}).error, "--redis-timeout"));
}

BOOST_AUTO_TEST_SUITE_END()
