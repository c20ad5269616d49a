#pragma once
// The two kinds of client connection: plain TCP and TLS over it. The server and the relay are written once
// for either and compiled for both.
#include "net/write_all.hpp"

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace shim::serve {

using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

using net::write_all;

} // namespace shim::serve
