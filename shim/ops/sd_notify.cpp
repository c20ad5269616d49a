#include "ops/sd_notify.hpp"

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace shim::ops {
namespace {

struct Descriptor {
    int fd;
    ~Descriptor() {
        if (fd >= 0) ::close(fd);
    }
};

} // namespace

bool sd_notify_to(std::string_view socket, std::string_view state) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket.size() < 2 || socket.size() > sizeof(address.sun_path) ||
        (socket.front() != '/' && socket.front() != '@'))
        return false;
    std::memcpy(address.sun_path, socket.data(), socket.size());
    // An abstract name starts with a NUL byte and is exactly as long as the length given says: no
    // terminator is counted.
    if (address.sun_path[0] == '@') address.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket.size());
    const Descriptor d{::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
    if (d.fd < 0) return false;
    const auto sent = ::sendto(d.fd, state.data(), state.size(), MSG_NOSIGNAL,
                               reinterpret_cast<const sockaddr*>(&address), length);
    return sent >= 0 && static_cast<std::size_t>(sent) == state.size();
}

bool sd_notify(std::string_view state) {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    return socket && sd_notify_to(socket, state);
}

} // namespace shim::ops
