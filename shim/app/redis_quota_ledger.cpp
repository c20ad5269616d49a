#include "app/redis_quota_ledger.hpp"

namespace shim::app {
namespace {

// The rule of economy::QuotaBook, read there; here with one clock (Redis's TIME, in microseconds) for the
// minute, the day and the month. Lua 5.1 numbers are doubles: microseconds since the epoch are exact in them
// (< 2^53), but tostring() would print them in exponent form, so they are written with '%.0f'.
// Both scripts begin with this: ARGV[1] is the time in microseconds since the epoch, '' for Redis's own.
constexpr const char* clock_prelude = R"lua(
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
)lua";

// KEYS: the minute log, the state hash. ARGV: now, per_minute, per_day, per_month. Returns {allowed (1/0),
// wait in ms, window, remaining minute, day, month (-1: no limit)}.
constexpr const char* take_script = R"lua(
local per_minute, per_day, per_month = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local WINDOW, DAY = 60000000, 86400000000
local function num(v) if v then return tonumber(v) end return nil end
local function str(n) return string.format('%.0f', n) end
-- Days since 1970-01-01 to (year, month), and back to the first of a month (proleptic Gregorian).
local function civil(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m
end
local function first_of(index)
  local y = math.floor(index / 12)
  local m = index - 12 * y + 1
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + math.floor((153 * mp + 2) / 5)
  return era * 146097 + doe - 719468
end

local state = redis.call('HMGET', KEYS[2], 'latest', 'day', 'used_day', 'month', 'used_month', 'exhausted_until')
local latest = num(state[1])
if latest and latest > now then now = latest end
local today = math.floor(now / DAY)
local y, m = civil(today)
local this_month = 12 * y + m - 1
local day, used_day = num(state[2]), num(state[3]) or 0
if day == nil or today > day then day, used_day = today, 0 end
local month, used_month = num(state[4]), num(state[5]) or 0
if month == nil or this_month > month then month, used_month = this_month, 0 end
local exhausted_until = num(state[6])
local log = {}
for _, v in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local t = tonumber(v)
  if t > now - WINDOW then log[#log + 1] = t end
end

local wait, window = 0, ''
local function refuse(w, name)
  if window == '' or w > wait then wait, window = w, name end
end
if exhausted_until then
  if now < exhausted_until then refuse(exhausted_until - now, 'upstream') else exhausted_until = nil end
end
if per_minute > 0 and #log >= per_minute then refuse(log[#log - per_minute + 1] + WINDOW - now, 'minute') end
if per_day > 0 and used_day >= per_day then refuse((day + 1) * DAY - now, 'day') end
if per_month > 0 and used_month >= per_month then refuse(first_of(month + 1) * DAY - now, 'month') end
local allowed = window == ''
if allowed then
  if per_minute > 0 then log[#log + 1] = now end
  used_day, used_month = used_day + 1, used_month + 1
end

redis.call('DEL', KEYS[1])
if #log > 0 then
  local times = {}
  for i, t in ipairs(log) do times[i] = str(t) end
  redis.call('RPUSH', KEYS[1], unpack(times))
end
redis.call('HSET', KEYS[2], 'latest', str(now), 'day', str(day), 'used_day', str(used_day),
           'month', str(month), 'used_month', str(used_month))
if exhausted_until then
  redis.call('HSET', KEYS[2], 'exhausted_until', str(exhausted_until))
else
  redis.call('HDEL', KEYS[2], 'exhausted_until')
end

local function left(limit, used)
  if limit == 0 then return -1 end
  if used >= limit then return 0 end
  return limit - used
end
local wait_ms = 0
if not allowed then wait_ms = math.max(1, math.ceil(wait / 1000)) end
return {allowed and 1 or 0, wait_ms, window, left(per_minute, #log), left(per_day, used_day),
        left(per_month, used_month)}
)lua";

// KEYS: the minute log (unused), the state hash. ARGV: now, the mark's length in ms.
constexpr const char* mark_script = R"lua(
local duration = tonumber(ARGV[2])
local latest = tonumber(redis.call('HGET', KEYS[2], 'latest') or '0')
if latest > now then now = latest end
local ends = now + duration * 1000
if ends > tonumber(redis.call('HGET', KEYS[2], 'exhausted_until') or '0') then
  redis.call('HSET', KEYS[2], 'exhausted_until', string.format('%.0f', ends))
end
return 1
)lua";

std::string time_argument(std::optional<std::int64_t> now_us) {
    return now_us ? std::to_string(*now_us) : std::string();
}

// The script's answer, or nullopt when it is not the expected shape (another version's script).
std::optional<upstream::SharedQuotaAnswer> answer_of(const redis::RedisValue& reply) {
    using Type = redis::RedisValue::Type;
    const auto& e = reply.elements;
    if (reply.type != Type::array || e.size() != 6 || e[0].type != Type::integer ||
        e[1].type != Type::integer || e[2].type != Type::string || e[3].type != Type::integer ||
        e[4].type != Type::integer || e[5].type != Type::integer)
        return std::nullopt;
    upstream::SharedQuotaAnswer out;
    out.decision.allowed = e[0].integer == 1;
    out.decision.wait = std::chrono::milliseconds{e[1].integer};
    out.decision.window = e[2].text;
    const auto remaining = [](std::int64_t value) -> std::optional<unsigned> {
        if (value < 0) return std::nullopt;
        return static_cast<unsigned>(value);
    };
    out.remaining = {remaining(e[3].integer), remaining(e[4].integer), remaining(e[5].integer)};
    return out;
}

} // namespace

RedisQuotaLedger::RedisQuotaLedger(redis::RedisClient& client, std::string prefix)
    : client_(client), prefix_(std::move(prefix)), take_(std::string(clock_prelude) + take_script),
      mark_(std::string(clock_prelude) + mark_script) {}

std::vector<std::string> RedisQuotaLedger::keys_of(const std::string& key) const {
    // The braces keep a key's two entries in one slot, should the Redis be a cluster.
    const std::string base = prefix_ + "{" + key + "}";
    return {base + ":minute", base + ":state"};
}

boost::asio::awaitable<std::optional<upstream::SharedQuotaAnswer>>
RedisQuotaLedger::try_take(std::string key, economy::QuotaLimits limits) {
    co_return co_await try_take_at(std::move(key), limits, std::nullopt);
}

boost::asio::awaitable<bool> RedisQuotaLedger::mark_exhausted(std::string key,
                                                              std::chrono::milliseconds duration) {
    co_return co_await mark_exhausted_at(std::move(key), duration, std::nullopt);
}

boost::asio::awaitable<std::optional<upstream::SharedQuotaAnswer>>
RedisQuotaLedger::try_take_at(std::string key, economy::QuotaLimits limits,
                              std::optional<std::int64_t> now_us) {
    std::vector<std::string> args{time_argument(now_us), std::to_string(limits.per_minute),
                                  std::to_string(limits.per_day), std::to_string(limits.per_month)};
    auto keys = keys_of(key);
    const auto result = co_await take_.run(client_, std::move(keys), std::move(args));
    if (!result.ok()) co_return std::nullopt;
    co_return answer_of(result.value);
}

boost::asio::awaitable<bool> RedisQuotaLedger::mark_exhausted_at(std::string key,
                                                                 std::chrono::milliseconds duration,
                                                                 std::optional<std::int64_t> now_us) {
    std::vector<std::string> args{time_argument(now_us), std::to_string(duration.count())};
    auto keys = keys_of(key);
    const auto result = co_await mark_.run(client_, std::move(keys), std::move(args));
    co_return result.ok();
}

} // namespace shim::app
