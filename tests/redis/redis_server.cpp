#include "redis_server.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <netinet/in.h>
#include <optional>
#include <spawn.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace redis_test {
namespace {

using namespace std::chrono_literals;
using shim::redis::RedisValue;

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

// A connected socket whose reads and writes give up after `limit`; -1 when nothing accepts.
int connect_to(std::uint16_t port, std::chrono::seconds limit) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(limit.count());
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const auto address = loopback(port);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Sends `commands` on `fd` and reads as many replies; nullopt when the connection fails or times out.
std::optional<std::vector<RedisValue>> exchange(int fd,
                                                const std::vector<std::vector<std::string>>& commands) {
    std::string out;
    for (const auto& command : commands)
        shim::redis::append_command(out, command);
    for (std::size_t sent = 0; sent < out.size();) {
        const auto n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return std::nullopt;
        sent += static_cast<std::size_t>(n);
    }
    shim::redis::ReplyParser parser;
    std::vector<RedisValue> replies;
    char buffer[16384];
    while (replies.size() < commands.size()) {
        if (auto reply = parser.next()) {
            replies.push_back(std::move(*reply));
            continue;
        }
        if (parser.failed()) return std::nullopt;
        const auto n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) return std::nullopt;
        parser.feed({buffer, static_cast<std::size_t>(n)});
    }
    return replies;
}

// A port of 127.0.0.1 that nothing listened on a moment ago.
std::uint16_t free_port() {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto address = loopback(0);
    socklen_t length = sizeof address;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
        throw std::runtime_error("no free port: " + std::string(std::strerror(errno)));
    return ntohs(address.sin_port);
}

} // namespace

RefusingPort::RefusingPort() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    auto address = loopback(0);
    socklen_t length = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        if (fd_ >= 0) ::close(fd_);
        throw std::runtime_error("no port to hold: " + std::string(std::strerror(errno)));
    }
    port_ = ntohs(address.sin_port);
}

RefusingPort::~RefusingPort() {
    ::close(fd_);
}

RedisServer::RedisServer(Options options) : options_(std::move(options)) {
    std::string pattern = (std::filesystem::temp_directory_path() / "sigma-redis-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
    dir_ = pattern;
    if (options_.unix_socket) socket_path_ = dir_ + "/redis.sock";
    // A port is free when we look, but another process may take it before redis-server binds it: then
    // redis-server exits at once, and another port is tried.
    for (int attempt = 0; attempt < 10; ++attempt) {
        port_ = free_port();
        if (launch()) return;
    }
    std::filesystem::remove_all(dir_);
    throw std::runtime_error("redis-server did not start; see its log in " + dir_);
}

RedisServer::~RedisServer() {
    if (running()) signal_and_reap(SIGTERM);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

std::string RedisServer::url(const std::string& auth, const std::string& db) const {
    return "redis://" + (auth.empty() ? "" : auth + "@") + "127.0.0.1:" + std::to_string(port_) +
           (db.empty() ? "" : "/" + db);
}

bool RedisServer::launch() {
    std::vector<std::string> args = {
        "redis-server", "--port",    std::to_string(port_), "--bind",      "127.0.0.1",
        "--save",       "",          "--appendonly",        "no",          "--dir",
        dir_,           "--logfile", dir_ + "/redis.log",   "--daemonize", "no"};
    if (!socket_path_.empty()) {
        args.insert(args.end(), {"--unixsocket", socket_path_, "--unixsocketperm", "700"});
    }
    if (!options_.requirepass.empty()) args.insert(args.end(), {"--requirepass", options_.requirepass});
    args.insert(args.end(), options_.extra.begin(), options_.extra.end());
    std::vector<char*> argv;
    for (auto& arg : args)
        argv.push_back(arg.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, "redis-server", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot run redis-server: " + std::string(std::strerror(rc)));
    pid_ = pid;

    // Ready once it answers PING (NOAUTH counts: it answered); gone when it exited.
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < give_up) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return false;
        }
        if (Fd fd(connect_to(port_, 1s)); fd.get() >= 0) {
            if (exchange(fd.get(), {{"PING"}})) return true;
        }
        std::this_thread::sleep_for(5ms); // the poll's pace, not a wait for something
    }
    signal_and_reap(SIGKILL);
    throw std::runtime_error("redis-server did not answer PING within 20 s");
}

void RedisServer::signal_and_reap(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
}

void RedisServer::kill() {
    signal_and_reap(SIGKILL);
}

void RedisServer::stop() {
    signal_and_reap(SIGTERM);
}

void RedisServer::restart() {
    if (running()) signal_and_reap(SIGTERM);
    if (!socket_path_.empty()) std::filesystem::remove(socket_path_);
    if (!launch())
        throw std::runtime_error("redis-server did not start again on port " + std::to_string(port_));
}

std::vector<RedisValue> RedisServer::commands(const std::vector<std::vector<std::string>>& list) const {
    Fd fd(connect_to(port_, 10s));
    if (fd.get() < 0) throw std::runtime_error("cannot connect to the test's redis-server");
    std::vector<std::vector<std::string>> all;
    if (!options_.requirepass.empty()) all.push_back({"AUTH", options_.requirepass});
    all.insert(all.end(), list.begin(), list.end());
    auto replies = exchange(fd.get(), all);
    if (!replies) throw std::runtime_error("the test's redis-server did not answer");
    if (!options_.requirepass.empty()) replies->erase(replies->begin());
    return *replies;
}

} // namespace redis_test
