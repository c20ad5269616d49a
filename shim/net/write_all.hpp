#pragma once
// Writing a buffer sequence whole, to a plain TCP stream or a TLS one: the client connections and the
// upstream connections are of the same two kinds.
#include "net/deadline_stream.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <type_traits>

namespace shim::net {

// Writes every byte of `buffers` (a sequence that outlives the call) under the stream's deadline. Plain TCP
// takes them in one writev. TLS takes them one buffer at a time: after a partial write Asio's two-buffer
// write hands the stream a sequence that starts with an empty buffer, of which Beast's ssl_stream (its
// flat_stream) writes nothing, and Asio takes a write of nothing for the end.
template <class Stream, class Buffers>
boost::asio::awaitable<std::size_t> write_all(Stream& stream, const Buffers& buffers,
                                              boost::system::error_code& ec) {
    namespace asio = boost::asio;
    if constexpr (!std::is_same_v<Stream, DeadlineStream>) {
        std::size_t written = 0;
        for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
            const asio::const_buffer one(*it);
            if (one.size() == 0) continue;
            written += co_await asio::async_write(stream, one, asio::redirect_error(asio::use_awaitable, ec));
            if (ec) break;
        }
        co_return written;
    } else {
        co_return co_await asio::async_write(stream, buffers, asio::redirect_error(asio::use_awaitable, ec));
    }
}

} // namespace shim::net
