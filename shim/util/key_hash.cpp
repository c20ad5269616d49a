#include "util/key_hash.hpp"

#include <climits>
#include <cstdint>
#include <cstring>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <random>
#include <stdexcept>
#include <vector>

namespace shim::util {

namespace {

std::string to_hex(const unsigned char* data, std::size_t size) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(size * 2, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0xF];
    }
    return out;
}

// The digest of the last key this thread asked for: valid until the thread asks for another key.
const std::string& last_key_digest(std::string_view api_key) {
    thread_local std::string last_key;
    thread_local std::string last_digest;
    if (last_digest.empty() || api_key != last_key) {
        last_digest = sha256_hex(api_key);
        last_key = api_key;
    }
    return last_digest;
}

} // namespace

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(data.data(), data.size(), md, &size, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("sha256: EVP_Digest failed");
    }
    return to_hex(md, size);
}

std::string key_digest(std::string_view api_key) {
    return last_key_digest(api_key);
}

std::string key_fingerprint(std::string_view api_key) {
    if (api_key.empty()) return {};
    return last_key_digest(api_key).substr(0, 12); // short enough to need no allocation
}

std::string random_hex(std::size_t bytes) {
    // RAND_bytes takes an int count.
    if (bytes > static_cast<std::size_t>(INT_MAX)) throw std::invalid_argument("random_hex: too many bytes");
    std::vector<unsigned char> buf(bytes);
    if (bytes > 0 && RAND_bytes(buf.data(), static_cast<int>(bytes)) != 1) {
        throw std::runtime_error("random_hex: RAND_bytes failed");
    }
    return to_hex(buf.data(), buf.size());
}

std::string new_request_id() {
    thread_local std::mt19937_64 generator = [] {
        const std::string seed = random_hex(32);
        std::seed_seq sequence(seed.begin(), seed.end());
        return std::mt19937_64(sequence);
    }();
    unsigned char bytes[16];
    for (std::size_t i = 0; i < sizeof bytes; i += 8) {
        const std::uint64_t word = generator();
        std::memcpy(bytes + i, &word, 8);
    }
    return to_hex(bytes, sizeof bytes);
}

} // namespace shim::util
