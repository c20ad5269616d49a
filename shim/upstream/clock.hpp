#pragma once
// The time as the upstream layers read it: steady time for freshness, waits and windows, wall time for the
// UTC day and Retry-After dates. Injected, so that a test moves time by hand instead of sleeping.
#include <chrono>

namespace shim::upstream {

class Clock {
public:
    using SteadyTime = std::chrono::steady_clock::time_point;
    using WallTime = std::chrono::system_clock::time_point;

    virtual ~Clock() = default;
    virtual SteadyTime steady_now() const = 0;
    virtual WallTime wall_now() const = 0;
};

// The machine's clocks.
class SystemClock final : public Clock {
public:
    SteadyTime steady_now() const override { return std::chrono::steady_clock::now(); }
    WallTime wall_now() const override { return std::chrono::system_clock::now(); }
};

// A clock that stands still until told to move: both times move together.
class ManualClock final : public Clock {
public:
    explicit ManualClock(WallTime wall = WallTime(std::chrono::hours(24 * 20000)))
        : steady_(std::chrono::hours(1)), wall_(wall) {}
    SteadyTime steady_now() const override { return steady_; }
    WallTime wall_now() const override { return wall_; }
    void advance(std::chrono::steady_clock::duration d) {
        steady_ += d;
        wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
    }

private:
    SteadyTime steady_;
    WallTime wall_;
};

} // namespace shim::upstream
