#pragma once
// TLS on the listener that integrations connect to: the server context built from a certificate chain and a
// key (modern protocol versions and AEAD ciphers only, ALPN held to HTTP/1.1), the context swapped whole on a
// reload so connections under way keep theirs, and a look at a connection's first bytes to tell a TLS client
// from one speaking plain HTTP to the TLS port.
#include <boost/asio/ssl/context.hpp>
#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

namespace shim::net {

// Facts about the loaded certificate, for the log: never anything of the key.
struct ListenerCertificate {
    std::string subject;   // the leaf's, RFC 2253 on one line
    std::string not_after; // ISO 8601 UTC
    bool expired = false;
    std::size_t chain_length = 0; // the leaf and the certificates after it in the file
};

// Builds a server TLS context from a PEM certificate chain file (leaf first, intermediates after) and a PEM
// private key file. TLS 1.2 and 1.3 only; TLS 1.2 with ECDHE and AES-GCM or CHACHA20-POLY1305 only; no
// compression, no renegotiation; the server's cipher preference. ALPN: "http/1.1" is selected when offered; a
// client offering ALPN without it fails the handshake (no_application_protocol); a client without ALPN is
// served. An encrypted key is refused (nobody is at a terminal to type its passphrase).
// Throws std::runtime_error, one line naming the file and OpenSSL's reason, never any key bytes.
std::shared_ptr<boost::asio::ssl::context> make_listener_tls(const std::string& cert_file,
                                                             const std::string& key_file,
                                                             ListenerCertificate* facts = nullptr);

// The current context, swapped whole on reload: a connection keeps the context it began with (SSL_CTX is
// reference-counted by OpenSSL too) and connections under way are never dropped. current() may be called from
// any thread, reload() from one.
class ListenerTls {
public:
    // Loads both files; throws like make_listener_tls.
    ListenerTls(std::string cert_file, std::string key_file);
    ListenerTls(const ListenerTls&) = delete;
    ListenerTls& operator=(const ListenerTls&) = delete;

    std::shared_ptr<boost::asio::ssl::context> current() const;
    // Reads both files again: "" on success, else the one-line error, and the old context stays in use.
    std::string reload();
    ListenerCertificate certificate() const; // of the current context
    const std::string& cert_file() const { return cert_file_; }
    const std::string& key_file() const { return key_file_; }

private:
    const std::string cert_file_;
    const std::string key_file_;
    mutable std::mutex mutex_;
    std::shared_ptr<boost::asio::ssl::context> context_;
    ListenerCertificate certificate_;
};

// The first bytes a client sent on a TLS port, classified without consuming them: "tls" (a handshake record,
// 0x16 and version 3.x), "http" (an uppercase ASCII token and a space: `GET `, `POST `, `PRI `...) or
// "other". Needs at most 8 bytes; "" when more are needed to decide.
std::string_view classify_first_bytes(std::span<const unsigned char> bytes);

} // namespace shim::net
