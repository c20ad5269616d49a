#include "redis/redis_url.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <cctype>
#include <limits>

namespace shim::redis {
namespace {

namespace urls = boost::urls;

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

// Decimal digits only, at most `max`.
std::optional<unsigned long> parse_number(std::string_view digits, unsigned long max) {
    if (digits.empty() || digits.size() > 10) return std::nullopt;
    unsigned long value = 0;
    for (const char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<unsigned long>(c - '0');
    }
    if (value > max) return std::nullopt;
    return value;
}

constexpr unsigned long max_db = std::numeric_limits<int>::max(); // Redis reads the index as an int

bool parse_db(std::string_view digits, RedisUrl& url, std::string& error) {
    const auto db = parse_number(digits, max_db);
    if (!db) {
        error = "the database must be a number from 0";
        return false;
    }
    url.db = static_cast<unsigned>(*db);
    return true;
}

void take_userinfo(const urls::url_view& u, RedisUrl& url) {
    if (!u.has_userinfo()) return;
    url.user = u.user();
    if (u.has_password()) url.password = u.password();
}

bool parse_tcp(const urls::url_view& u, RedisUrl& url, std::string& error) {
    url.transport = RedisUrl::Transport::tcp;
    switch (u.host_type()) {
    case urls::host_type::name:
    case urls::host_type::ipv4:
    case urls::host_type::ipv6:
        url.host = u.host_address();
        break;
    default:
        error = "the host is missing or not a name or an IP address";
        return false;
    }
    if (url.host.empty()) {
        error = "the host is missing";
        return false;
    }
    if (u.has_port() && !u.port().empty()) {
        const auto port = parse_number(u.port(), 65535);
        if (!port || *port == 0) {
            error = "the port must be a number from 1 to 65535";
            return false;
        }
        url.port = static_cast<std::uint16_t>(*port);
    }
    const std::string_view path = u.encoded_path();
    if (!path.empty() && path != "/") {
        if (path.front() != '/' || !parse_db(path.substr(1), url, error)) {
            error = "the path must be /DB, a database number";
            return false;
        }
    }
    if (u.has_query()) {
        error = "a redis:// URL takes no query (the database is its path, /DB)";
        return false;
    }
    take_userinfo(u, url);
    return true;
}

bool parse_unix(const urls::url_view& u, RedisUrl& url, std::string& error) {
    url.transport = RedisUrl::Transport::unix_socket;
    if (!u.encoded_host().empty() || u.has_port()) {
        error = "a unix:// URL names no host: unix:///path/to/socket";
        return false;
    }
    url.socket_path = u.path();
    if (url.socket_path.size() < 2 || url.socket_path.front() != '/') {
        error = "a unix:// URL needs the socket's absolute path: unix:///path/to/socket";
        return false;
    }
    for (const auto& param : u.params()) {
        if (param.key != "db") {
            error = "a unix:// URL takes one parameter, db";
            return false;
        }
        if (!param.has_value || !parse_db(param.value, url, error)) return false;
    }
    take_userinfo(u, url);
    return true;
}

} // namespace

std::string RedisUrl::display() const {
    std::string credentials;
    if (!user.empty() || !password.empty()) credentials = user + (password.empty() ? "" : ":***") + "@";
    if (transport == Transport::unix_socket)
        return "unix://" + credentials + socket_path + (db ? "?db=" + std::to_string(db) : "");
    const std::string shown_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return "redis://" + credentials + shown_host + ":" + std::to_string(port) + "/" + std::to_string(db);
}

std::optional<RedisUrl> parse_redis_url(std::string_view text, std::string& error) {
    const auto parsed = urls::parse_uri(text);
    if (!parsed) {
        error = "not a URL: expected redis://[user[:password]@]host[:port][/db] or unix:///path/to/socket";
        return std::nullopt;
    }
    const urls::url_view& u = *parsed;
    if (u.has_fragment()) {
        error = "the URL has a fragment (#...)";
        return std::nullopt;
    }
    RedisUrl url;
    bool ok = false;
    if (iequals(u.scheme(), "redis")) {
        ok = parse_tcp(u, url, error);
    } else if (iequals(u.scheme(), "unix")) {
        ok = parse_unix(u, url, error);
    } else if (iequals(u.scheme(), "rediss")) {
        error = "rediss:// (TLS) is not supported";
    } else {
        error = "the scheme must be redis:// or unix://";
    }
    if (!ok) return std::nullopt;
    return url;
}

} // namespace shim::redis
