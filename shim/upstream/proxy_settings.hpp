#pragma once
// Which forward proxy, if any, the upstream is reached through: the --upstream-proxy flag, else the
// conventional variables (https_proxy, HTTPS_PROXY...) with NO_PROXY, read as curl reads them. Pure: the
// environment is a lookup function passed in.
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace shim::upstream {

// An http:// forward proxy. The password is kept only to build Proxy-Authorization: display() masks it, and
// nothing else prints it.
struct ProxyEndpoint {
    std::string host; // without IPv6 brackets
    std::string port;
    std::string user; // percent-decoded
    std::string password;

    // host:port, with brackets around an IPv6 address: for messages and metrics-free logs.
    std::string authority() const;
    // http://user:***@host:port (or http://host:port): the only way the proxy is ever logged.
    std::string display() const;
    // The Proxy-Authorization value ("Basic ..."), or "" without a user.
    std::string authorization() const;
};

// Parses http://[user[:password]@]host[:port][/] (no scheme: http://; no port: 1080, as curl). `error` never
// quotes the text, which may hold a password.
std::optional<ProxyEndpoint> parse_proxy_url(std::string_view text, std::string& error);

// The entry of a NO_PROXY list that exempts `host` (port `port`) from the proxy, or nullopt. Entries are
// separated by commas or spaces: `*` (every host), a host name or domain suffix with or without a leading dot
// (`example.com` and `.example.com` both match example.com and a.example.com), an IP address or CIDR range
// (10.0.0.0/8, [::1]); a host entry may name a port, and then matches that port only. Case-insensitive.
std::optional<std::string> no_proxy_match(std::string_view list, std::string_view host,
                                          std::string_view port);

struct ProxyChoice {
    std::optional<ProxyEndpoint> proxy;
    std::string reason; // where the proxy came from, or why there is none: for the start-up log
};

struct ProxyRequest {
    std::string_view configured;        // --upstream-proxy or SIGMA_SHIM_UPSTREAM_PROXY; "" if neither
    std::string_view configured_source; // which of the two gave `configured`
    bool in_process = false;            // the demo upstream: never proxied
    bool tls = true;                    // the upstream's scheme picks the variable
    std::string_view host;
    std::string_view port;
};

using EnvLookup = std::function<const char*(const char*)>;

// The proxy for the upstream of `request`, or none, and why. Precedence: the configured proxy ("none": go
// direct), else https_proxy, HTTPS_PROXY (http_proxy, HTTP_PROXY for an http:// upstream), all_proxy,
// ALL_PROXY; the lower-case form wins when both are set. NO_PROXY (no_proxy first) exempts hosts from any of
// them. SIGMA_SHIM_UPSTREAM_PROXY_PASSWORD, when set, is the password. Sets `error` (never quoting a value)
// when the chosen URL is not usable.
ProxyChoice choose_proxy(const ProxyRequest& request, const EnvLookup& getenv, std::string& error);

} // namespace shim::upstream
