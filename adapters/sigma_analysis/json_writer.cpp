#include "sigma_analysis/json_writer.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

namespace sigma_analysis::json_out {
namespace {

// 0: copy as is; otherwise the character after the backslash ('u' for \u00XX).
constexpr std::array<char, 256> make_escape_table() {
    std::array<char, 256> t{};
    for (int c = 0; c < 0x20; ++c)
        t[static_cast<std::size_t>(c)] = 'u';
    t['\b'] = 'b';
    t['\f'] = 'f';
    t['\n'] = 'n';
    t['\r'] = 'r';
    t['\t'] = 't';
    t['"'] = '"';
    t['\\'] = '\\';
    return t;
}
constexpr auto escape_table = make_escape_table();

void append_object(std::string& out, const boost::json::object& obj, KeyOrder order) {
    out.push_back('{');
    bool first = true;
    auto write_pair = [&](const boost::json::key_value_pair& kv) {
        if (!first) out.push_back(',');
        first = false;
        append_key(out, kv.key());
        append_value(out, kv.value(), order);
    };
    if (order == KeyOrder::as_given) {
        for (const auto& kv : obj)
            write_pair(kv);
    } else {
        std::vector<const boost::json::key_value_pair*> pairs;
        pairs.reserve(obj.size());
        for (const auto& kv : obj)
            pairs.push_back(&kv);
        std::sort(pairs.begin(), pairs.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
        for (const auto* kv : pairs)
            write_pair(*kv);
    }
    out.push_back('}');
}

} // namespace

// True when any of the 8 bytes in `w` is a control character, '"' or '\\' (the bytes JSON must escape).
// Bytes of 0x80 and above never match, so UTF-8 sequences are skipped whole.
inline bool needs_escape(std::uint64_t w) {
    constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    auto has_zero_byte = [](std::uint64_t v) { return (v - ones) & ~v & highs; };
    const std::uint64_t below_space = (w - ones * 0x20) & ~w & highs;
    return below_space | has_zero_byte(w ^ (ones * '"')) | has_zero_byte(w ^ (ones * '\\'));
}

namespace {

// The escaped text of `s`, without the quotes.
void append_escaped(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    const char* const data = s.data();
    std::size_t run = 0; // start of the pending run of characters that need no escape
    std::size_t i = 0;
    while (i < s.size()) {
        // Most text needs no escape: skip it eight bytes at a time.
        if (s.size() - i >= 8) {
            std::uint64_t w;
            std::memcpy(&w, data + i, 8);
            if (!needs_escape(w)) {
                i += 8;
                continue;
            }
        }
        const std::size_t block_end = std::min(i + 8, s.size());
        for (; i < block_end; ++i) {
            const char esc = escape_table[static_cast<unsigned char>(data[i])];
            if (esc == 0) continue;
            out.append(data + run, i - run);
            run = i + 1;
            const char seq[2] = {'\\', esc};
            out.append(seq, 2);
            if (esc == 'u') {
                const auto c = static_cast<unsigned char>(data[i]);
                const char code[4] = {'0', '0', hex[c >> 4], hex[c & 0xF]};
                out.append(code, 4);
            }
        }
    }
    out.append(data + run, s.size() - run);
}

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, no surrogates, at most U+10FFFF),
// or 0 when there is none.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<int>(static_cast<unsigned char>(s[k])); };
    const int lead = byte(i);
    const std::size_t len = lead < 0xC2 ? 0 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : lead < 0xF5 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return 0;
    // The second byte's range is narrower after E0, ED, F0 and F4 (RFC 3629 section 4).
    const int lo = lead == 0xE0 ? 0xA0 : lead == 0xF0 ? 0x90 : 0x80;
    const int hi = lead == 0xED ? 0x9F : lead == 0xF4 ? 0x8F : 0xBF;
    if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < len; ++k) {
        if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
    }
    return len;
}

} // namespace

void append_string(std::string& out, std::string_view s, InvalidUtf8 invalid) {
    out.reserve(out.size() + s.size() + 2);
    out.push_back('"');
    if (invalid == InvalidUtf8::keep) {
        append_escaped(out, s);
    } else {
        std::size_t run = 0; // start of the pending well-formed text
        for (std::size_t i = 0; i < s.size();) {
            if (static_cast<unsigned char>(s[i]) < 0x80) {
                ++i;
            } else if (const std::size_t len = utf8_sequence(s, i)) {
                i += len;
            } else {
                append_escaped(out, s.substr(run, i - run));
                out += "\xEF\xBF\xBD"; // U+FFFD
                run = ++i;
            }
        }
        append_escaped(out, s.substr(run));
    }
    out.push_back('"');
}

void append_int(std::string& out, std::int64_t n) {
    char buf[24];
    const auto res = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, res.ptr);
}

void append_value(std::string& out, const boost::json::value& v, KeyOrder order) {
    switch (v.kind()) {
    case boost::json::kind::null:
        out.append("null");
        return;
    case boost::json::kind::bool_:
        out.append(v.get_bool() ? "true" : "false");
        return;
    case boost::json::kind::int64:
        append_int(out, v.get_int64());
        return;
    case boost::json::kind::uint64: {
        char buf[24];
        const auto res = std::to_chars(buf, buf + sizeof buf, v.get_uint64());
        out.append(buf, res.ptr);
        return;
    }
    case boost::json::kind::double_: {
        // Boost.JSON reads a number beyond the double range (1e400) as an infinity, which to_chars writes as
        // "inf", not JSON: 1e999 reads back as the same infinity.
        if (std::isinf(v.get_double())) {
            out.append(v.get_double() > 0 ? "1e999" : "-1e999");
            return;
        }
        // JSON has no NaN: Boost.JSON 1.81 reads a zero with an exponent beyond the double range (0e400) as
        // NaN, which to_chars writes as "nan". The number the text stood for is zero.
        if (std::isnan(v.get_double())) {
            out.append("0");
            return;
        }
        // The shortest text that reads back to the same number ("1.5", not Boost.JSON 1.81's "1.5E0").
        char buf[32];
        const auto res = std::to_chars(buf, buf + sizeof buf, v.get_double());
        out.append(buf, res.ptr);
        return;
    }
    case boost::json::kind::string:
        append_string(out, v.get_string());
        return;
    case boost::json::kind::array: {
        out.push_back('[');
        bool first = true;
        for (const auto& item : v.get_array()) {
            if (!first) out.push_back(',');
            first = false;
            append_value(out, item, order);
        }
        out.push_back(']');
        return;
    }
    case boost::json::kind::object:
        append_object(out, v.get_object(), order);
        return;
    }
}

} // namespace sigma_analysis::json_out
