// net::make_listener_tls and net::ListenerTls against a CA, leaves and keys made at test time (EC P-256,
// written as PEM to a directory of the test's own): what loads, each refusal and what it names, a reload that
// swaps the context while an old one stays usable, real handshakes on loopback (ALPN, versions, ciphers), and
// the first-byte classifier.
#include "net/listener_tls.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <span>
#include <stdexcept>
#include <stdlib.h>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace fs = std::filesystem;
using asio::ip::tcp;
using boost::system::error_code;
using shim::net::ListenerCertificate;
using shim::net::ListenerTls;
using shim::net::make_listener_tls;

struct OpenSslFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
    void operator()(X509* p) const { X509_free(p); }
    void operator()(BIO* p) const { BIO_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, OpenSslFree>;
using Certificate = std::unique_ptr<X509, OpenSslFree>;

Key ec_key() {
    Key key(EVP_EC_gen("P-256"));
    BOOST_REQUIRE(key);
    return key;
}

void add_extension(X509* certificate, X509V3_CTX& v3, int nid, const char* value) {
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    BOOST_REQUIRE(extension);
    X509_add_ext(certificate, extension, -1);
    X509_EXTENSION_free(extension);
}

struct Validity {
    const char* not_before = nullptr; // GeneralizedTime; nullptr: an hour ago
    const char* not_after = nullptr;  // nullptr: thirty days on
};

// A certificate for `key`, signed by `issuer_key` on behalf of `issuer` (itself when null). A CA may sign; a
// leaf names localhost and 127.0.0.1 and is for servers.
Certificate certificate(const std::string& common_name, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                        bool ca, Validity validity = {}) {
    static long serial = 1;
    Certificate x(X509_new());
    BOOST_REQUIRE(x);
    X509_set_version(x.get(), X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial++);
    if (validity.not_before)
        ASN1_TIME_set_string(X509_getm_notBefore(x.get()), validity.not_before);
    else
        X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
    if (validity.not_after)
        ASN1_TIME_set_string(X509_getm_notAfter(x.get()), validity.not_after);
    else
        X509_gmtime_adj(X509_getm_notAfter(x.get()), 30L * 24 * 3600);
    X509_set_pubkey(x.get(), key);
    X509_NAME* name = X509_get_subject_name(x.get());
    const std::string organisation = "sigma-shim tests";
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(organisation.c_str()), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
    X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
    if (ca) {
        add_extension(x.get(), v3, NID_basic_constraints, "critical,CA:TRUE");
        add_extension(x.get(), v3, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_extension(x.get(), v3, NID_basic_constraints, "critical,CA:FALSE");
        add_extension(x.get(), v3, NID_key_usage, "critical,digitalSignature");
        add_extension(x.get(), v3, NID_ext_key_usage, "serverAuth");
        add_extension(x.get(), v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    }
    BOOST_REQUIRE(X509_sign(x.get(), issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

std::string pem(X509* x) {
    std::unique_ptr<BIO, OpenSslFree> bio(BIO_new(BIO_s_mem()));
    BOOST_REQUIRE(PEM_write_bio_X509(bio.get(), x) == 1);
    return bio_text(bio.get());
}

std::string pem(EVP_PKEY* key) {
    std::unique_ptr<BIO, OpenSslFree> bio(BIO_new(BIO_s_mem()));
    BOOST_REQUIRE(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
    return bio_text(bio.get());
}

std::string encrypted_pem(EVP_PKEY* key) {
    const std::string passphrase = "correct horse";
    std::unique_ptr<BIO, OpenSslFree> bio(BIO_new(BIO_s_mem()));
    BOOST_REQUIRE(PEM_write_bio_PrivateKey(bio.get(), key, EVP_aes_256_cbc(),
                                           reinterpret_cast<const unsigned char*>(passphrase.data()),
                                           static_cast<int>(passphrase.size()), nullptr, nullptr) == 1);
    return bio_text(bio.get());
}

// The base64 lines of a PEM text: what must never show up in an error.
std::vector<std::string> pem_body_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t at = 0;
    while (at < text.size()) {
        auto end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(at, end - at);
        if (!line.empty() && line.rfind("-----", 0) != 0) lines.push_back(std::move(line));
        at = end + 1;
    }
    return lines;
}

std::string common_name(ssl::context& context) {
    X509* leaf = SSL_CTX_get0_certificate(context.native_handle());
    BOOST_REQUIRE(leaf);
    char text[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, text, sizeof text);
    return text;
}

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// A directory of the test's own, removed with everything in it.
struct TempDir {
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "listener_tls.XXXXXX").string();
        BOOST_REQUIRE(mkdtemp(pattern.data()));
        path = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string write(const std::string& name, const std::string& bytes) const {
        const auto file = (path / name).string();
        std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
        return file;
    }
    fs::path path;
};

// A CA and a leaf it signed for localhost; the chain file holds the leaf then the CA.
struct Pki {
    TempDir dir;
    Key ca_key = ec_key();
    Certificate ca = certificate("sigma-shim test CA", ca_key.get(), nullptr, nullptr, true);
    Key leaf_key = ec_key();
    Certificate leaf = certificate("localhost", leaf_key.get(), ca.get(), ca_key.get(), false);
    std::string ca_file = dir.write("ca.pem", pem(ca.get()));
    std::string chain_file = dir.write("chain.pem", pem(leaf.get()) + pem(ca.get()));
    std::string key_file = dir.write("leaf.key", pem(leaf_key.get()));

    // The message make_listener_tls throws for these files, or "" when they load.
    std::string load_error(const std::string& cert, const std::string& key) {
        try {
            make_listener_tls(cert, key);
        } catch (const std::runtime_error& e) {
            return e.what();
        }
        return {};
    }
};

// A client that trusts `ca_file` and checks that the server is localhost.
ssl::context client_context(const std::string& ca_file) {
    ssl::context context(ssl::context::tls_client);
    context.load_verify_file(ca_file);
    context.set_verify_mode(ssl::verify_peer);
    return context;
}

struct Handshake {
    error_code server, client;
    std::string server_alpn, client_alpn;
    int version = 0;
    std::string cipher;
};

std::string selected_alpn(SSL* ssl_handle) {
    const unsigned char* data = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl_handle, &data, &length);
    return std::string(reinterpret_cast<const char*>(data), length);
}

// One handshake over loopback, both ends on one io_context; `alpn` is the client's offer in wire form (a
// length byte before each name), none when empty. A side that fails closes its socket, so the other one
// always hears of it and run() returns.
Handshake handshake(ssl::context& server_context, ssl::context& client_ctx, const std::string& alpn) {
    asio::io_context ioc;
    tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    ssl::stream<tcp::socket> server(ioc, server_context);
    ssl::stream<tcp::socket> client(ioc, client_ctx);
    BOOST_REQUIRE(SSL_set_tlsext_host_name(client.native_handle(), "localhost") == 1);
    client.set_verify_callback(ssl::host_name_verification("localhost"));
    if (!alpn.empty())
        BOOST_REQUIRE(SSL_set_alpn_protos(client.native_handle(),
                                          reinterpret_cast<const unsigned char*>(alpn.data()),
                                          static_cast<unsigned int>(alpn.size())) == 0);
    Handshake result;
    acceptor.async_accept(server.next_layer(), [&](error_code ec) {
        if (ec) {
            result.server = ec;
            return;
        }
        server.async_handshake(ssl::stream_base::server, [&](error_code done) {
            result.server = done;
            if (done) server.next_layer().close();
        });
    });
    client.next_layer().async_connect(acceptor.local_endpoint(), [&](error_code ec) {
        if (ec) {
            result.client = ec;
            return;
        }
        client.async_handshake(ssl::stream_base::client, [&](error_code done) {
            result.client = done;
            if (done) client.next_layer().close();
        });
    });
    ioc.run();
    result.server_alpn = selected_alpn(server.native_handle());
    result.client_alpn = selected_alpn(client.native_handle());
    result.version = SSL_version(client.native_handle());
    if (const SSL_CIPHER* cipher = SSL_get_current_cipher(client.native_handle()))
        result.cipher = SSL_CIPHER_get_name(cipher);
    return result;
}

const std::string offer_http11 = std::string("\x08http/1.1", 9);

std::string_view classify(std::string_view bytes) {
    return shim::net::classify_first_bytes(
        std::span(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()));
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(listener_tls, Pki)

BOOST_AUTO_TEST_CASE(a_chain_and_its_key_load_with_the_facts) {
    ListenerCertificate facts;
    const auto context = make_listener_tls(chain_file, key_file, &facts);
    BOOST_REQUIRE(context);
    BOOST_TEST(facts.subject == "CN=localhost,O=sigma-shim tests");
    BOOST_TEST(facts.chain_length == 2u);
    BOOST_TEST(!facts.expired);
    BOOST_TEST(facts.not_after.size() == 20u); // 2024-05-06T07:08:09Z
    BOOST_TEST(facts.not_after[10] == 'T');
    BOOST_TEST(facts.not_after.back() == 'Z');
}

BOOST_AUTO_TEST_CASE(a_leaf_alone_is_a_chain_of_one) {
    const auto leaf_only = dir.write("leaf.pem", pem(leaf.get()));
    ListenerCertificate facts;
    make_listener_tls(leaf_only, key_file, &facts);
    BOOST_TEST(facts.chain_length == 1u);
}

BOOST_AUTO_TEST_CASE(the_policy_is_set_on_the_context) {
    const auto context = make_listener_tls(chain_file, key_file);
    SSL_CTX* ctx = context->native_handle();
    BOOST_TEST(SSL_CTX_get_min_proto_version(ctx) == TLS1_2_VERSION);
    const auto options = SSL_CTX_get_options(ctx);
    BOOST_TEST((options & SSL_OP_NO_COMPRESSION) != 0u);
    BOOST_TEST((options & SSL_OP_NO_RENEGOTIATION) != 0u);
    BOOST_TEST((options & SSL_OP_CIPHER_SERVER_PREFERENCE) != 0u);
}

BOOST_AUTO_TEST_CASE(a_key_of_another_certificate_does_not_match) {
    const auto other_key = ec_key();
    const auto other_pem = pem(other_key.get());
    const auto wrong_key = dir.write("other.key", other_pem);
    const auto error = load_error(chain_file, wrong_key);
    BOOST_TEST(has(error, "the TLS key " + wrong_key + " does not match the certificate " + chain_file),
               error);
    BOOST_TEST(error.find('\n') == std::string::npos);
    for (const auto& line : pem_body_lines(other_pem))
        BOOST_TEST(!has(error, line));
}

BOOST_AUTO_TEST_CASE(a_key_of_another_type_does_not_match) {
    Key ed25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    BOOST_REQUIRE(ed25519);
    const auto wrong_key = dir.write("ed25519.key", pem(ed25519.get()));
    const auto error = load_error(chain_file, wrong_key);
    BOOST_TEST(has(error, "the TLS key " + wrong_key + " does not match the certificate " + chain_file),
               error);
}

BOOST_AUTO_TEST_CASE(a_missing_file_is_named) {
    const auto missing = (dir.path / "nowhere.pem").string();
    auto error = load_error(missing, key_file);
    BOOST_TEST(has(error, "cannot read the TLS certificate chain " + missing + ": "), error);
    BOOST_TEST(has(error, "No such file"), error);
    error = load_error(chain_file, missing);
    BOOST_TEST(has(error, "cannot read the TLS key " + missing + ": "), error);
    BOOST_TEST(has(error, "No such file"), error);
}

BOOST_AUTO_TEST_CASE(garbage_is_refused) {
    const std::string not_pem = "this is not PEM at all\n";
    const std::string broken_pem =
        "-----BEGIN CERTIFICATE-----\nnot*base64*here!\n-----END CERTIFICATE-----\n";
    const std::string broken_key =
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END PRIVATE KEY-----\n";
    const auto garbage = dir.write("garbage.pem", not_pem);
    const auto broken = dir.write("broken.pem", broken_pem);
    const auto broken_key_file = dir.write("broken.key", broken_key);
    for (const auto& [cert, key, expected] : std::vector<std::tuple<std::string, std::string, std::string>>{
             {garbage, key_file, "cannot read the TLS certificate chain " + garbage + ": "},
             {broken, key_file, "cannot read the TLS certificate chain " + broken + ": "},
             {chain_file, garbage,
              "cannot read the TLS key " + garbage + ": no private key OpenSSL can decode in it"},
             {chain_file, broken_key_file,
              "cannot read the TLS key " + broken_key_file + ": no private key OpenSSL can decode in it"},
         }) {
        const auto error = load_error(cert, key);
        BOOST_TEST(has(error, expected), error);
        BOOST_TEST(error.find('\n') == std::string::npos);
        BOOST_TEST(!has(error, "c2VjcmV0LWJ5dGVz"));
    }
}

BOOST_AUTO_TEST_CASE(an_encrypted_key_is_refused_without_asking_for_a_passphrase) {
    const auto encrypted = dir.write("encrypted.key", encrypted_pem(leaf_key.get()));
    const auto error = load_error(chain_file, encrypted);
    BOOST_TEST(has(error, "cannot read the TLS key " + encrypted + ": "), error);
}

BOOST_AUTO_TEST_CASE(an_expired_certificate_loads_and_says_so) {
    const auto expired_key = ec_key();
    const auto expired = certificate("expired.localhost", expired_key.get(), ca.get(), ca_key.get(), false,
                                     {"20200101000000Z", "20200102030405Z"});
    const auto expired_chain = dir.write("expired.pem", pem(expired.get()) + pem(ca.get()));
    const auto expired_key_file = dir.write("expired.key", pem(expired_key.get()));
    ListenerCertificate facts;
    BOOST_REQUIRE(make_listener_tls(expired_chain, expired_key_file, &facts));
    BOOST_TEST(facts.expired);
    BOOST_TEST(facts.not_after == "2020-01-02T03:04:05Z");
    BOOST_TEST(facts.subject == "CN=expired.localhost,O=sigma-shim tests");
}

BOOST_AUTO_TEST_CASE(an_intermediate_in_the_chain_file_is_sent) {
    const auto intermediate_key = ec_key();
    const auto intermediate =
        certificate("sigma-shim test intermediate", intermediate_key.get(), ca.get(), ca_key.get(), true);
    const auto below_key = ec_key();
    const auto below =
        certificate("localhost", below_key.get(), intermediate.get(), intermediate_key.get(), false);
    const auto chain = dir.write("below.pem", pem(below.get()) + pem(intermediate.get()));
    const auto key = dir.write("below.key", pem(below_key.get()));
    ListenerCertificate facts;
    const auto server = make_listener_tls(chain, key, &facts);
    BOOST_TEST(facts.chain_length == 2u);
    auto client = client_context(ca_file); // trusts the root only
    const auto r = handshake(*server, client, offer_http11);
    BOOST_TEST(!r.client, r.client.message());
    BOOST_TEST(!r.server, r.server.message());
}

BOOST_AUTO_TEST_CASE(a_reload_swaps_the_context_and_the_old_one_stays_usable) {
    ListenerTls tls(chain_file, key_file);
    BOOST_TEST(tls.cert_file() == chain_file);
    BOOST_TEST(tls.key_file() == key_file);
    const auto before = tls.current();
    BOOST_TEST(tls.current() == before);
    BOOST_TEST(tls.certificate().subject == "CN=localhost,O=sigma-shim tests");

    const auto next_key = ec_key();
    const auto next = certificate("next.localhost", next_key.get(), ca.get(), ca_key.get(), false);
    dir.write("chain.pem", pem(next.get()) + pem(ca.get()));
    dir.write("leaf.key", pem(next_key.get()));
    BOOST_TEST(tls.reload() == "");
    const auto after = tls.current();
    BOOST_TEST(after != before);
    BOOST_TEST(tls.certificate().subject == "CN=next.localhost,O=sigma-shim tests");
    BOOST_TEST(common_name(*after) == "next.localhost");

    // A connection that began before the reload keeps its context, which still serves.
    BOOST_TEST(common_name(*before) == "localhost");
    auto client = client_context(ca_file);
    const auto r = handshake(*before, client, offer_http11);
    BOOST_TEST(!r.client, r.client.message());
    BOOST_TEST(r.client_alpn == "http/1.1");
}

BOOST_AUTO_TEST_CASE(a_failed_reload_keeps_the_old_context) {
    ListenerTls tls(chain_file, key_file);
    const auto before = tls.current();
    const auto other_key = ec_key();
    dir.write("leaf.key", pem(other_key.get()));
    const auto error = tls.reload();
    BOOST_TEST(has(error, "does not match"), error);
    BOOST_TEST(tls.current() == before);
    BOOST_TEST(tls.certificate().subject == "CN=localhost,O=sigma-shim tests");

    fs::remove(chain_file);
    BOOST_TEST(has(tls.reload(), chain_file));
    BOOST_TEST(tls.current() == before);
}

BOOST_AUTO_TEST_CASE(the_constructor_throws_like_make_listener_tls) {
    const auto missing = (dir.path / "nowhere.key").string();
    BOOST_CHECK_EXCEPTION(ListenerTls tls(chain_file, missing), std::runtime_error,
                          [&](const std::runtime_error& e) { return has(e.what(), missing); });
}

BOOST_AUTO_TEST_CASE(a_client_offering_http11_gets_it_over_tls12_or_later) {
    const auto server = make_listener_tls(chain_file, key_file);
    auto client = client_context(ca_file);
    const auto r = handshake(*server, client, std::string("\x02h2\x08http/1.1", 12));
    BOOST_TEST(!r.client, r.client.message());
    BOOST_TEST(!r.server, r.server.message());
    BOOST_TEST(r.client_alpn == "http/1.1");
    BOOST_TEST(r.server_alpn == "http/1.1");
    BOOST_TEST(r.version >= TLS1_2_VERSION);
}

BOOST_AUTO_TEST_CASE(a_client_without_alpn_is_served) {
    const auto server = make_listener_tls(chain_file, key_file);
    auto client = client_context(ca_file);
    const std::string no_alpn;
    const auto r = handshake(*server, client, no_alpn);
    BOOST_TEST(!r.client, r.client.message());
    BOOST_TEST(!r.server, r.server.message());
    BOOST_TEST(r.client_alpn == "");
}

BOOST_AUTO_TEST_CASE(a_client_offering_only_other_protocols_is_refused) {
    const auto server = make_listener_tls(chain_file, key_file);
    auto client = client_context(ca_file);
    const auto r = handshake(*server, client, std::string("\x02h2", 3));
    BOOST_TEST(r.server.failed());
    BOOST_TEST(r.client.failed());
    BOOST_TEST(has(r.client.message(), "no application protocol"), r.client.message());
}

BOOST_AUTO_TEST_CASE(a_tls11_client_is_refused) {
    const auto server = make_listener_tls(chain_file, key_file);
    auto client = client_context(ca_file);
    // OpenSSL 3 offers TLS 1.1 only at security level 0: without it the client would give up before
    // sending anything and the server's refusal would go untested.
    SSL_CTX_set_security_level(client.native_handle(), 0);
    SSL_CTX_set_max_proto_version(client.native_handle(), TLS1_1_VERSION);
    BOOST_REQUIRE(SSL_CTX_set_cipher_list(client.native_handle(), "DEFAULT:@SECLEVEL=0") == 1);
    const auto r = handshake(*server, client, offer_http11);
    BOOST_TEST(r.client.failed());
    BOOST_TEST(r.server.failed());
    BOOST_TEST(has(r.server.message(), "unsupported protocol"), r.server.message());
}

BOOST_AUTO_TEST_CASE(tls12_gets_the_servers_aead_choice_and_nothing_weaker) {
    const auto server = make_listener_tls(chain_file, key_file);
    auto client = client_context(ca_file);
    SSL_CTX_set_max_proto_version(client.native_handle(), TLS1_2_VERSION);
    // The client prefers AES-256; the server's order puts AES-128 first.
    BOOST_REQUIRE(SSL_CTX_set_cipher_list(client.native_handle(),
                                          "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256") ==
                  1);
    auto r = handshake(*server, client, offer_http11);
    BOOST_TEST(!r.client, r.client.message());
    BOOST_TEST(r.version == TLS1_2_VERSION);
    BOOST_TEST(r.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256");

    auto cbc_client = client_context(ca_file);
    SSL_CTX_set_max_proto_version(cbc_client.native_handle(), TLS1_2_VERSION);
    BOOST_REQUIRE(SSL_CTX_set_cipher_list(cbc_client.native_handle(),
                                          "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA") == 1);
    r = handshake(*server, cbc_client, offer_http11);
    BOOST_TEST(r.client.failed());
    BOOST_TEST(has(r.server.message(), "no shared cipher"), r.server.message());
}

BOOST_AUTO_TEST_CASE(first_bytes_are_classified) {
    BOOST_TEST(classify(std::string_view("\x16\x03\x01\x02\x00\x01\x00\x01", 8)) == "tls");
    BOOST_TEST(classify(std::string_view("\x16\x03\x03", 3)) == "tls");
    BOOST_TEST(classify("GET / HTTP/1.1\r\n") == "http");
    BOOST_TEST(classify("GET /") == "http");
    BOOST_TEST(classify("POST /api") == "http");
    BOOST_TEST(classify("OPTIONS * HTTP/1.1") == "http");
    BOOST_TEST(classify("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") == "http");
    BOOST_TEST(classify(std::string_view("\x80\x2e\x01\x03\x01\x00\x15\x00", 8)) == "other"); // SSLv2 hello
    BOOST_TEST(classify(std::string_view("\x16\x7f\x00\x00", 4)) == "other");
    BOOST_TEST(classify(std::string_view("\x00\xff\x13\x37\xde\xad\xbe\xef", 8)) == "other");
    BOOST_TEST(classify("get / HTTP/1.1") == "other");
    BOOST_TEST(classify(" GET /") == "other");
    BOOST_TEST(classify("ABCDEFGH /") == "other"); // longer than any method
    BOOST_TEST(classify("SSH-2.0-OpenSSH") == "other");
}

BOOST_AUTO_TEST_CASE(too_few_bytes_to_decide_ask_for_more) {
    BOOST_TEST(classify("") == "");
    BOOST_TEST(classify(std::string_view("\x16", 1)) == "");
    BOOST_TEST(classify(std::string_view("\x16\x03", 2)) == "");
    BOOST_TEST(classify("GE") == "");
    BOOST_TEST(classify("OPTIONS") == "");
}

BOOST_AUTO_TEST_SUITE_END()
