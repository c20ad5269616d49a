#include "economy/quota_book.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <system_error>

namespace shim::economy {

namespace {

using std::chrono::milliseconds;

std::int64_t unix_day(SystemTime wall) {
    return std::chrono::floor<std::chrono::days>(wall).time_since_epoch().count();
}

// 12 * year + (month - 1) of wall's UTC date: consecutive months have consecutive indexes.
std::int64_t month_index(SystemTime wall) {
    const std::chrono::year_month_day date{std::chrono::floor<std::chrono::days>(wall)};
    return std::int64_t{static_cast<int>(date.year())} * 12 + static_cast<unsigned>(date.month()) - 1;
}

// 00:00 UTC on the 1st of the month with index `month`.
std::chrono::sys_days month_start(std::int64_t month) {
    const std::int64_t year = month >= 0 ? month / 12 : -((-month + 11) / 12);
    const auto month_of_year = static_cast<unsigned>(month - year * 12 + 1);
    return std::chrono::year{static_cast<int>(year)} / std::chrono::month{month_of_year} / 1;
}

// At least 1 ms: a refusal always carries a wait.
template <class Duration>
milliseconds wait_of(Duration exact) {
    return std::max(std::chrono::ceil<milliseconds>(exact), milliseconds{1});
}

// How many logged times are in the window ending at `now`: those > now - 60 s.
std::size_t in_window(const std::deque<SteadyTime>& log, SteadyTime now) {
    const auto first = std::upper_bound(log.begin(), log.end(), now - minute_window);
    return static_cast<std::size_t>(log.end() - first);
}

} // namespace

QuotaBook::QuotaBook(QuotaLimits limits) : limits_(limits) {}

bool QuotaBook::enabled() const {
    return limits_.per_minute != 0 || limits_.per_day != 0 || limits_.per_month != 0;
}

QuotaBook::KeyState& QuotaBook::state_locked(const std::string& key) {
    const auto [it, inserted] = keys_.try_emplace(key);
    if (inserted) {
        it->second.day = std::numeric_limits<std::int64_t>::min();
        it->second.month = std::numeric_limits<std::int64_t>::min();
    }
    return it->second;
}

QuotaDecision QuotaBook::try_take(const std::string& key, SteadyTime now, SystemTime wall) {
    std::lock_guard lock(mutex_);
    KeyState& state = state_locked(key);
    // Callers read the clock before they take the lock, so `now` can come a little out of order: a key's time
    // never goes back, so the log stays sorted and what left the window stays out.
    now = std::max(now, state.latest);
    state.latest = now;
    auto& log = state.minute_log;
    // Times at or before now - 60 s have left the window for good.
    log.erase(log.begin(), std::upper_bound(log.begin(), log.end(), now - minute_window));
    // Only a later day or month restarts a count; an earlier one (the wall clock stepped back) counts on.
    if (const std::int64_t today = unix_day(wall); today > state.day) {
        state.day = today;
        state.used_day = 0;
    }
    if (const std::int64_t this_month = month_index(wall); this_month > state.month) {
        state.month = this_month;
        state.used_month = 0;
    }

    QuotaDecision refused;
    const auto refuse = [&refused](milliseconds wait, const char* window) {
        if (refused.window.empty() || wait > refused.wait) {
            refused.wait = wait;
            refused.window = window;
        }
    };

    if (state.exhausted_until) {
        if (now < *state.exhausted_until)
            refuse(wait_of(*state.exhausted_until - now), "upstream");
        else
            state.exhausted_until.reset();
    }
    if (limits_.per_minute != 0 && log.size() >= limits_.per_minute) {
        // Admitted once all but per_minute - 1 of the logged times have left the window.
        const SteadyTime frees = log[log.size() - limits_.per_minute] + minute_window;
        refuse(wait_of(frees - now), "minute");
    }
    if (limits_.per_day != 0 && state.used_day >= limits_.per_day) {
        const std::chrono::sys_days next_midnight{std::chrono::days{state.day + 1}};
        refuse(wait_of(next_midnight - wall), "day");
    }
    if (limits_.per_month != 0 && state.used_month >= limits_.per_month)
        refuse(wait_of(month_start(state.month + 1) - wall), "month");
    if (!refused.window.empty()) return refused;

    if (limits_.per_minute != 0) log.push_back(now);
    ++state.used_day;
    ++state.used_month;
    return QuotaDecision{true, milliseconds{0}, {}};
}

void QuotaBook::mark_exhausted(const std::string& key, SteadyTime until) {
    std::lock_guard lock(mutex_);
    KeyState& state = state_locked(key);
    if (!state.exhausted_until || until > *state.exhausted_until) state.exhausted_until = until;
}

QuotaRemaining QuotaBook::remaining(const std::string& key, SteadyTime now, SystemTime wall) const {
    std::lock_guard lock(mutex_);
    QuotaRemaining out;
    const auto found = keys_.find(key);
    const bool seen = found != keys_.end();
    const auto left = [](unsigned limit, std::size_t used) {
        return used >= limit ? 0u : limit - static_cast<unsigned>(used);
    };
    if (limits_.per_minute != 0)
        out.minute = left(limits_.per_minute, seen ? in_window(found->second.minute_log, now) : 0);
    if (limits_.per_day != 0)
        out.day =
            left(limits_.per_day, seen && found->second.day >= unix_day(wall) ? found->second.used_day : 0);
    if (limits_.per_month != 0)
        out.month = left(limits_.per_month,
                         seen && found->second.month >= month_index(wall) ? found->second.used_month : 0);
    return out;
}

std::vector<std::string> QuotaBook::keys() const {
    std::vector<std::string> out;
    {
        std::lock_guard lock(mutex_);
        out.reserve(keys_.size());
        for (const auto& entry : keys_)
            out.push_back(entry.first);
    }
    std::sort(out.begin(), out.end());
    return out;
}

namespace {

std::string_view trim(std::string_view text) {
    const auto blank = [](char c) { return c == ' ' || c == '\t'; };
    while (!text.empty() && blank(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && blank(text.back()))
        text.remove_suffix(1);
    return text;
}

// `count` decimal digits at `pos`, or -1.
int digits_at(std::string_view text, std::size_t pos, std::size_t count) {
    int value = 0;
    for (std::size_t i = pos; i < pos + count; ++i) {
        if (text[i] < '0' || text[i] > '9') return -1;
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

template <std::size_t N>
int index_of(const std::array<std::string_view, N>& names, std::string_view name) {
    for (std::size_t i = 0; i < N; ++i)
        if (names[i] == name) return static_cast<int>(i);
    return -1;
}

// IMF-fixdate (RFC 9110 section 5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT", exactly 29 characters. The day name
// must be a valid one but is not checked against the date.
std::optional<std::chrono::sys_seconds> parse_imf_fixdate(std::string_view text) {
    static constexpr std::array<std::string_view, 7> day_names{"Mon", "Tue", "Wed", "Thu",
                                                               "Fri", "Sat", "Sun"};
    static constexpr std::array<std::string_view, 12> month_names{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (text.size() != 29) return std::nullopt;
    if (index_of(day_names, text.substr(0, 3)) < 0 || text.substr(3, 2) != ", " || text[7] != ' ' ||
        text[11] != ' ' || text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT")
        return std::nullopt;
    const int day = digits_at(text, 5, 2);
    const int month = index_of(month_names, text.substr(8, 3));
    const int year = digits_at(text, 12, 4);
    const int hour = digits_at(text, 17, 2);
    const int minute = digits_at(text, 20, 2);
    const int second = digits_at(text, 23, 2);
    if (day < 0 || month < 0 || year < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
        second < 0 || second > 60)
        return std::nullopt;
    const std::chrono::year_month_day date{std::chrono::year{year},
                                           std::chrono::month{static_cast<unsigned>(month + 1)},
                                           std::chrono::day{static_cast<unsigned>(day)}};
    if (!date.ok()) return std::nullopt;
    return std::chrono::sys_days{date} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
           std::chrono::seconds{second};
}

} // namespace

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, SystemTime wall) {
    value = trim(value);
    if (value.empty()) return std::nullopt;
    if (value.front() >= '0' && value.front() <= '9') {
        std::int64_t seconds = 0;
        const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
        if (error != std::errc{} || end != value.data() + value.size()) return std::nullopt;
        return std::chrono::seconds{seconds};
    }
    const auto date = parse_imf_fixdate(value);
    if (!date) return std::nullopt;
    // The date has whole seconds, so date - floor(wall) is the exact wait rounded up, computed in seconds so
    // a far-off year cannot overflow a nanosecond count.
    const auto wait = *date - std::chrono::floor<std::chrono::seconds>(wall);
    return std::max(wait, std::chrono::seconds{0});
}

} // namespace shim::economy
