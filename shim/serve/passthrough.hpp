#pragma once
// Relays one request to the upstream and its answer back, streaming bodies both ways.
#include "serve/client_stream.hpp"
#include "serve/server_state.hpp"
#include "upstream/upstream.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <optional>

namespace shim::serve {

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
      ServerState& state);

} // namespace shim::serve
