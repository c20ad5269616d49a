#pragma once
// What `serve` re-reads on SIGHUP without dropping a connection: the listener's certificate and key
// (--tls-cert, --tls-key) and the client tokens file (--client-tokens). A file that cannot be read on reload
// leaves what was loaded before in use, and the log says so.
#include "net/listener_tls.hpp"
#include "ops/log.hpp"
#include "serve/client_tokens.hpp"
#include "serve/config.hpp"

#include <memory>
#include <string>

namespace shim::app {

class TeamAccess {
public:
    // Loads what the configuration names; the one-line error when something cannot be used.
    std::string load(const serve::ServeConfig& config);
    void reload(ops::Logger& log);

    const net::ListenerTls* tls() const { return tls_.get(); }
    const serve::ClientTokenFile* client_tokens() const { return tokens_.get(); }
    // Fields for the `listening` line: what is served and to whom, never a secret.
    void describe(ops::LogFields& fields) const;

private:
    std::unique_ptr<net::ListenerTls> tls_;
    std::unique_ptr<serve::ClientTokenFile> tokens_;
};

} // namespace shim::app
