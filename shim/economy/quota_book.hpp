#pragma once
// Per-key request quotas counted as VirusTotal counts them: "at most N requests of any nature in any given
// 1 minute time frame" (a sliding minute, not a bucket), plus a UTC day and a UTC calendar month (a public
// key: 4 a minute, 500 a day). Pure and clock-injected: the caller passes the steady time (minute window,
// upstream marks) and the wall time (day and month) to every call. Thread-safe: every member locks one mutex.
// Keys are opaque strings: the caller passes a hash of the API key, never the key itself.
//
// The decision rule, stated so that another ledger (a script in Redis, using Redis's TIME) can apply it to
// the same effect. For one key at time `now` (wall time `wall`), where `now` is first raised to the latest
// `now` the key has seen (callers read clocks before they serialise, and a clock may step back: a key's time
// never goes back, so what left the window stays out):
//   minute: the log holds the times of the key's admitted requests. A logged time t is in the window iff
//           t > now - 60 s (strictly: a request admitted at t has left the window at exactly t + 60 s, so
//           requests at 0 s and 60 s never share a window; every half-open minute [a, a + 60 s) holds at
//           most per_minute admitted requests). Allowed iff fewer than per_minute logged times are in the
//           window. When refused with c >= per_minute times in the window, sorted ascending as w[0..c-1], the
//           wait is w[c - per_minute] + 60 s - now (> 0): the moment enough of them have left. Times out of
//           the window can be dropped, so the log holds at most per_minute times. Times compare in the
//           clock's own unit (nanoseconds here, microseconds from Redis's TIME); only the wait is rounded.
//   day:    the UTC day is floor(unix seconds of wall / 86400). The key's count belongs to one day; when wall
//           is in a later day the count restarts at 0 (a wall clock stepping back to an earlier day keeps
//           counting into the later one: it never restarts the count). Allowed iff count < per_day. Wait:
//           00:00 UTC after the counted day - wall.
//   month:  the same with the UTC calendar month (proleptic Gregorian) of that day, as the month index
//           12 * year + (month - 1). Wait: 00:00 UTC on the 1st of the month after the counted one - wall.
//   upstream: refused while now < exhausted_until (the mark ends at exactly exhausted_until). Wait: the
//           difference.
// A request is admitted iff no window refuses; it is then logged in the minute window and counted in the day
// and month. A refused request is recorded nowhere. When several windows refuse, the longest wait wins (on a
// tie the first in the order upstream, minute, day, month). Every wait is rounded up to whole milliseconds,
// so waiting it out always suffices.
#include <chrono>
#include <cstdint>
#include <deque>
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
    unsigned per_month = 0;
};

// The length of the sliding minute window.
inline constexpr std::chrono::seconds minute_window{60};

struct QuotaDecision {
    bool allowed = false;
    // When refused: how long until a request could be allowed, rounded up to whole milliseconds (so >= 1 ms):
    // a request made this much later is admitted unless other requests took the room first.
    std::chrono::milliseconds wait{0};
    std::string window; // when refused: "minute", "day", "month" or "upstream" (an upstream 429's mark)
};

// nullopt for a window with no limit. Reflects the local windows only, not an upstream 429 mark.
struct QuotaRemaining {
    std::optional<unsigned> minute; // per_minute less the requests in the sliding window now
    std::optional<unsigned> day;
    std::optional<unsigned> month;
};

class QuotaBook {
public:
    explicit QuotaBook(QuotaLimits limits);

    // Any limit set. Upstream 429 marks still apply when false (see mark_exhausted).
    bool enabled() const;
    // Admits one request of `key` and records it in every window, or refuses it and records nothing (the
    // rule above).
    QuotaDecision try_take(const std::string& key, SteadyTime now, SystemTime wall);
    // An upstream 429 for `key`: refuse every request of that key until `until` (window "upstream"). An
    // earlier mark that ends later is kept.
    void mark_exhausted(const std::string& key, SteadyTime until);
    QuotaRemaining remaining(const std::string& key, SteadyTime now, SystemTime wall) const;
    // Keys seen by try_take or mark_exhausted, sorted, for metrics.
    std::vector<std::string> keys() const;

private:
    struct KeyState {
        // Admitted requests' steady times, ascending; none out of the window after a try_take. At most
        // per_minute of them.
        std::deque<SteadyTime> minute_log;
        SteadyTime latest{};  // the latest `now` of a try_take: a key's time never goes back
        std::int64_t day = 0; // days since the Unix epoch of `used_day`
        unsigned used_day = 0;
        std::int64_t month = 0; // 12 * year + (month - 1) of `used_month`
        unsigned used_month = 0;
        std::optional<SteadyTime> exhausted_until;
    };

    KeyState& state_locked(const std::string& key);

    const QuotaLimits limits_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, KeyState> keys_;
};

// How long an upstream 429 without Retry-After stops the key: the length of the minute window, by when every
// request VirusTotal counted has left it.
inline constexpr std::chrono::seconds default_upstream_backoff{60};

// Parses Retry-After: delta-seconds, or an HTTP-date (IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT")
// relative to `wall` (a date in the past gives 0 s). Surrounding spaces and tabs are ignored. nullopt when
// unparseable (including a negative or out-of-range number).
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, SystemTime wall);

} // namespace shim::economy
