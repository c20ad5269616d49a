#pragma once
// Per-key request quotas shaped like VirusTotal's (a public key: 4 requests a minute, 500 a day). Pure and
// clock-injected: the caller passes the steady time (and the wall time for the day window) to every call.
// Thread-safe: every member locks one mutex. Keys are opaque strings: the caller passes a hash of the API
// key, never the key itself.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace shim::economy {

using SteadyTime = std::chrono::steady_clock::time_point;
using SystemTime = std::chrono::system_clock::time_point;

struct QuotaLimits {
    unsigned per_minute = 0; // 0 = no limit in that window
    unsigned per_day = 0;
};

struct QuotaDecision {
    bool allowed = false;
    std::chrono::milliseconds wait{0}; // when refused: how long until a request could be allowed (>= 1 ms)
    std::string window; // when refused: "minute", "day" or "upstream" (marked exhausted by an upstream 429)
};

// nullopt for a window with no limit. Reflects the local windows only, not an upstream 429 mark.
struct QuotaRemaining {
    std::optional<double> minute; // tokens in the bucket, fractional while refilling
    std::optional<unsigned> day;
};

class QuotaBook {
public:
    explicit QuotaBook(QuotaLimits limits);

    // Any limit set. Upstream 429 marks still apply when false (see mark_exhausted).
    bool enabled() const;
    // Takes one request from `key`'s allowance in every window, or refuses without taking anything.
    // Minute window: a token bucket of capacity per_minute refilled continuously at per_minute per 60 s
    // (starts full; accounted in whole microseconds, so it is exact). Day window: a count that resets at
    // 00:00 UTC (the day is floor(unix seconds of `wall` / 86400); a wall clock stepping back to an earlier
    // day does not reset it). When several windows refuse, the decision carries the longest wait.
    QuotaDecision try_take(const std::string& key, SteadyTime now, SystemTime wall);
    // An upstream 429 for `key`: refuse every request of that key until `until` (window "upstream"). An
    // earlier mark that ends later is kept.
    void mark_exhausted(const std::string& key, SteadyTime until);
    QuotaRemaining remaining(const std::string& key, SteadyTime now, SystemTime wall) const;
    // Keys seen by try_take or mark_exhausted, sorted, for metrics.
    std::vector<std::string> keys() const;

private:
    struct KeyState {
        std::int64_t credit = 0;  // minute bucket, in token-microseconds: one token = 60'000'000
        SteadyTime refilled_at{}; // the time `credit` is accounted up to
        std::int64_t day = 0;     // days since the Unix epoch of `used_today`
        unsigned used_today = 0;
        std::optional<SteadyTime> exhausted_until;
    };

    KeyState& state_locked(const std::string& key, SteadyTime now);
    void refill(KeyState& state, SteadyTime now) const;

    const QuotaLimits limits_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, KeyState> keys_;
};

// When an upstream 429 without Retry-After frees the key again: the next minute-window refill.
inline constexpr std::chrono::seconds default_upstream_backoff{60};

// Parses Retry-After: delta-seconds, or an HTTP-date (IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT")
// relative to `wall` (a date in the past gives 0 s). Surrounding spaces and tabs are ignored. nullopt when
// unparseable (including a negative or out-of-range number).
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, SystemTime wall);

} // namespace shim::economy
