#pragma once
// `--upstream demo` and `--upstream dir:DIR`: an in-process VirusTotal stand-in on a loopback port, serving
// the bundled sample objects or a folder written by `--record` (File objects, behaviour pages, sigma_rule
// objects; the rules are those of ReplayCatalog, serve/replay_catalog.hpp) and NotFoundError for anything
// else. The proxy then runs its real client, pool and pass-through against it, with no network and no key.
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>

namespace shim::serve {

class DemoUpstream {
public:
    // `dir` empty: the bundled objects. Otherwise every *.json under DIR/files, DIR/behaviours and
    // DIR/sigma_rules is read now; throws std::runtime_error (with the file and the reason) when DIR or one
    // of them cannot be read or is not JSON.
    DemoUpstream(boost::asio::io_context& ioc, std::string dir);
    ~DemoUpstream();
    std::uint16_t start(); // binds 127.0.0.1 on a free port and returns it

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace shim::serve
