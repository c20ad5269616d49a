#pragma once
// gzip for HTTP bodies: upstream answers may come compressed, and clients may ask for compressed answers.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace shim::util {

// Inflates a gzip (or zlib) body. Returns nullopt when it is not valid gzip or would exceed max_output bytes;
// error says which. Concatenated gzip members (RFC 1952 section 2.2) are accepted and their outputs joined,
// as gzip -d does; bytes after the last member that are not another member are an error, not ignored. Memory
// stays within max_output plus one 16 KiB chunk, whatever the input claims.
std::optional<std::string> gunzip(std::string_view in, std::size_t max_output, std::string& error);

// A gzip member holding `in`. level: 0 (store) to 9, or -1 for zlib's default; anything else throws
// std::invalid_argument.
std::string gzip(std::string_view in, int level = 6);

// Whether an Accept-Encoding field value (RFC 9110 section 12.5.3) allows gzip: "gzip" or "x-gzip" with q >
// 0, else "*" with q > 0. An explicit "gzip;q=0" refuses even when "*" is allowed; an empty value refuses.
// Case and optional whitespace do not matter; an element with a malformed q is ignored.
bool accepts_gzip(std::string_view accept_encoding_header);

} // namespace shim::util
