#pragma once
// Where Redis is and how to log in: `redis://[user[:password]@]host[:port][/db]` or
// `unix:///path/to/socket[?db=N]`. The password is a secret: display() masks it and no parse error repeats
// any part of the URL, since a URL given on a command line or in the environment may carry it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shim::redis {

struct RedisUrl {
    enum class Transport { tcp, unix_socket };
    Transport transport = Transport::tcp;
    std::string host; // tcp: a name or an IP address, IPv6 without its brackets
    std::uint16_t port = 6379;
    std::string socket_path; // unix_socket
    std::string user;        // empty: the default user (AUTH with the password alone)
    std::string password;    // empty: no AUTH
    unsigned db = 0;         // SELECTed on connect when not 0

    // For logs and errors: `redis://user:***@host:port/db`, `unix:///path?db=N`; the password never shows.
    std::string display() const;
};

// The parsed URL, or nullopt with `error` saying what is wrong without repeating the URL.
std::optional<RedisUrl> parse_redis_url(std::string_view text, std::string& error);

} // namespace shim::redis
