#pragma once
// An HTTP/1.1 header block written as text, for the answers the server writes and the requests it sends
// upstream: Beast's fields would allocate a node per header only to be serialised once.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace shim::net::head_text {

// "Name: value\r\n". A CR, LF or other control byte in the value (a header built from upstream data, say)
// becomes a space: it must never end the line early.
inline void append_field(std::string& head, std::string_view name, std::string_view value) {
    const auto control = [](char c) { return static_cast<unsigned char>(c) < 0x20 && c != '\t'; };
    head.append(name).append(": ");
    if (std::none_of(value.begin(), value.end(), control)) {
        head.append(value);
    } else {
        for (const char c : value)
            head.push_back(control(c) ? ' ' : c);
    }
    head.append("\r\n");
}

inline void append_number_field(std::string& head, std::string_view name, std::uint64_t n) {
    std::array<char, 24> digits{};
    const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), n).ptr;
    append_field(head, name, std::string_view(digits.data(), static_cast<std::size_t>(end - digits.data())));
}

inline void append_status_line(std::string& head, unsigned version, unsigned status,
                               std::string_view reason) {
    head.append(version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ");
    std::array<char, 8> digits{};
    const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), status).ptr;
    head.append(digits.data(), end).append(" ").append(reason).append("\r\n");
}

// As Beast's keep_alive() has it: HTTP/1.1 says when the connection closes, HTTP/1.0 when it does not.
inline void append_connection_field(std::string& head, unsigned version, bool keep_alive) {
    if (version >= 11 && !keep_alive) append_field(head, "Connection", "close");
    if (version < 11 && keep_alive) append_field(head, "Connection", "keep-alive");
}

} // namespace shim::net::head_text
