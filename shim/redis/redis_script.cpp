#include "redis/redis_script.hpp"

#include <openssl/sha.h>

namespace shim::redis {
namespace {

std::string hex_sha1(const std::string& text) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * SHA_DIGEST_LENGTH);
    for (const unsigned char byte : digest) {
        out.push_back(digits[byte >> 4]);
        out.push_back(digits[byte & 0x0f]);
    }
    return out;
}

// EVALSHA's or EVAL's arguments: the script (digest or source), the key count, the keys, the arguments.
std::vector<std::string> command(const char* verb, const std::string& script,
                                 const std::vector<std::string>& keys, const std::vector<std::string>& args) {
    std::vector<std::string> out;
    out.reserve(3 + keys.size() + args.size());
    out.emplace_back(verb);
    out.push_back(script);
    out.push_back(std::to_string(keys.size()));
    out.insert(out.end(), keys.begin(), keys.end());
    out.insert(out.end(), args.begin(), args.end());
    return out;
}

} // namespace

RedisScript::RedisScript(std::string source) : source_(std::move(source)), sha1_(hex_sha1(source_)) {}

boost::asio::awaitable<RedisResult> RedisScript::run(RedisClient& client, std::vector<std::string> keys,
                                                     std::vector<std::string> args) const {
    auto evalsha = command("EVALSHA", sha1_, keys, args);
    auto result = co_await client.call(std::move(evalsha));
    if (result.failure == RedisFailure::reply && result.error.starts_with("NOSCRIPT")) {
        auto eval = command("EVAL", source_, keys, args);
        result = co_await client.call(std::move(eval));
    }
    co_return result;
}

} // namespace shim::redis
