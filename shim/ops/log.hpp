#pragma once
// Structured logging: one JSON object per line, written with a single call under one mutex so that lines from
// concurrent requests never interleave.
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace shim::ops {

enum class LogLevel { debug, info, warn, error };

// "debug", "info", "warn" (or "warning"), "error", any case.
std::optional<LogLevel> parse_log_level(std::string_view);
std::string_view to_string(LogLevel);

using LogValue = std::variant<std::string, std::int64_t, double>;
using LogFields = std::vector<std::pair<std::string, LogValue>>;
// A field whose text is only viewed: the line written for every request copies no string to be logged.
using LogFieldView = std::pair<std::string_view, std::variant<std::string_view, std::int64_t, double>>;
using LogClock = std::function<std::chrono::system_clock::time_point()>;

inline std::chrono::system_clock::time_point system_now() {
    return std::chrono::system_clock::now();
}

class Logger {
public:
    // The clock is a parameter so that tests can fix the time.
    Logger(std::ostream& out, LogLevel min, LogClock clock = system_now);

    bool enabled(LogLevel level) const { return level >= min_; }

    // Writes {"time":...,"level":...,"msg":...,<fields in the order given>}. Field keys should not repeat
    // time/level/msg: they are not renamed, so the line would carry the key twice. Strings that are not valid
    // UTF-8 are repaired with U+FFFD so every line stays parseable; non-finite doubles are written as null.
    void write(LogLevel level, std::string_view message, const LogFields& fields = {});
    void write(LogLevel level, std::string_view message, std::span<const LogFieldView> fields);

private:
    template <typename Fields>
    void write_line(LogLevel level, std::string_view message, const Fields& fields);

    std::ostream& out_;
    LogLevel min_;
    LogClock clock_;
    std::mutex mutex_;
};

// "2026-11-27T21:05:16.123Z": UTC, milliseconds, truncated rather than rounded.
std::string format_utc_millis(std::chrono::system_clock::time_point);
void append_utc_millis(std::string& out, std::chrono::system_clock::time_point);

} // namespace shim::ops
