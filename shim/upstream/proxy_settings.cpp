#include "upstream/proxy_settings.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <charconv>
#include <openssl/evp.h>
#include <vector>

namespace shim::upstream {
namespace {

namespace ip = boost::asio::ip;

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view trim_dots(std::string_view text) {
    while (!text.empty() && text.back() == '.')
        text.remove_suffix(1);
    return text;
}

std::optional<ip::address> address_of(std::string_view text) {
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
    boost::system::error_code ec;
    const auto a = ip::make_address(std::string(text), ec);
    if (ec) return std::nullopt;
    return a;
}

template <typename Bytes>
bool same_prefix(const Bytes& a, const Bytes& b, unsigned bits) {
    for (std::size_t i = 0; bits > 0; ++i, bits -= std::min(bits, 8u)) {
        const auto mask = static_cast<unsigned char>(0xff << (8 - std::min(bits, 8u)));
        if ((a[i] & mask) != (b[i] & mask)) return false;
    }
    return true;
}

// An IP address entry, or a CIDR range, that contains `host`.
bool address_entry_matches(std::string_view entry, const ip::address& host) {
    const auto slash = entry.find('/');
    const auto base = address_of(entry.substr(0, slash));
    if (!base) return false;
    if (slash == std::string_view::npos) return *base == host;
    unsigned bits = 0;
    const auto digits = entry.substr(slash + 1);
    if (std::from_chars(digits.data(), digits.data() + digits.size(), bits).ptr !=
        digits.data() + digits.size())
        return false;
    if (base->is_v4() && host.is_v4() && bits <= 32)
        return same_prefix(base->to_v4().to_bytes(), host.to_v4().to_bytes(), bits);
    if (base->is_v6() && host.is_v6() && bits <= 128)
        return same_prefix(base->to_v6().to_bytes(), host.to_v6().to_bytes(), bits);
    return false;
}

// A host-name entry: the host itself or a domain it is under; `entry_port`, if any, must be the upstream's.
bool name_entry_matches(std::string_view entry, std::string_view host, std::string_view port) {
    if (const auto colon = entry.rfind(':'); colon != std::string_view::npos) {
        if (entry.substr(colon + 1) != port) return false;
        entry = entry.substr(0, colon);
    }
    if (entry.starts_with("*.")) entry.remove_prefix(1);
    if (entry.starts_with(".")) entry.remove_prefix(1);
    entry = trim_dots(entry);
    if (entry.empty()) return false;
    const auto e = lower(entry);
    const auto h = lower(trim_dots(host));
    return h == e || (h.size() > e.size() && h.ends_with(e) && h[h.size() - e.size() - 1] == '.');
}

std::string base64(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

// The first of `names` set to a non-empty value.
std::optional<std::pair<std::string, std::string>> first_set(std::initializer_list<const char*> names,
                                                             const EnvLookup& getenv) {
    for (const char* name : names)
        if (const char* v = getenv(name); v && *v) return std::pair<std::string, std::string>{name, v};
    return std::nullopt;
}

} // namespace

std::string ProxyEndpoint::authority() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
}

std::string ProxyEndpoint::display() const {
    return "http://" + (user.empty() ? std::string() : user + ":***@") + authority();
}

std::string ProxyEndpoint::authorization() const {
    return user.empty() ? std::string() : "Basic " + base64(user + ":" + password);
}

std::optional<ProxyEndpoint> parse_proxy_url(std::string_view text, std::string& error) {
    const std::string with_scheme =
        text.find("://") == std::string_view::npos ? "http://" + std::string(text) : std::string(text);
    const auto url = boost::urls::parse_absolute_uri(with_scheme);
    if (!url || url->scheme_id() != boost::urls::scheme::http) {
        error = url ? "only http:// proxies are supported" : "expected http://[user:password@]host[:port]";
        return std::nullopt;
    }
    if (url->encoded_host().empty() || url->has_query() || url->has_fragment() ||
        (!url->encoded_path().empty() && url->encoded_path() != "/")) {
        error = "expected http://[user:password@]host[:port], with no path";
        return std::nullopt;
    }
    ProxyEndpoint p;
    p.host = url->encoded_host_address().decode();
    unsigned port = 1080;
    if (url->has_port()) {
        const auto digits = url->port();
        const auto res = std::from_chars(digits.data(), digits.data() + digits.size(), port);
        if (res.ptr != digits.data() + digits.size() || port < 1 || port > 65535) {
            error = "the proxy's port must be a number from 1 to 65535";
            return std::nullopt;
        }
    }
    p.port = std::to_string(port);
    if (url->has_userinfo()) {
        p.user = url->user();
        p.password = url->password();
    }
    return p;
}

std::optional<std::string> no_proxy_match(std::string_view list, std::string_view host,
                                          std::string_view port) {
    const auto host_address = address_of(host);
    std::size_t start = 0;
    while (start < list.size()) {
        auto end = list.find_first_of(", \t", start);
        if (end == std::string_view::npos) end = list.size();
        const auto entry = list.substr(start, end - start);
        start = end + 1;
        if (entry.empty()) continue;
        if (entry == "*") return std::string(entry);
        const bool matches = host_address ? address_entry_matches(entry, *host_address)
                                          : name_entry_matches(entry, host, port);
        if (matches) return std::string(entry);
    }
    return std::nullopt;
}

ProxyChoice choose_proxy(const ProxyRequest& request, const EnvLookup& getenv, std::string& error) {
    if (request.in_process) return {std::nullopt, "the upstream is in-process"};
    std::string source, url;
    if (!request.configured.empty()) {
        if (request.configured == "none")
            return {std::nullopt, std::string(request.configured_source) + " none"};
        source = request.configured_source;
        url = request.configured;
    } else {
        const auto found = request.tls
                               ? first_set({"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}, getenv)
                               : first_set({"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"}, getenv);
        if (!found) return {std::nullopt, "no proxy variable is set"};
        std::tie(source, url) = *found;
    }
    if (const auto no_proxy = first_set({"no_proxy", "NO_PROXY"}, getenv)) {
        if (const auto entry = no_proxy_match(no_proxy->second, request.host, request.port))
            return {std::nullopt, no_proxy->first + " matches " + *entry};
    }
    auto proxy = parse_proxy_url(url, error);
    if (!proxy) {
        error = source + ": " + error;
        return {};
    }
    if (const char* password = getenv("SIGMA_SHIM_UPSTREAM_PROXY_PASSWORD"); password && *password) {
        if (proxy->user.empty()) {
            error =
                "SIGMA_SHIM_UPSTREAM_PROXY_PASSWORD is set but the proxy URL (" + source + ") names no user";
            return {};
        }
        proxy->password = password;
    }
    return {std::move(proxy), source};
}

} // namespace shim::upstream
