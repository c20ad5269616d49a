#include "economy/quota_book.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <system_error>

namespace shim::economy {

namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

// The minute bucket counts token-microseconds: refilling at per_minute tokens per 60 s adds per_minute units
// per microsecond, so integer arithmetic is exact. Capacity per_minute * 60e6 stays below 2^63 for any
// unsigned per_minute.
constexpr std::int64_t unit_per_token = 60'000'000;

constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
    return (a + b - 1) / b;
}

std::int64_t unix_day(SystemTime wall) {
    return std::chrono::floor<std::chrono::days>(wall).time_since_epoch().count();
}

milliseconds at_least_1ms(milliseconds wait) {
    return std::max(wait, milliseconds{1});
}

} // namespace

QuotaBook::QuotaBook(QuotaLimits limits) : limits_(limits) {}

bool QuotaBook::enabled() const {
    return limits_.per_minute != 0 || limits_.per_day != 0;
}

QuotaBook::KeyState& QuotaBook::state_locked(const std::string& key, SteadyTime now) {
    const auto [it, inserted] = keys_.try_emplace(key);
    if (inserted) {
        it->second.credit = static_cast<std::int64_t>(limits_.per_minute) * unit_per_token;
        it->second.refilled_at = now;
        it->second.day = std::numeric_limits<std::int64_t>::min();
    }
    return it->second;
}

void QuotaBook::refill(KeyState& state, SteadyTime now) const {
    if (limits_.per_minute == 0 || now <= state.refilled_at) return;
    const auto rate = static_cast<std::int64_t>(limits_.per_minute);
    const std::int64_t capacity = rate * unit_per_token;
    const std::int64_t elapsed_us = std::chrono::duration_cast<microseconds>(now - state.refilled_at).count();
    if (elapsed_us >= ceil_div(capacity - state.credit, rate)) {
        state.credit = capacity;
        state.refilled_at = now;
    } else {
        // Only whole microseconds are credited; the remainder stays for the next refill.
        state.credit += elapsed_us * rate;
        state.refilled_at += microseconds{elapsed_us};
    }
}

QuotaDecision QuotaBook::try_take(const std::string& key, SteadyTime now, SystemTime wall) {
    std::lock_guard lock(mutex_);
    KeyState& state = state_locked(key, now);
    refill(state, now);
    if (const std::int64_t today = unix_day(wall); today > state.day) {
        state.day = today;
        state.used_today = 0;
    }

    QuotaDecision refused;
    const auto refuse = [&refused](milliseconds wait, const char* window) {
        wait = at_least_1ms(wait);
        if (refused.window.empty() || wait > refused.wait) {
            refused.wait = wait;
            refused.window = window;
        }
    };

    if (state.exhausted_until) {
        if (now < *state.exhausted_until)
            refuse(std::chrono::ceil<milliseconds>(*state.exhausted_until - now), "upstream");
        else
            state.exhausted_until.reset();
    }
    if (limits_.per_minute != 0 && state.credit < unit_per_token) {
        const std::int64_t wait_us =
            ceil_div(unit_per_token - state.credit, static_cast<std::int64_t>(limits_.per_minute));
        refuse(std::chrono::ceil<milliseconds>(state.refilled_at + microseconds{wait_us} - now), "minute");
    }
    if (limits_.per_day != 0 && state.used_today >= limits_.per_day) {
        const std::chrono::sys_days next_midnight{std::chrono::days{state.day + 1}};
        refuse(std::chrono::ceil<milliseconds>(next_midnight - wall), "day");
    }
    if (!refused.window.empty()) return refused;

    if (limits_.per_minute != 0) state.credit -= unit_per_token;
    ++state.used_today;
    return QuotaDecision{true, milliseconds{0}, {}};
}

void QuotaBook::mark_exhausted(const std::string& key, SteadyTime until) {
    std::lock_guard lock(mutex_);
    KeyState& state = state_locked(key, until);
    if (!state.exhausted_until || until > *state.exhausted_until) state.exhausted_until = until;
}

QuotaRemaining QuotaBook::remaining(const std::string& key, SteadyTime now, SystemTime wall) const {
    std::lock_guard lock(mutex_);
    QuotaRemaining out;
    const auto found = keys_.find(key);
    if (limits_.per_minute != 0) {
        double tokens = limits_.per_minute;
        if (found != keys_.end()) {
            KeyState state = found->second;
            refill(state, now);
            tokens = static_cast<double>(state.credit) / static_cast<double>(unit_per_token);
        }
        out.minute = tokens;
    }
    if (limits_.per_day != 0) {
        unsigned used = 0;
        if (found != keys_.end() && found->second.day >= unix_day(wall)) used = found->second.used_today;
        out.day = used >= limits_.per_day ? 0u : limits_.per_day - used;
    }
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
