#pragma once
// The HTTP/1.1 front: one acceptor, one coroutine per connection, the connections spread over io_contexts
// that one thread each runs.
#include "serve/server_state.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <vector>

namespace shim::serve {

class Server {
public:
    // The acceptor runs on `ioc`; accepted connections go to `connection_contexts` in turn.
    Server(boost::asio::io_context& ioc, std::vector<boost::asio::io_context*> connection_contexts,
           ServerState& state);

    // Binds and listens; throws boost::system::system_error when the address cannot be had.
    boost::asio::ip::tcp::endpoint listen();
    void start();
    // Stops accepting new connections (the drain); connections already open finish their request.
    void stop_accepting();

private:
    boost::asio::io_context& ioc_;
    std::vector<boost::asio::io_context*> connection_contexts_;
    ServerState& state_;
    boost::asio::ip::tcp::acceptor acceptor_;
};

} // namespace shim::serve
