#pragma once
// `--upstream demo`: an in-process VirusTotal stand-in on a loopback port, serving the bundled sample objects
// (File objects, behaviour pages, sigma_rule objects) and NotFoundError for anything else. The proxy then runs
// its real client, pool and pass-through against it, with no network and no key.
#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <memory>

namespace shim::serve {

class DemoUpstream {
public:
    explicit DemoUpstream(boost::asio::io_context& ioc);
    ~DemoUpstream();
    std::uint16_t start(); // binds 127.0.0.1 on a free port and returns it

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace shim::serve
