#pragma once
// One line per interval for a kind of event that a peer can cause at will (a failed TLS handshake, say): a
// flood costs a line every interval, each saying how many it stands for, never a line per event.
#include <chrono>
#include <cstdint>
#include <mutex>

namespace shim::ops {

class LogThrottle {
public:
    using Clock = std::chrono::steady_clock;
    explicit LogThrottle(Clock::duration interval) : interval_(interval) {}

    // Whether a line may be written at `now`; when it may, `held_back` is how many were not since the last.
    bool allow(Clock::time_point now, std::uint64_t& held_back) {
        std::lock_guard lock(mutex_);
        if (now < next_) {
            ++held_back_;
            return false;
        }
        next_ = now + interval_;
        held_back = held_back_;
        held_back_ = 0;
        return true;
    }

private:
    const Clock::duration interval_;
    std::mutex mutex_;
    Clock::time_point next_{};
    std::uint64_t held_back_ = 0;
};

} // namespace shim::ops
