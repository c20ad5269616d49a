#pragma once
// What the fuzz targets share: splitting an input into parts, parsing a part as the shim does, and stopping
// loudly when an invariant fails (libFuzzer then keeps the input as a crash).
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <vector>

namespace fuzz {

// Parts of an input are separated by 0x1E (ASCII record separator), which valid JSON never holds: control
// characters must be escaped inside strings too.
inline constexpr char separator = '\x1e';

inline std::vector<std::string_view> split(std::string_view bytes, char sep = separator) {
    std::vector<std::string_view> parts;
    for (;;) {
        const auto at = bytes.find(sep);
        parts.push_back(bytes.substr(0, at));
        if (at == std::string_view::npos) return parts;
        bytes.remove_prefix(at + 1);
    }
}

// As the legacy handler reads an upstream body: boost::json::parse with default options (depth 32). Default
// storage rather than the handler's monotonic arena, so ASan sees each allocation's bounds.
// `max_depth` is raised to check the shim's own output, which nests input objects a few levels deeper.
inline std::optional<boost::json::value> parse(std::string_view bytes, std::size_t max_depth = 32) {
    boost::json::parse_options opt;
    opt.max_depth = max_depth;
    boost::json::error_code ec;
    auto v = boost::json::parse(bytes, ec, {}, opt);
    if (ec) return std::nullopt;
    return v;
}

[[noreturn]] inline void fail(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "\nINVARIANT FAILED: %s\n%.*s\n", what, static_cast<int>(detail.size()),
                 detail.data());
    std::abort();
}

#define FUZZ_CHECK(cond, detail)                                                                             \
    do {                                                                                                     \
        if (!(cond)) ::fuzz::fail(#cond, (detail));                                                          \
    } while (0)

} // namespace fuzz
