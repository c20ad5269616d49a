#pragma once
// `--upstream demo` and `--upstream dir:DIR`: an in-process VirusTotal stand-in on a loopback port, serving
// the bundled sample objects or a folder written by `--record` (File objects, behaviour pages, sigma_rule
// objects; the rules are those of ReplayCatalog, replay/replay_catalog.hpp) and NotFoundError for anything
// else. The proxy then runs its real client, pool and pass-through against it, with no network and no key.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>

namespace shim::replay {

class DemoUpstream {
public:
    // `dir` empty: the bundled objects. Otherwise every *.json under DIR/files, DIR/behaviours and
    // DIR/sigma_rules is read now; throws std::runtime_error (with the file and the reason) when DIR or one
    // of them cannot be read or is not JSON.
    DemoUpstream(boost::asio::io_context& ioc, std::string dir);
    ~DemoUpstream();
    // Binds 127.0.0.1 on a free port and returns it; connections wait in the backlog until start().
    std::uint16_t listen();
    // Serves, on the io_context given above.
    void start();
    // Closes the listener and ends every connection; returns once none is left. Call it on that io_context
    // before the DemoUpstream or the io_context goes.
    boost::asio::awaitable<void> stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace shim::replay
