#pragma once
// Appending JSON text straight to a string: the renderers write the legacy answer without building a DOM.
#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace sigma_analysis::json_out {

// What append_string does with bytes that are not well-formed UTF-8 (RFC 3629).
enum class InvalidUtf8 {
    keep,    // copied as they came: the transform gives back upstream text byte for byte
    replace, // each such byte becomes U+FFFD, so that strict readers accept the text (log lines)
};

// Appends `s` as a quoted JSON string: the project's one JSON string escaper. UTF-8 passes through; quotes,
// backslashes and control characters are escaped the way Boost.JSON's serializer escapes them, so a value
// round-trips to the same bytes.
void append_string(std::string& out, std::string_view s, InvalidUtf8 invalid = InvalidUtf8::keep);

void append_int(std::string& out, std::int64_t n);

enum class KeyOrder { as_given, sorted };

// Appends any JSON value. With KeyOrder::sorted, object keys are written in byte order at every level.
void append_value(std::string& out, const boost::json::value& v, KeyOrder order);

// Appends `"key":` (quoted, escaped, followed by a colon).
inline void append_key(std::string& out, std::string_view key) {
    append_string(out, key);
    out.push_back(':');
}

} // namespace sigma_analysis::json_out
