#include "upstream/client_quota.hpp"

#include "economy/quota_book.hpp"

#include <algorithm>

namespace shim::upstream {

namespace {

using economy::minute_window;

void drop_left(std::deque<Clock::SteadyTime>& log, Clock::SteadyTime now) {
    while (!log.empty() && log.front() <= now - minute_window)
        log.pop_front();
}

} // namespace

std::optional<std::chrono::milliseconds> ClientQuota::take(const std::string& client, unsigned per_minute,
                                                           Clock::SteadyTime now) {
    if (client.empty() || per_minute == 0) return std::nullopt;
    const std::lock_guard lock(mutex_);
    sweep_locked(now);
    auto& log = logs_[client];
    // Callers read the clock before they take the lock: a client's time never goes back, so the log stays
    // sorted and what left the window stays out.
    if (!log.empty() && now < log.back()) now = log.back();
    drop_left(log, now);
    if (log.size() < per_minute) {
        log.push_back(now);
        return std::nullopt;
    }
    // With a limit lowered since (a reload), more than per_minute may be logged: room comes back when all but
    // per_minute - 1 of them have left.
    const auto room_at = log[log.size() - per_minute] + minute_window;
    return std::max(std::chrono::milliseconds(1),
                    std::chrono::ceil<std::chrono::milliseconds>(room_at - now));
}

void ClientQuota::sweep_locked(Clock::SteadyTime now) {
    if (next_sweep_ && now < *next_sweep_) return;
    next_sweep_ = now + minute_window;
    for (auto it = logs_.begin(); it != logs_.end();) {
        drop_left(it->second, now);
        if (it->second.empty())
            it = logs_.erase(it);
        else
            ++it;
    }
}

std::size_t ClientQuota::tracked_clients() const {
    const std::lock_guard lock(mutex_);
    return logs_.size();
}

std::size_t ClientQuota::logged(const std::string& client) const {
    const std::lock_guard lock(mutex_);
    const auto it = logs_.find(client);
    return it == logs_.end() ? 0 : it->second.size();
}

} // namespace shim::upstream
