#include "redis/redis_reply.hpp"

#include <hiredis/hiredis.h>
#include <new>
#include <stdexcept>

namespace shim::redis {
namespace {

RedisValue from_hiredis(const redisReply& r) {
    switch (r.type) {
    case REDIS_REPLY_INTEGER:
        return RedisValue::of_integer(r.integer);
    case REDIS_REPLY_STATUS:
        return RedisValue::of_status(std::string(r.str, r.len));
    case REDIS_REPLY_STRING:
        return RedisValue::of_string(std::string(r.str, r.len));
    case REDIS_REPLY_ERROR:
        return RedisValue::of_error(std::string(r.str, r.len));
    case REDIS_REPLY_ARRAY: {
        std::vector<RedisValue> elements;
        elements.reserve(r.elements);
        for (std::size_t i = 0; i < r.elements; ++i)
            elements.push_back(from_hiredis(*r.element[i]));
        return RedisValue::of_array(std::move(elements));
    }
    default: // REDIS_REPLY_NIL, and a null array (*-1)
        return RedisValue::nil();
    }
}

struct ReplyDeleter {
    void operator()(void* reply) const { freeReplyObject(reply); }
};

} // namespace

struct ReplyParser::Reader {
    Reader() : reader(redisReaderCreate()) {
        if (!reader) throw std::bad_alloc();
    }
    ~Reader() { redisReaderFree(reader); }
    redisReader* reader;
};

void append_command(std::string& out, const std::vector<std::string>& args) {
    if (args.empty()) throw std::invalid_argument("a Redis command needs at least its name");
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    argv.reserve(args.size());
    lengths.reserve(args.size());
    for (const auto& arg : args) {
        argv.push_back(arg.data());
        lengths.push_back(arg.size());
    }
    char* command = nullptr;
    const int n =
        redisFormatCommandArgv(&command, static_cast<int>(args.size()), argv.data(), lengths.data());
    if (n < 0 || !command) throw std::bad_alloc();
    std::unique_ptr<char, void (*)(char*)> owned(command, redisFreeCommand);
    out.append(command, static_cast<std::size_t>(n));
}

ReplyParser::ReplyParser() : reader_(std::make_unique<Reader>()) {}

ReplyParser::~ReplyParser() = default;

void ReplyParser::feed(std::string_view bytes) {
    if (failed() || bytes.empty()) return;
    if (redisReaderFeed(reader_->reader, bytes.data(), bytes.size()) != REDIS_OK)
        error_ = std::string("cannot buffer the reply: ") + reader_->reader->errstr;
}

std::optional<RedisValue> ReplyParser::next() {
    if (failed()) return std::nullopt;
    void* raw = nullptr;
    if (redisReaderGetReply(reader_->reader, &raw) != REDIS_OK) {
        error_ = std::string("not a Redis reply: ") + reader_->reader->errstr;
        return std::nullopt;
    }
    if (!raw) return std::nullopt;
    std::unique_ptr<void, ReplyDeleter> owned(raw);
    return from_hiredis(*static_cast<const redisReply*>(raw));
}

} // namespace shim::redis
