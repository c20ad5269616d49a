#pragma once
// Hashing and randomness for the server: API keys are logged and counted only by fingerprint, never in clear.
#include <cstddef>
#include <string>
#include <string_view>

namespace shim::util {

std::string sha256_hex(std::string_view data); // 64 lowercase hex digits
// sha256_hex(api_key), remembered per thread for the last key asked: the cache, the quota, coalescing and the
// log all key by it, and a client sends the same key request after request.
std::string key_digest(std::string_view api_key);
// The first 12 hex digits of sha256_hex(api_key): enough to tell keys apart in logs, too short to confirm a
// guessed key offline with much confidence. "" for an empty key, so "no key" is not mistaken for a key.
std::string key_fingerprint(std::string_view api_key);
// 2 * bytes lowercase hex digits from OpenSSL's CSPRNG, for request ids. Throws std::runtime_error if it
// fails.
std::string random_hex(std::size_t bytes);
// 32 lowercase hex digits for a request id: a per-thread generator seeded from random_hex, as ids need to be
// distinct, not secret, and asking OpenSSL for every request cost more than the rest of a cached answer's id.
std::string new_request_id();

} // namespace shim::util
