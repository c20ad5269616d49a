#pragma once
// The HTTP/1.1 front: one acceptor, one coroutine per connection on its own strand.
#include "serve/server_state.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace shim::serve {

class Server {
public:
    Server(boost::asio::io_context& ioc, ServerState& state);

    // Binds and listens; throws boost::system::system_error when the address cannot be had.
    boost::asio::ip::tcp::endpoint listen();
    void start();
    // Stops accepting new connections (the drain); connections already open finish their request.
    void stop_accepting();

private:
    boost::asio::io_context& ioc_;
    ServerState& state_;
    boost::asio::ip::tcp::acceptor acceptor_;
};

} // namespace shim::serve
