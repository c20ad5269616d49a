#pragma once
// The Redis protocol (RESP2) without the socket: commands encoded and replies parsed by hiredis, whose
// headers only redis_reply.cpp includes, and replies as plain C++ values that own their bytes.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shim::redis {

struct RedisValue {
    enum class Type { nil, integer, status, string, error, array };
    Type type = Type::nil;
    std::int64_t integer = 0;
    std::string text;                 // status ("OK"), bulk string (any bytes), error ("NOSCRIPT ...")
    std::vector<RedisValue> elements; // array

    bool is_nil() const { return type == Type::nil; }
    bool is_error() const { return type == Type::error; }

    static RedisValue nil() { return {}; }
    static RedisValue of_integer(std::int64_t i) { return {Type::integer, i, {}, {}}; }
    static RedisValue of_status(std::string s) { return {Type::status, 0, std::move(s), {}}; }
    static RedisValue of_string(std::string s) { return {Type::string, 0, std::move(s), {}}; }
    static RedisValue of_error(std::string s) { return {Type::error, 0, std::move(s), {}}; }
    static RedisValue of_array(std::vector<RedisValue> e) { return {Type::array, 0, {}, std::move(e)}; }

    bool operator==(const RedisValue&) const = default;
};

// Appends one command (binary-safe arguments, at least one) in the protocol's wire form to `out`.
// Throws std::invalid_argument for an empty command.
void append_command(std::string& out, const std::vector<std::string>& args);

// Replies taken from a byte stream as it arrives, in order.
class ReplyParser {
public:
    ReplyParser();
    ~ReplyParser();
    ReplyParser(const ReplyParser&) = delete;
    ReplyParser& operator=(const ReplyParser&) = delete;

    void feed(std::string_view bytes);
    // The next complete reply; nullopt when more bytes are needed or the stream is broken (see failed()).
    std::optional<RedisValue> next();
    // The stream is not the protocol; nothing more can be read from it.
    bool failed() const { return !error_.empty(); }
    const std::string& error() const { return error_; }

private:
    struct Reader;
    std::unique_ptr<Reader> reader_;
    std::string error_;
};

} // namespace shim::redis
