#include "ops/log.hpp"

#include "sigma_analysis/json_writer.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <type_traits>

namespace shim::ops {

namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

// Anything a client sent may end up in a field: invalid UTF-8 is repaired so that every line stays parseable.
void append_string(std::string& out, std::string_view s) {
    sigma_analysis::json_out::append_string(out, s, sigma_analysis::json_out::InvalidUtf8::replace);
}

// A LogValue, or a LogFieldView's value: a string (owned or viewed), an integer or a double.
template <typename Value>
void append_value(std::string& out, const Value& value) {
    std::visit(
        [&out](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, double>) {
                // JSON has no NaN or Infinity.
                if constexpr (std::is_same_v<T, double>) {
                    if (!std::isfinite(v)) {
                        out += "null";
                        return;
                    }
                }
                std::array<char, 32> buf{};
                const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
                out.append(buf.data(), res.ptr);
            } else {
                append_string(out, v);
            }
        },
        value);
}

} // namespace

std::optional<LogLevel> parse_log_level(std::string_view s) {
    if (iequals(s, "debug")) return LogLevel::debug;
    if (iequals(s, "info")) return LogLevel::info;
    if (iequals(s, "warn") || iequals(s, "warning")) return LogLevel::warn;
    if (iequals(s, "error")) return LogLevel::error;
    return std::nullopt;
}

std::string_view to_string(LogLevel level) {
    switch (level) {
    case LogLevel::debug:
        return "debug";
    case LogLevel::info:
        return "info";
    case LogLevel::warn:
        return "warn";
    case LogLevel::error:
        return "error";
    }
    return "error";
}

void append_utc_millis(std::string& out, std::chrono::system_clock::time_point tp) {
    using namespace std::chrono;
    const auto ms = floor<milliseconds>(tp);
    const auto day = floor<days>(ms);
    const year_month_day ymd{day};
    const hh_mm_ss hms{ms - day};
    // Digits by hand: snprintf was a visible part of a logged request's cost.
    char text[] = "0000-00-00T00:00:00.000Z";
    const auto put = [&text](std::size_t at, std::size_t width, long long value) {
        for (std::size_t i = at + width; i-- > at; value /= 10)
            text[i] = static_cast<char>('0' + value % 10);
    };
    const int year = static_cast<int>(ymd.year());
    put(0, 4, std::clamp(year, 0, 9999));
    put(5, 2, static_cast<unsigned>(ymd.month()));
    put(8, 2, static_cast<unsigned>(ymd.day()));
    put(11, 2, hms.hours().count());
    put(14, 2, hms.minutes().count());
    put(17, 2, hms.seconds().count());
    put(20, 3, hms.subseconds().count());
    out.append(text, sizeof text - 1);
}

std::string format_utc_millis(std::chrono::system_clock::time_point tp) {
    std::string out;
    append_utc_millis(out, tp);
    return out;
}

Logger::Logger(std::ostream& out, LogLevel min, LogClock clock)
    : out_(out), min_(min), clock_(clock ? std::move(clock) : LogClock(system_now)) {}

void Logger::write(LogLevel level, std::string_view message, const LogFields& fields) {
    write_line(level, message, fields);
}

void Logger::write(LogLevel level, std::string_view message, std::span<const LogFieldView> fields) {
    write_line(level, message, fields);
}

template <typename Fields>
void Logger::write_line(LogLevel level, std::string_view message, const Fields& fields) {
    if (!enabled(level)) return;
    // The line is built outside the lock, only the write is serialised, and each thread reuses its buffer:
    // a line per request must not cost a string's worth of allocations.
    thread_local std::string line;
    line.assign("{\"time\":\"");
    append_utc_millis(line, clock_());
    line += "\",\"level\":\"";
    line += to_string(level);
    line += "\",\"msg\":";
    append_string(line, message);
    for (const auto& [key, value] : fields) {
        line += ',';
        append_string(line, key);
        line += ':';
        append_value(line, value);
    }
    line += "}\n";
    std::lock_guard lock(mutex_);
    out_.write(line.data(), static_cast<std::streamsize>(line.size()));
    out_.flush();
    if (line.capacity() > 64 * 1024) std::string().swap(line); // a rare long line is not kept for good
}

} // namespace shim::ops
