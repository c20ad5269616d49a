#pragma once
// A real redis-server for one test: started on a free port of 127.0.0.1 (and a unix socket when asked) in a
// scratch folder with persistence off, waited for by polling PING until a deadline, stopped by its PID.
// Its command() is the test's own second client: blocking, one fresh connection per call.
#include "redis/redis_reply.hpp"

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace redis_test {

class RedisServer {
public:
    struct Options {
        bool unix_socket = false;
        std::string requirepass;        // also what command() logs in with
        std::vector<std::string> extra; // more redis-server arguments, e.g. {"--user", "alice", "on", ...}
    };
    RedisServer() : RedisServer(Options{}) {}
    explicit RedisServer(Options options);
    ~RedisServer();
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    std::uint16_t port() const { return port_; }
    const std::string& socket_path() const { return socket_path_; }
    // redis://[auth@]127.0.0.1:PORT[/db]
    std::string url(const std::string& auth = {}, const std::string& db = {}) const;

    // SIGKILL and reaped: as a crash looks to a client.
    void kill();
    // SIGTERM and reaped.
    void stop();
    // Starts it again on the same port (and socket), empty.
    void restart();
    bool running() const { return pid_ > 0; }

    // The replies to `commands`, sent in order on one new connection (after AUTH when the server wants it).
    // Throws std::runtime_error when the server cannot be reached or does not answer within 10 s.
    std::vector<shim::redis::RedisValue>
    commands(const std::vector<std::vector<std::string>>& commands) const;
    shim::redis::RedisValue command(const std::vector<std::string>& args) const {
        return commands({args}).back();
    }

private:
    // Starts redis-server on port_; false when it exited at once (the port was taken meanwhile).
    bool launch();
    void signal_and_reap(int signal);

    Options options_;
    std::string dir_;
    std::string socket_path_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

// A port of 127.0.0.1 held by a socket that does not listen, for as long as this lives: a connect to it is
// refused, and no other process can take it meanwhile.
class RefusingPort {
public:
    RefusingPort();
    ~RefusingPort();
    RefusingPort(const RefusingPort&) = delete;
    RefusingPort& operator=(const RefusingPort&) = delete;
    std::uint16_t port() const { return port_; }
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

} // namespace redis_test
