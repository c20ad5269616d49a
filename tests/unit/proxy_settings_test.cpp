// The forward-proxy rules (shim/upstream/proxy_settings.hpp): proxy URLs, NO_PROXY as curl reads it, and
// which variable wins.
#include "upstream/proxy_settings.hpp"

#include <boost/test/unit_test.hpp>
#include <map>
#include <string>

using shim::upstream::choose_proxy;
using shim::upstream::no_proxy_match;
using shim::upstream::parse_proxy_url;
using shim::upstream::ProxyRequest;

namespace {

using Env = std::map<std::string, std::string>;

shim::upstream::EnvLookup lookup(const Env& env) {
    return [&env](const char* name) -> const char* {
        const auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    };
}

ProxyRequest to_virustotal() {
    return {"", "", false, true, "www.virustotal.com", "443"};
}

} // namespace

BOOST_AUTO_TEST_SUITE(proxy_settings)

BOOST_AUTO_TEST_CASE(proxy_urls) {
    std::string error;
    auto p = parse_proxy_url("http://ops%20team:p%40ss%3Aw0rd@proxy.corp:3128/", error);
    BOOST_REQUIRE(p);
    BOOST_TEST(p->host == "proxy.corp");
    BOOST_TEST(p->port == "3128");
    BOOST_TEST(p->user == "ops team");
    BOOST_TEST(p->password == "p@ss:w0rd");
    BOOST_TEST(p->display() == "http://ops team:***@proxy.corp:3128");
    BOOST_TEST(p->authorization() == "Basic b3BzIHRlYW06cEBzczp3MHJk"); // base64("ops team:p@ss:w0rd")

    p = parse_proxy_url("proxy.corp", error); // no scheme: http://, and curl's default port
    BOOST_REQUIRE(p);
    BOOST_TEST(p->authority() == "proxy.corp:1080");
    BOOST_TEST(p->display() == "http://proxy.corp:1080");
    BOOST_TEST(p->authorization().empty());

    p = parse_proxy_url("http://[::1]:8080", error);
    BOOST_REQUIRE(p);
    BOOST_TEST(p->host == "::1");
    BOOST_TEST(p->authority() == "[::1]:8080");

    p = parse_proxy_url("http://user@10.0.0.1:3128", error); // a user with an empty password
    BOOST_REQUIRE(p);
    BOOST_TEST(p->authorization() == "Basic dXNlcjo="); // base64("user:")

    for (const char* bad : {"https://u:secret@proxy:443", "socks5://proxy:1080", "http://u:secret@proxy:0",
                            "http://u:secret@proxy:99999", "http://u:secret@proxy:3128/path", "http://:3128",
                            "http://u:secret@proxy:3128?x=1"}) {
        error.clear();
        BOOST_TEST(!parse_proxy_url(bad, error), bad);
        BOOST_TEST(!error.empty(), bad);
        BOOST_TEST(error.find("secret") == std::string::npos, error);
    }
}

BOOST_AUTO_TEST_CASE(no_proxy_entries) {
    struct Case {
        const char* list;
        const char* host;
        const char* port;
        const char* match; // nullptr: no match
    };
    for (const auto& c : std::initializer_list<Case>{
             {"*", "www.virustotal.com", "443", "*"},
             {"localhost, *", "www.virustotal.com", "443", "*"},
             {"virustotal.com", "www.virustotal.com", "443", "virustotal.com"},
             {".virustotal.com", "www.virustotal.com", "443", ".virustotal.com"},
             {".virustotal.com", "virustotal.com", "443", ".virustotal.com"},
             {"*.virustotal.com", "www.virustotal.com", "443", "*.virustotal.com"},
             {"VirusTotal.COM", "WWW.virustotal.com", "443", "VirusTotal.COM"},
             {"virustotal.com.", "www.virustotal.com", "443", "virustotal.com."},
             {"total.com", "www.virustotal.com", "443", nullptr}, // a suffix, but not a domain of it
             {"www.virustotal.com.evil", "www.virustotal.com", "443", nullptr},
             {"example.com,,  virustotal.com", "www.virustotal.com", "443", "virustotal.com"},
             {"example.com virustotal.com", "www.virustotal.com", "443", "virustotal.com"},
             {"www.virustotal.com:443", "www.virustotal.com", "443", "www.virustotal.com:443"},
             {"www.virustotal.com:8443", "www.virustotal.com", "443", nullptr},
             {"127.0.0.1", "127.0.0.1", "8443", "127.0.0.1"},
             {"127.0.0.2", "127.0.0.1", "8443", nullptr},
             {"127.0.0.0/8", "127.9.9.9", "8443", "127.0.0.0/8"},
             {"10.0.0.0/8", "127.0.0.1", "8443", nullptr},
             {"192.168.1.0/23", "192.168.0.77", "443", "192.168.1.0/23"},
             {"192.168.1.0/24", "192.168.0.77", "443", nullptr},
             {"0.0.0.0/0", "8.8.8.8", "443", "0.0.0.0/0"},
             {"::1", "::1", "443", "::1"},
             {"[::1]", "::1", "443", "[::1]"},
             {"fd00::/8", "fd12:3456::1", "443", "fd00::/8"},
             {"fd00::/8", "fe80::1", "443", nullptr},
             {"127.0.0.1", "localhost", "443", nullptr}, // names are not resolved
             {"", "www.virustotal.com", "443", nullptr},
             {".", "www.virustotal.com", "443", nullptr},
         }) {
        BOOST_TEST_CONTEXT("NO_PROXY=" << c.list << " host " << c.host) {
            const auto m = no_proxy_match(c.list, c.host, c.port);
            BOOST_TEST(m.has_value() == (c.match != nullptr));
            if (m && c.match) BOOST_TEST(*m == c.match);
        }
    }
}

BOOST_AUTO_TEST_CASE(which_variable_wins) {
    std::string error;
    // Lower case before upper case, the scheme's variable before all_proxy.
    Env env{
        {"HTTPS_PROXY", "http://upper:1"}, {"https_proxy", "http://lower:1"}, {"ALL_PROXY", "http://all:1"}};
    auto c = choose_proxy(to_virustotal(), lookup(env), error);
    BOOST_TEST(c.proxy->host == "lower");
    BOOST_TEST(c.reason == "https_proxy");
    env.erase("https_proxy");
    c = choose_proxy(to_virustotal(), lookup(env), error);
    BOOST_TEST(c.reason == "HTTPS_PROXY");
    env.erase("HTTPS_PROXY");
    c = choose_proxy(to_virustotal(), lookup(env), error);
    BOOST_TEST(c.reason == "ALL_PROXY");
    BOOST_TEST(c.proxy->host == "all");

    // An http:// upstream reads http_proxy and HTTP_PROXY, never HTTPS_PROXY.
    auto plain = to_virustotal();
    plain.tls = false;
    plain.port = "80";
    c = choose_proxy(plain, lookup({{"HTTPS_PROXY", "http://s:1"}}), error);
    BOOST_TEST(!c.proxy);
    BOOST_TEST(c.reason == "no proxy variable is set");
    c = choose_proxy(plain, lookup({{"HTTPS_PROXY", "http://s:1"}, {"HTTP_PROXY", "http://p:1"}}), error);
    BOOST_TEST(c.proxy->host == "p");

    // The configured proxy wins, "none" goes direct, and an empty variable is no variable.
    auto configured = to_virustotal();
    configured.configured = "http://flag:1";
    configured.configured_source = "--upstream-proxy";
    c = choose_proxy(configured, lookup({{"https_proxy", "http://env:1"}}), error);
    BOOST_TEST(c.proxy->host == "flag");
    BOOST_TEST(c.reason == "--upstream-proxy");
    configured.configured = "none";
    c = choose_proxy(configured, lookup({{"https_proxy", "http://env:1"}}), error);
    BOOST_TEST(!c.proxy);
    BOOST_TEST(c.reason == "--upstream-proxy none");
    c = choose_proxy(to_virustotal(), lookup({{"https_proxy", ""}, {"HTTPS_PROXY", "http://upper:1"}}),
                     error);
    BOOST_TEST(c.reason == "HTTPS_PROXY");
    BOOST_TEST(error.empty());
}

BOOST_AUTO_TEST_CASE(no_proxy_exempts_from_every_proxy) {
    std::string error;
    auto configured = to_virustotal();
    configured.configured = "http://flag:1";
    configured.configured_source = "--upstream-proxy";
    auto c = choose_proxy(configured, lookup({{"no_proxy", "virustotal.com"}, {"NO_PROXY", "other"}}), error);
    BOOST_TEST(!c.proxy);
    BOOST_TEST(c.reason == "no_proxy matches virustotal.com");
    c = choose_proxy(to_virustotal(), lookup({{"HTTPS_PROXY", "http://p:1"}, {"NO_PROXY", "example.com"}}),
                     error);
    BOOST_TEST(c.proxy->host == "p");
}

BOOST_AUTO_TEST_CASE(the_password_variable) {
    std::string error;
    auto c = choose_proxy(to_virustotal(),
                          lookup({{"HTTPS_PROXY", "http://ops:from-url@p:1"},
                                  {"SIGMA_SHIM_UPSTREAM_PROXY_PASSWORD", "from-variable"}}),
                          error);
    BOOST_TEST(error.empty());
    BOOST_TEST(c.proxy->password == "from-variable");
    c = choose_proxy(to_virustotal(),
                     lookup({{"HTTPS_PROXY", "http://p:1"}, {"SIGMA_SHIM_UPSTREAM_PROXY_PASSWORD", "x"}}),
                     error);
    BOOST_TEST(!c.proxy);
    BOOST_TEST(error.find("names no user") != std::string::npos, error);
}

BOOST_AUTO_TEST_CASE(a_bad_variable_is_named_not_quoted) {
    std::string error;
    const auto c = choose_proxy(to_virustotal(), lookup({{"https_proxy", "socks5://u:hunter2@p:1"}}), error);
    BOOST_TEST(!c.proxy);
    BOOST_TEST(error.starts_with("https_proxy: "), error);
    BOOST_TEST(error.find("hunter2") == std::string::npos, error);
}

BOOST_AUTO_TEST_SUITE_END()
