#include "util/gzip.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <new>
#include <stdexcept>
#include <zlib.h>

namespace shim::util {

namespace {

constexpr std::size_t kChunk = 16 * 1024;
// zlib counts in uInt, which may be narrower than size_t.
constexpr std::size_t kMaxFeed = std::numeric_limits<uInt>::max();

// Hands zlib the next slice of `in`, starting at `pos`, once it has consumed the previous one.
void feed(z_stream& zs, std::string_view in, std::size_t& pos) {
    if (zs.avail_in != 0 || pos == in.size()) return;
    const std::size_t n = std::min(in.size() - pos, kMaxFeed);
    // zlib never writes through next_in; its API just predates const.
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + pos));
    zs.avail_in = static_cast<uInt>(n);
    pos += n;
}

// Removes and returns the part of `rest` before the first `sep`; the separator is dropped too.
std::string_view take_until(std::string_view& rest, char sep) {
    const auto at = rest.find(sep);
    const std::string_view head = rest.substr(0, at);
    rest = at == std::string_view::npos ? std::string_view{} : rest.substr(at + 1);
    return head;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
    });
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths; nullopt when malformed.
std::optional<int> parse_qvalue(std::string_view s) {
    if (s.empty() || (s[0] != '0' && s[0] != '1')) return std::nullopt;
    int q = (s[0] - '0') * 1000;
    if (s.size() == 1) return q;
    if (s[1] != '.' || s.size() > 5) return std::nullopt;
    int scale = 100;
    for (const char c : s.substr(2)) {
        if (c < '0' || c > '9') return std::nullopt;
        q += (c - '0') * scale;
        scale /= 10;
    }
    if (q > 1000) return std::nullopt;
    return q;
}

} // namespace

std::optional<std::string> gunzip(std::string_view in, std::size_t max_output, std::string& error) {
    if (in.empty()) {
        error = "gunzip: empty input";
        return std::nullopt;
    }
    z_stream zs{};
    // 15 + 32: the largest window, and let zlib tell gzip from zlib by the header.
    if (inflateInit2(&zs, 15 + 32) != Z_OK) {
        error = "gunzip: cannot initialise zlib";
        return std::nullopt;
    }
    struct End {
        z_stream& zs;
        ~End() { inflateEnd(&zs); }
    } end{zs};

    std::string out;
    std::array<unsigned char, kChunk> buf;
    std::size_t pos = 0;
    bool after_member = false;
    for (;;) {
        feed(zs, in, pos);
        zs.next_out = buf.data();
        zs.avail_out = static_cast<uInt>(buf.size());
        const int rc = inflate(&zs, Z_NO_FLUSH);
        const std::size_t have = buf.size() - zs.avail_out;
        if (have > 0) {
            if (have > max_output - out.size()) {
                error = "gunzip: output exceeds the limit of " + std::to_string(max_output) + " bytes";
                return std::nullopt;
            }
            // Grow by hand so that geometric growth never reserves past the limit.
            if (out.size() + have > out.capacity()) {
                out.reserve(std::min(max_output, std::max(out.capacity() * 2, out.size() + have)));
            }
            out.append(reinterpret_cast<const char*>(buf.data()), have);
        }
        switch (rc) {
        case Z_OK:
            break;
        case Z_STREAM_END:
            if (zs.avail_in == 0 && pos == in.size()) return out;
            // Another member follows; a reset keeps the window bits, so the header is checked again.
            if (inflateReset(&zs) != Z_OK) {
                error = "gunzip: cannot reset zlib";
                return std::nullopt;
            }
            after_member = true;
            break;
        case Z_BUF_ERROR:
            // The output buffer had room, so no progress means the input ran out mid-stream.
            error = "gunzip: truncated gzip data";
            return std::nullopt;
        case Z_MEM_ERROR:
            error = "gunzip: out of memory";
            return std::nullopt;
        case Z_NEED_DICT:
            error = "gunzip: not gzip (zlib stream needs a preset dictionary)";
            return std::nullopt;
        default:
            error = std::string(after_member ? "gunzip: trailing data after the gzip stream is not gzip: "
                                             : "gunzip: not valid gzip data: ") +
                    (zs.msg != nullptr ? zs.msg : "corrupt stream");
            return std::nullopt;
        }
    }
}

std::string gzip(std::string_view in, int level) {
    if (level < -1 || level > 9) throw std::invalid_argument("gzip: level must be -1 to 9");
    z_stream zs{};
    // 15 + 16: the largest window, with a gzip header and trailer rather than zlib's.
    const int init = deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (init == Z_MEM_ERROR) throw std::bad_alloc();
    if (init != Z_OK) throw std::runtime_error("gzip: cannot initialise zlib");
    struct End {
        z_stream& zs;
        ~End() { deflateEnd(&zs); }
    } end{zs};

    std::string out;
    out.reserve(deflateBound(&zs, static_cast<uLong>(in.size())));
    std::array<unsigned char, kChunk> buf;
    std::size_t pos = 0;
    for (;;) {
        feed(zs, in, pos);
        const int flush = (zs.avail_in == 0 && pos == in.size()) ? Z_FINISH : Z_NO_FLUSH;
        zs.next_out = buf.data();
        zs.avail_out = static_cast<uInt>(buf.size());
        const int rc = deflate(&zs, flush);
        out.append(reinterpret_cast<const char*>(buf.data()), buf.size() - zs.avail_out);
        if (rc == Z_STREAM_END) return out;
        if (rc != Z_OK && rc != Z_BUF_ERROR) throw std::runtime_error("gzip: deflate failed");
    }
}

bool accepts_gzip(std::string_view header) {
    int gzip_q = -1; // the best q given to gzip or x-gzip by name; -1 when neither is named
    int star_q = -1;
    while (!header.empty()) {
        std::string_view params = take_until(header, ',');
        const std::string_view coding = trim(take_until(params, ';'));
        if (coding.empty()) continue;
        std::optional<int> q = 1000;
        while (!params.empty()) {
            std::string_view value = take_until(params, ';');
            const std::string_view name = trim(take_until(value, '='));
            if (iequals(name, "q")) q = parse_qvalue(trim(value));
        }
        if (!q) continue;
        if (iequals(coding, "gzip") || iequals(coding, "x-gzip"))
            gzip_q = std::max(gzip_q, *q);
        else if (coding == "*")
            star_q = std::max(star_q, *q);
    }
    return gzip_q >= 0 ? gzip_q > 0 : star_q > 0;
}

} // namespace shim::util
