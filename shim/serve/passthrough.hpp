#pragma once
// Relays one request to the upstream and its answer back, streaming bodies both ways.
#include "serve/client_stream.hpp"
#include "serve/server_state.hpp"
#include "upstream/upstream.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace shim::serve {

// What a connection keeps from one relayed request to the next, so that no request allocates it again: the
// buffer that body bytes are read into and written from (never copied between the two), the text of the
// answer's header block and that of the request's end-to-end fields.
class RelayScratch {
public:
    static constexpr std::size_t body_bytes = 64 * 1024;
    std::span<char> body() {
        if (!body_) body_ = std::make_unique<char[]>(body_bytes); // only connections that relay pay for it
        return {body_.get(), body_bytes};
    }
    std::string head;
    std::string request_fields;

private:
    std::unique_ptr<char[]> body_;
};

struct RelayOutcome {
    unsigned status = 0;          // what the client got (0: nothing could be sent)
    bool client_reusable = false; // the client connection may serve another request
    bool answered = false;        // false: nothing was written to the client; the caller sends `local_error`
    std::string local_error_code; // TransientError or DeadlineExceededError, when !answered
    std::string local_error_message; // its message when the cause is worth naming (the proxy); else ""
    std::string note;                // for the log line
    std::optional<upstream::UpstreamResponse> refused; // the quota's local 429: nothing went upstream
    std::uint64_t bytes_to_client = 0;                 // header and body bytes written to the client
    std::uint64_t bytes_from_client = 0;               // request body bytes read from the client
};

struct RelayRequest {
    std::string api_key;
    std::string request_id;
    std::string client; // the client token's name, for its own quota ("" without tokens)
};

// `header` holds the parsed request header; its body, if any, is still to be read from `client`. Compiled
// for PlainStream and TlsStream.
template <class Stream>
boost::asio::awaitable<RelayOutcome>
relay(Stream& client, boost::beast::flat_buffer& client_buffer,
      boost::beast::http::request_parser<boost::beast::http::empty_body>& header, const RelayRequest& request,
      RelayScratch& scratch, ServerState& state);

} // namespace shim::serve
