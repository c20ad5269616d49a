#pragma once
// A body's bytes as they go on the wire: as they are, or as one chunk of a chunked body (RFC 9112 7.1). The
// relay frames the answers it re-chunks for its clients with it, the exchange the request bodies it sends on.
#include <array>
#include <boost/asio/buffer.hpp>
#include <charconv>
#include <cstddef>
#include <span>
#include <string_view>

namespace shim::net {

class BodyPiece {
public:
    // `last`: nothing follows these bytes, so a chunked body's last chunk goes after them. Bytes of nothing
    // make no chunk of their own: a chunk of size 0 is the last chunk.
    BodyPiece(std::span<const char> bytes, bool last, bool chunked)
        : bytes_(bytes), last_chunk_due_(chunked && last) {
        if (chunked && !bytes.empty()) {
            // 16 hex digits hold any size_t; CRLF follows them.
            const auto end = std::to_chars(size_line_.data(), size_line_.data() + 16, bytes.size(), 16).ptr;
            end[0] = '\r';
            end[1] = '\n';
            size_line_bytes_ = static_cast<std::size_t>(end + 2 - size_line_.data());
        }
    }
    BodyPiece(const BodyPiece&) = delete; // buffers() points into it
    BodyPiece& operator=(const BodyPiece&) = delete;

    // Size line, bytes, CRLF, last chunk; a part that does not apply is empty. Valid while the piece lives.
    std::array<boost::asio::const_buffer, 4> buffers() const {
        static constexpr std::string_view crlf = "\r\n", last_chunk = "0\r\n\r\n";
        return {boost::asio::buffer(size_line_.data(), size_line_bytes_),
                boost::asio::buffer(bytes_.data(), bytes_.size()),
                boost::asio::buffer(crlf.data(), size_line_bytes_ ? crlf.size() : 0),
                boost::asio::buffer(last_chunk.data(), last_chunk_due_ ? last_chunk.size() : 0)};
    }

private:
    std::span<const char> bytes_;
    bool last_chunk_due_;
    std::array<char, 20> size_line_{};
    std::size_t size_line_bytes_ = 0;
};

} // namespace shim::net
