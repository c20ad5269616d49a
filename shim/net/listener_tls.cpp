#include "net/listener_tls.hpp"

#include <array>
#include <boost/asio/ssl/error.hpp>
#include <cstring>
#include <ctime>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdexcept>
#include <utility>

namespace shim::net {
namespace {

namespace ssl = boost::asio::ssl;
using boost::system::error_code;

// TLS 1.2 suites with forward secrecy and an AEAD cipher, in the order the server prefers them.
constexpr const char* tls12_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                      "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                      "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* tls13_suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

// The reason of OpenSSL's oldest queued error (the cause; later ones only say where it surfaced), with the
// queue emptied so nothing is left to be blamed on a later call. Reason strings never carry file contents.
std::string queued_reason() {
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) return "no reason given by OpenSSL";
    if (ERR_SYSTEM_ERROR(e)) return std::strerror(ERR_GET_REASON(e));
    const char* reason = ERR_reason_error_string(e);
    return reason ? reason : "OpenSSL error " + std::to_string(e);
}

// Asio has already taken the oldest error into `ec`; the rest of the queue is dropped.
std::string reason_of(const error_code& ec) {
    ERR_clear_error();
    return ec.message();
}

// OpenSSL's packed code of an error Asio reported in its SSL category; 0 for any other error.
unsigned long openssl_code(const error_code& ec) {
    if (ec.category() != boost::asio::error::get_ssl_category()) return 0;
    return static_cast<unsigned long>(static_cast<unsigned int>(ec.value()));
}

bool is_key_mismatch(const error_code& ec) {
    const auto e = openssl_code(ec);
    return ERR_GET_LIB(e) == ERR_LIB_X509 &&
           (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH || ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH);
}

// OpenSSL 3 says only "unsupported" when no decoder made a key of the file's contents, which reads as if the
// key's algorithm were the trouble; it is more often that the file holds no private key at all.
std::string key_read_reason(const error_code& ec) {
    const auto e = openssl_code(ec);
    const bool undecodable = ERR_GET_LIB(e) == ERR_LIB_OSSL_DECODER && ERR_GET_REASON(e) == ERR_R_UNSUPPORTED;
    const auto reason = reason_of(ec);
    return undecodable ? "no private key OpenSSL can decode in it (" + reason + ")" : reason;
}

// The listener speaks HTTP/1.1 only: a client that asks for other protocols alone must not be served
// something it did not ask for. OpenSSL has checked the list's framing before calling.
int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                  unsigned int inlen, void*) {
    constexpr std::string_view http11 = "http/1.1";
    for (unsigned int at = 0; at < inlen;) {
        const unsigned int length = in[at];
        if (at + 1 + length > inlen) break;
        if (std::string_view(reinterpret_cast<const char*>(in + at + 1), length) == http11) {
            *out = in + at + 1;
            *outlen = static_cast<unsigned char>(length);
            return SSL_TLSEXT_ERR_OK;
        }
        at += 1 + length;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL; // OpenSSL sends it as no_application_protocol
}

// The service has no terminal: an encrypted key must fail to load rather than wait for a passphrase.
int no_passphrase(char*, int, int, void*) {
    return 0;
}

std::string iso8601(const ASN1_TIME* time) {
    std::tm tm{};
    if (ASN1_TIME_to_tm(time, &tm) != 1) return {};
    std::array<char, 32> text{};
    const auto n = std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(text.data(), n);
}

std::string one_line_subject(X509* certificate) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    if (!bio) return {};
    // UTF-8 kept as it is for the log; control characters are still escaped, so it stays on one line.
    X509_NAME_print_ex(bio.get(), X509_get_subject_name(certificate), 0,
                       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

ListenerCertificate facts_of(SSL_CTX* ctx) {
    ListenerCertificate facts;
    X509* leaf = SSL_CTX_get0_certificate(ctx);
    if (!leaf) return facts;
    facts.subject = one_line_subject(leaf);
    const ASN1_TIME* not_after = X509_get0_notAfter(leaf);
    facts.not_after = iso8601(not_after);
    facts.expired = X509_cmp_current_time(not_after) < 0;
    STACK_OF(X509)* chain = nullptr;
    SSL_CTX_get0_chain_certs(ctx, &chain);
    facts.chain_length = 1 + (chain ? static_cast<std::size_t>(sk_X509_num(chain)) : 0);
    return facts;
}

void apply_policy(SSL_CTX* ctx) {
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1 || SSL_CTX_set_ciphersuites(ctx, tls13_suites) != 1)
        throw std::runtime_error("cannot set the listener's TLS protocol and ciphers: " + queued_reason());
    SSL_CTX_set_options(ctx,
                        SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_alpn_select_cb(ctx, select_http11, nullptr);
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
}

} // namespace

std::shared_ptr<ssl::context> make_listener_tls(const std::string& cert_file, const std::string& key_file,
                                                ListenerCertificate* facts) {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* ctx = context->native_handle();
    apply_policy(ctx);

    error_code ec;
    context->use_certificate_chain_file(cert_file, ec);
    if (ec)
        throw std::runtime_error("cannot read the TLS certificate chain " + cert_file + ": " + reason_of(ec));
    X509* const leaf = SSL_CTX_get0_certificate(ctx);

    const auto mismatch = [&](const std::string& reason) {
        return std::runtime_error("the TLS key " + key_file + " does not match the certificate " + cert_file +
                                  ": " + reason);
    };
    context->use_private_key_file(key_file, ssl::context::pem, ec);
    if (ec && is_key_mismatch(ec)) throw mismatch(reason_of(ec));
    if (ec) throw std::runtime_error("cannot read the TLS key " + key_file + ": " + key_read_reason(ec));
    // A key of another algorithm than the leaf's loads into a slot of its own; the leaf is then left keyless.
    if (SSL_CTX_get0_certificate(ctx) != leaf) {
        ERR_clear_error();
        throw mismatch("the key is of another type than the certificate's");
    }
    if (SSL_CTX_check_private_key(ctx) != 1) throw mismatch(queued_reason());

    if (facts) *facts = facts_of(ctx);
    return context;
}

ListenerTls::ListenerTls(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {
    context_ = make_listener_tls(cert_file_, key_file_, &certificate_);
}

std::shared_ptr<ssl::context> ListenerTls::current() const {
    std::lock_guard lock(mutex_);
    return context_;
}

std::string ListenerTls::reload() {
    ListenerCertificate facts;
    std::shared_ptr<ssl::context> fresh;
    try {
        fresh = make_listener_tls(cert_file_, key_file_, &facts);
    } catch (const std::exception& e) {
        return e.what();
    }
    std::lock_guard lock(mutex_);
    context_ = std::move(fresh);
    certificate_ = std::move(facts);
    return {};
}

ListenerCertificate ListenerTls::certificate() const {
    std::lock_guard lock(mutex_);
    return certificate_;
}

std::string_view classify_first_bytes(std::span<const unsigned char> bytes) {
    if (bytes.empty()) return "";
    if (bytes[0] == 0x16) { // a handshake record: the version's major byte is 3 for SSL 3.0 through TLS 1.3
        if (bytes.size() < 3) return "";
        return bytes[1] == 0x03 && bytes[2] <= 0x04 ? "tls" : "other";
    }
    // The longest method an HTTP client opens with (OPTIONS, CONNECT) is 7 letters, then the space.
    constexpr std::size_t longest_token = 7;
    for (std::size_t i = 0; i <= longest_token; ++i) {
        if (i == bytes.size()) return "";
        const unsigned char c = bytes[i];
        if (c == ' ') return i > 0 ? "http" : "other";
        if (c < 'A' || c > 'Z') return "other";
    }
    return "other";
}

} // namespace shim::net
