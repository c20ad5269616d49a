#pragma once
// Readiness for systemd (Type=notify) without libsystemd: the sd_notify protocol is one datagram of
// "KEY=VALUE" lines sent to the unix socket the service manager names in $NOTIFY_SOCKET.
#include <string_view>

namespace shim::ops {

// Sends `state` (such as "READY=1" or "STOPPING=1") to the socket named by $NOTIFY_SOCKET. Without that
// variable (not started by systemd as Type=notify) it does nothing. Returns whether the datagram was sent;
// a failure is no reason to stop serving, so callers may ignore it.
bool sd_notify(std::string_view state);

// The same, to `socket`: an absolute path, or '@' then an abstract socket name. Anything else (empty, a
// relative path, systemd's vsock: addresses) sends nothing.
bool sd_notify_to(std::string_view socket, std::string_view state);

} // namespace shim::ops
