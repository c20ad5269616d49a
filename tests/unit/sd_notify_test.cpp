// The sd_notify protocol by hand (shim/ops/sd_notify.hpp): a unix datagram socket stands in for systemd's and
// reads what the shim sends, at a path and at an abstract name.
#include "ops/sd_notify.hpp"

#include <boost/test/unit_test.hpp>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

// A bound datagram socket, as the service manager holds one; closed and unlinked at the end of the test.
class Listener {
public:
    explicit Listener(const std::string& name) : name_(name) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        BOOST_REQUIRE(fd_ >= 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::memcpy(address.sun_path, name.data(), name.size());
        if (name.front() == '@') address.sun_path[0] = '\0';
        const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
        BOOST_REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&address), length) == 0);
    }
    ~Listener() {
        ::close(fd_);
        if (name_.front() == '/') std::filesystem::remove(name_);
    }

    // A datagram sent on a unix socket is queued before sendto returns, so it is there to read now or never.
    std::string take() {
        char buffer[512];
        const auto n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
        return n < 0 ? std::string("(none)") : std::string(buffer, static_cast<std::size_t>(n));
    }

private:
    std::string name_;
    int fd_ = -1;
};

std::string unique(const char* what) {
    return std::string(what) + "-" + std::to_string(::getpid());
}

} // namespace

BOOST_AUTO_TEST_SUITE(sd_notify)

BOOST_AUTO_TEST_CASE(a_datagram_reaches_a_socket_at_a_path) {
    const auto path = (std::filesystem::temp_directory_path() / unique("sigma-shim-notify")).string();
    Listener systemd(path);
    BOOST_TEST(shim::ops::sd_notify_to(path, "READY=1\nSTATUS=listening on 127.0.0.1:8080"));
    BOOST_TEST(systemd.take() == "READY=1\nSTATUS=listening on 127.0.0.1:8080");
    BOOST_TEST(shim::ops::sd_notify_to(path, "STOPPING=1"));
    BOOST_TEST(systemd.take() == "STOPPING=1");
    BOOST_TEST(systemd.take() == "(none)");
}

BOOST_AUTO_TEST_CASE(a_datagram_reaches_an_abstract_socket) {
    const auto name = "@" + unique("sigma-shim-notify-abstract");
    Listener systemd(name);
    BOOST_TEST(shim::ops::sd_notify_to(name, "READY=1"));
    BOOST_TEST(systemd.take() == "READY=1");
}

BOOST_AUTO_TEST_CASE(the_variable_names_the_socket) {
    const auto name = "@" + unique("sigma-shim-notify-env");
    Listener systemd(name);
    BOOST_REQUIRE(::setenv("NOTIFY_SOCKET", name.c_str(), 1) == 0);
    const bool sent = shim::ops::sd_notify("STOPPING=1");
    ::unsetenv("NOTIFY_SOCKET");
    BOOST_TEST(sent);
    BOOST_TEST(systemd.take() == "STOPPING=1");
    // Not started by systemd: nothing to tell, nothing sent.
    BOOST_TEST(!shim::ops::sd_notify("READY=1"));
}

BOOST_AUTO_TEST_CASE(what_is_not_a_unix_socket_name_sends_nothing) {
    BOOST_TEST(!shim::ops::sd_notify_to("", "READY=1"));
    BOOST_TEST(!shim::ops::sd_notify_to("@", "READY=1"));
    BOOST_TEST(!shim::ops::sd_notify_to("relative/notify", "READY=1"));
    BOOST_TEST(!shim::ops::sd_notify_to("vsock:2:1234", "READY=1"));
    BOOST_TEST(!shim::ops::sd_notify_to("/" + std::string(200, 'x'), "READY=1"));
    // A path where nobody listens: the send fails, and says so.
    BOOST_TEST(!shim::ops::sd_notify_to("/nonexistent/sigma-shim-notify", "READY=1"));
}

BOOST_AUTO_TEST_SUITE_END()
