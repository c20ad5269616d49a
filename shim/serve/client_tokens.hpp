#pragma once
// Client tokens: each integration authenticates to the shim with a token of its own, so the VirusTotal key
// stays with the shim and one client can be cut off without changing the key. The tokens file holds only each
// token's SHA-256, so whoever reads the file (or a backup of it) still cannot present a token.
//
// The file, one client a line (blank lines and lines starting with # ignored):
//   NAME sha256:HEX [quota-per-minute=N]
// NAME is 1 to 64 of A-Z a-z 0-9 . _ -; HEX is the token's SHA-256 as 64 hex digits (either case); N is 1 to
// 1000000 upstream requests in any 60 s for this client, within the key's own quota. Names and hashes are
// unique.
#include <array>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace shim::serve {

struct ClientToken {
    std::string name;
    std::array<unsigned char, 32> sha256{};
    unsigned quota_per_minute = 0; // 0: only the key's quota
};

// The NAME rule of the tokens file, for whatever else names a client (`sigma-shim token new`).
bool valid_client_name(std::string_view name);

// One tokens file's clients, immutable once parsed, so threads can share it without locking.
class ClientTokens {
public:
    ClientTokens() = default; // no clients: no token is accepted

    // On success `error` is empty. On error, an empty table and `error` says which line and what is wrong,
    // never quoting a hash.
    static ClientTokens parse(std::string_view text, std::string& error);

    // The client whose token this is, or nullptr (always for an empty token). The token's hash is compared
    // with every entry, match or not, so the time taken says nothing of which entry matched or how close a
    // guess came.
    const ClientToken* find(std::string_view presented) const;
    // The client's quota-per-minute; 0 for a client without one or not in the table.
    unsigned quota_per_minute(std::string_view name) const;
    std::size_t size() const { return clients_.size(); }

private:
    std::vector<ClientToken> clients_;
};

// The tokens file named by --client-tokens, re-read on demand (a reload): a failed read keeps the table in
// use, so a bad edit never locks every client out. Thread-safe: a reader keeps the table it got while a load
// replaces it.
class ClientTokenFile {
public:
    explicit ClientTokenFile(std::string path);

    // Reads and parses the file and, when both succeed, makes it the current table. "" on success, else one
    // line naming the path and what is wrong; the previous table is then kept.
    std::string load();
    // Before the first successful load, an empty table.
    std::shared_ptr<const ClientTokens> current() const;
    const std::string& path() const { return path_; }

private:
    const std::string path_;
    mutable std::mutex mutex_;
    std::shared_ptr<const ClientTokens> current_;
};

// A new client token: 32 bytes from OpenSSL's CSPRNG as base64url without padding (43 characters, safe in a
// header and a shell word). Throws std::runtime_error if the CSPRNG fails.
std::string new_client_token();

} // namespace shim::serve
