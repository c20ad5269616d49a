#pragma once
// The HTTP/1.1 front: one acceptor, one coroutine per connection, the connections spread over io_contexts
// that one thread each runs. Every connection belongs to the server's task group, so a drain can close the
// idle ones, wait for the busy ones and, past its deadline, cut them off and wait for them to end.
#include "net/task_group.hpp"
#include "serve/server_state.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
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

    // The drain, in its steps. Call them on `ioc`, in this order.
    // Stops accepting and closes the connections that wait between requests; a connection in a request
    // finishes it (its answer says Connection: close), then closes.
    void stop_accepting();
    // Waits until every connection has closed or `deadline` has passed; true when none is left.
    boost::asio::awaitable<bool> wait_closed(std::chrono::steady_clock::time_point deadline);
    // Past the deadline: cancels what every connection is waiting for (reads, writes, upstream exchanges,
    // waits for quota) and waits until each has unwound.
    boost::asio::awaitable<void> cut_off();
    std::size_t open_connections() const { return connections_.size(); }

private:
    boost::asio::io_context& ioc_;
    std::vector<boost::asio::io_context*> connection_contexts_;
    ServerState& state_;
    boost::asio::ip::tcp::acceptor acceptor_;
    net::TaskGroup connections_; // and the accept loop
};

} // namespace shim::serve
