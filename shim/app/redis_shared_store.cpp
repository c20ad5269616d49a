#include "app/redis_shared_store.hpp"

#include <algorithm>

namespace shim::app {
namespace {

namespace asio = boost::asio;
using redis::RedisResult;
using redis::RedisValue;
using upstream::SharedResult;
using upstream::SharedStatus;

constexpr const char* unlock_source =
    "if redis.call('GET',KEYS[1])==ARGV[1] then return redis.call('DEL',KEYS[1]) end return 0";

const SharedResult unavailable{SharedStatus::unavailable, {}};

// Redis refuses PX 0; a TTL rounded down to nothing still means "a moment".
std::string px(std::chrono::milliseconds ttl) {
    return std::to_string(std::max<std::int64_t>(1, ttl.count()));
}

// SET's reply: OK when it was set, nil when NX found the key taken.
SharedResult set_reply(const RedisResult& r) {
    if (!r.ok()) return unavailable;
    if (r.value.type == RedisValue::Type::status && r.value.text == "OK") return {SharedStatus::ok, {}};
    if (r.value.is_nil()) return {SharedStatus::absent, {}};
    return unavailable;
}

} // namespace

RedisSharedStore::RedisSharedStore(redis::RedisClient& client)
    : client_(client), unlock_script_(unlock_source) {}

asio::awaitable<SharedResult> RedisSharedStore::get(std::string key) {
    std::vector<std::string> command{"GET", std::move(key)};
    auto r = co_await client_.call(std::move(command));
    if (!r.ok()) co_return unavailable;
    if (r.value.is_nil()) co_return SharedResult{SharedStatus::absent, {}};
    if (r.value.type != RedisValue::Type::string) co_return unavailable;
    co_return SharedResult{SharedStatus::ok, std::move(r.value.text)};
}

asio::awaitable<SharedResult> RedisSharedStore::put(std::string key, std::string value,
                                                    std::chrono::milliseconds ttl) {
    std::vector<std::string> command{"SET", std::move(key), std::move(value), "PX", px(ttl)};
    const auto r = co_await client_.call(std::move(command));
    const auto result = set_reply(r);
    co_return result.status == SharedStatus::absent ? unavailable : result;
}

asio::awaitable<SharedResult> RedisSharedStore::lock(std::string key, std::string owner,
                                                     std::chrono::milliseconds ttl) {
    std::vector<std::string> command{"SET", std::move(key), std::move(owner), "NX", "PX", px(ttl)};
    const auto r = co_await client_.call(std::move(command));
    co_return set_reply(r);
}

asio::awaitable<SharedResult> RedisSharedStore::unlock(std::string key, std::string owner) {
    std::vector<std::string> keys{std::move(key)};
    std::vector<std::string> args{std::move(owner)};
    const auto r = co_await unlock_script_.run(client_, std::move(keys), std::move(args));
    if (!r.ok() || r.value.type != RedisValue::Type::integer) co_return unavailable;
    co_return SharedResult{r.value.integer > 0 ? SharedStatus::ok : SharedStatus::absent, {}};
}

} // namespace shim::app
