#pragma once
// Each client token's own share of the upstream: at most N upstream requests in any 60 s for one client, so
// one busy integration cannot spend the whole key's quota. The key's quota (QuotaGuard) still applies on top.
// The window is the one QuotaBook applies to a key: a request admitted at t has left it at exactly t + 60 s.
// Thread-safe: every member locks one mutex. Memory stays bounded: a client's log holds at most its limit,
// and a client with nothing left in its window is forgotten.
#include "upstream/clock.hpp"

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace shim::upstream {

class ClientQuota {
public:
    // Admits one upstream request of `client` (and logs it) when fewer than `per_minute` of its requests are
    // in the window ending at `now`: nullopt. Refused: how long until enough of them have left the window,
    // rounded up to whole milliseconds (>= 1 ms), and nothing is logged. An empty client or a zero limit is
    // always admitted and logs nothing.
    std::optional<std::chrono::milliseconds> take(const std::string& client, unsigned per_minute,
                                                  Clock::SteadyTime now);

    // Clients with requests still logged, and how many are logged for one client (at most its limit), for
    // tests and metrics.
    std::size_t tracked_clients() const;
    std::size_t logged(const std::string& client) const;

private:
    // Drops what has left the window from every client and forgets the emptied ones; at most once a window,
    // so a client that stopped calling does not stay forever.
    void sweep_locked(Clock::SteadyTime now);

    mutable std::mutex mutex_;
    // Admitted requests' times per client, ascending.
    std::unordered_map<std::string, std::deque<Clock::SteadyTime>> logs_;
    std::optional<Clock::SteadyTime> next_sweep_;
};

} // namespace shim::upstream
