#include "serve/client_tokens.hpp"

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdexcept>
#include <system_error>
#include <unordered_map>

namespace shim::serve {

namespace {

using Digest = std::array<unsigned char, 32>;

constexpr std::size_t max_name_length = 64;
constexpr unsigned max_quota_per_minute = 1000000;
constexpr std::string_view hash_prefix = "sha256:";
constexpr std::string_view quota_option = "quota-per-minute";

Digest digest_of(std::string_view data) {
    Digest out{};
    unsigned int size = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &size, EVP_sha256(), nullptr) != 1 ||
        size != out.size())
        throw std::runtime_error("sha256: EVP_Digest failed");
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool parse_hash(std::string_view field, Digest& out) {
    if (!field.starts_with(hash_prefix)) return false;
    field.remove_prefix(hash_prefix.size());
    if (field.size() != 2 * out.size()) return false;
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int high = hex_value(field[2 * i]);
        const int low = hex_value(field[2 * i + 1]);
        if (high < 0 || low < 0) return false;
        out[i] = static_cast<unsigned char>(high * 16 + low);
    }
    return true;
}

bool parse_quota(std::string_view text, unsigned& out) {
    // Digits only: from_chars alone would take a leading minus sign.
    if (text.empty() || text.size() > 7) return false;
    for (const char c : text)
        if (c < '0' || c > '9') return false;
    unsigned value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    if (value < 1 || value > max_quota_per_minute) return false;
    out = value;
    return true;
}

// An option's name is quoted back only when it looks like one: a token (43 characters) or a hash (64) pasted
// into the wrong column must not end up in a log.
bool quotable_option_name(std::string_view name) {
    if (name.empty() || name.size() > 32) return false;
    for (const char c : name)
        if (!((c >= 'a' && c <= 'z') || c == '-')) return false;
    return true;
}

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> fields;
    std::size_t at = 0;
    while (at < line.size()) {
        const auto start = line.find_first_not_of(" \t", at);
        if (start == std::string_view::npos) break;
        const auto end = std::min(line.find_first_of(" \t", start), line.size());
        fields.push_back(line.substr(start, end - start));
        at = end;
    }
    return fields;
}

// The client on one line, or an error (without the line number) in `error`.
ClientToken parse_line(const std::vector<std::string_view>& fields, std::string& error) {
    ClientToken client;
    if (!valid_client_name(fields[0])) {
        error = "the client name must be 1 to 64 characters of A-Z a-z 0-9 . _ -";
        return client;
    }
    client.name = fields[0];
    if (fields.size() < 2) {
        error = "client '" + client.name + "' has no token hash (sha256: and 64 hex digits)";
        return client;
    }
    if (!parse_hash(fields[1], client.sha256)) {
        error = "the token hash of client '" + client.name + "' is not sha256: and 64 hex digits";
        return client;
    }
    for (std::size_t i = 2; i < fields.size(); ++i) {
        const auto field = fields[i];
        const auto equals = field.find('=');
        const auto name = field.substr(0, equals);
        if (name != quota_option) {
            error = quotable_option_name(name)
                        ? "unknown option '" + std::string(name) + "' (the option is quota-per-minute=N)"
                        : "field " + std::to_string(i + 1) +
                              " is not an option (the option is quota-per-minute=N)";
            return client;
        }
        if (client.quota_per_minute != 0) {
            error = "quota-per-minute is given twice";
            return client;
        }
        const auto value = equals == std::string_view::npos ? std::string_view{} : field.substr(equals + 1);
        if (!parse_quota(value, client.quota_per_minute)) {
            error = "quota-per-minute must be a whole number from 1 to 1000000";
            return client;
        }
    }
    return client;
}

std::string base64url(const unsigned char* data, std::size_t size) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((size * 4 + 2) / 3);
    std::size_t i = 0;
    for (; i + 3 <= size; i += 3) {
        const std::uint32_t v =
            (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) | data[i + 2];
        for (const int shift : {18, 12, 6, 0})
            out += alphabet[(v >> shift) & 63];
    }
    const std::size_t rest = size - i;
    if (rest > 0) {
        std::uint32_t v = std::uint32_t{data[i]} << 16;
        if (rest == 2) v |= std::uint32_t{data[i + 1]} << 8;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        if (rest == 2) out += alphabet[(v >> 6) & 63];
    }
    return out;
}

} // namespace

bool valid_client_name(std::string_view name) {
    if (name.empty() || name.size() > max_name_length) return false;
    for (const char c : name) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                        c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

ClientTokens ClientTokens::parse(std::string_view text, std::string& error) {
    error.clear();
    ClientTokens table;
    std::unordered_map<std::string, std::size_t> name_lines;
    std::map<Digest, std::size_t> hash_lines;
    std::size_t number = 0;
    std::size_t at = 0;
    while (at < text.size()) {
        const auto end = std::min(text.find('\n', at), text.size());
        auto line = text.substr(at, end - at);
        at = end + 1;
        ++number;
        if (line.ends_with('\r')) line.remove_suffix(1);
        const auto fields = split_fields(line);
        if (fields.empty() || fields[0].starts_with('#')) continue;
        const auto fail = [&](const std::string& what) {
            error = "line " + std::to_string(number) + ": " + what;
            return ClientTokens{};
        };
        std::string problem;
        auto client = parse_line(fields, problem);
        if (!problem.empty()) return fail(problem);
        if (const auto seen = name_lines.find(client.name); seen != name_lines.end())
            return fail("client '" + client.name + "' is already named on line " +
                        std::to_string(seen->second));
        if (const auto seen = hash_lines.find(client.sha256); seen != hash_lines.end())
            return fail("client '" + client.name + "' has the same token hash as line " +
                        std::to_string(seen->second));
        name_lines.emplace(client.name, number);
        hash_lines.emplace(client.sha256, number);
        table.clients_.push_back(std::move(client));
    }
    return table;
}

const ClientToken* ClientTokens::find(std::string_view presented) const {
    if (presented.empty()) return nullptr;
    const Digest digest = digest_of(presented);
    const ClientToken* found = nullptr;
    for (const auto& client : clients_) {
        const bool same = CRYPTO_memcmp(digest.data(), client.sha256.data(), digest.size()) == 0;
        found = same ? &client : found;
    }
    return found;
}

unsigned ClientTokens::quota_per_minute(std::string_view name) const {
    for (const auto& client : clients_)
        if (client.name == name) return client.quota_per_minute;
    return 0;
}

ClientTokenFile::ClientTokenFile(std::string path)
    : path_(std::move(path)), current_(std::make_shared<const ClientTokens>()) {}

std::string ClientTokenFile::load() {
    const auto failed = [&](const std::string& what) { return "client tokens file " + path_ + ": " + what; };
    std::error_code ec;
    const auto status = std::filesystem::status(path_, ec);
    if (status.type() == std::filesystem::file_type::not_found) return failed("does not exist");
    if (ec) return failed("cannot be read (" + ec.message() + ")");
    if (!std::filesystem::is_regular_file(status)) return failed("is not a regular file");
    std::ifstream in(path_, std::ios::binary);
    if (!in) return failed("cannot be opened (" + std::generic_category().message(errno) + ")");
    std::string text;
    try {
        text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } catch (const std::exception&) {
        return failed("cannot be read");
    }
    if (in.bad()) return failed("cannot be read");
    std::string error;
    auto table = std::make_shared<const ClientTokens>(ClientTokens::parse(text, error));
    if (!error.empty()) return failed(error);
    const std::lock_guard lock(mutex_);
    current_ = std::move(table);
    return {};
}

std::shared_ptr<const ClientTokens> ClientTokenFile::current() const {
    const std::lock_guard lock(mutex_);
    return current_;
}

std::string new_client_token() {
    std::array<unsigned char, 32> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
        throw std::runtime_error("new_client_token: RAND_bytes failed");
    auto token = base64url(bytes.data(), bytes.size());
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return token;
}

} // namespace shim::serve
