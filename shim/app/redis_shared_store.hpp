#pragma once
// The store replicas share objects through (upstream/shared_store.hpp), kept in Redis: get is GET, put is
// SET PX, a lock is SET NX PX with its owner as the value, and unlock deletes the lock only while its owner
// still holds it (a Lua compare-and-delete, so that a lock which expired and was taken by another replica is
// not freed by its first owner). Anything but a normal reply (a timeout, no connection, an error reply, a
// reply of another shape) is `unavailable`: the layer above then carries on alone. Keys are taken as the
// layer names them, all under `sigma-shim:` and holding the SHA-256 of an API key, never the key.
#include "redis/redis_client.hpp"
#include "redis/redis_script.hpp"
#include "upstream/shared_store.hpp"

namespace shim::app {

class RedisSharedStore final : public upstream::SharedStore {
public:
    explicit RedisSharedStore(redis::RedisClient& client);

    boost::asio::awaitable<upstream::SharedResult> get(std::string key) override;
    boost::asio::awaitable<upstream::SharedResult> put(std::string key, std::string value,
                                                       std::chrono::milliseconds ttl) override;
    boost::asio::awaitable<upstream::SharedResult> lock(std::string key, std::string owner,
                                                        std::chrono::milliseconds ttl) override;
    boost::asio::awaitable<upstream::SharedResult> unlock(std::string key, std::string owner) override;

private:
    redis::RedisClient& client_;
    const redis::RedisScript unlock_script_;
};

} // namespace shim::app
