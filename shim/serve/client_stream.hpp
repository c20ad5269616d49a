#pragma once
// The two kinds of client connection: plain TCP and TLS over it. The server and the relay are written once
// for either and compiled for both.
#include "net/deadline_stream.hpp"
#include "net/write_all.hpp"

#include <boost/beast/ssl/ssl_stream.hpp>

namespace shim::serve {

using PlainStream = net::DeadlineStream;
using TlsStream = boost::beast::ssl_stream<net::DeadlineStream>;

using net::write_all;

} // namespace shim::serve
