#include "net/deadline_stream.hpp"

namespace shim::net {

namespace {

void watch(const std::shared_ptr<DeadlineState>& state, DeadlineState::Clock::time_point at);

void wake(const std::shared_ptr<DeadlineState>& state, std::uint64_t id) {
    auto& s = *state;
    if (id != s.wait_id) return; // re-armed or closed since this wait began
    s.wakes_at = DeadlineState::Clock::time_point::max();
    if (s.deadline == DeadlineState::Clock::time_point::max()) return;
    if (DeadlineState::Clock::now() < s.deadline) {
        // The deadline moved on while the watchdog slept. With nothing under way it rests until an operation
        // begins: an idle stream (a pooled connection) holds no wait that would keep its io_context running.
        if (s.pending > 0) watch(state, s.deadline);
        return;
    }
    s.expired = true;
    boost::system::error_code ignored;
    if (s.pending > 0) s.socket.close(ignored);
}

void watch(const std::shared_ptr<DeadlineState>& state, DeadlineState::Clock::time_point at) {
    state->wakes_at = at;
    const auto id = ++state->wait_id;
    state->watchdog.expires_at(at);
    state->watchdog.async_wait([state, id](const boost::system::error_code&) { wake(state, id); });
}

} // namespace

DeadlineStream::DeadlineStream(boost::asio::ip::tcp::socket socket)
    : state_(std::make_shared<DeadlineState>(std::move(socket))) {}

DeadlineStream::DeadlineStream(const executor_type& executor)
    : DeadlineStream(boost::asio::ip::tcp::socket(executor)) {}

DeadlineStream::~DeadlineStream() {
    if (!state_) return; // moved from
    ++state_->wait_id;
    state_->watchdog.cancel();
    boost::system::error_code ignored;
    state_->socket.close(ignored);
}

void DeadlineStream::expires_at(Clock::time_point deadline) {
    auto& s = *state_;
    s.deadline = deadline;
    s.expired = false;
    // A later deadline is seen when the watchdog wakes; only an earlier one costs a new wait, and only when
    // there is something under way to cut off (otherwise the next operation's start arms it).
    if (deadline < s.wakes_at && s.pending > 0) watch(state_, deadline);
}

void DeadlineStream::begin() {
    auto& s = *state_;
    ++s.pending;
    if (!s.expired && s.deadline < s.wakes_at) {
        // The watchdog must be set (or set earlier). A deadline already past fails the operation here: a
        // read of bytes already there would otherwise complete before the watchdog's wake-up.
        if (Clock::now() < s.deadline) {
            watch(state_, s.deadline);
            return;
        }
        s.expired = true;
    }
    boost::system::error_code ignored;
    if (s.expired) s.socket.close(ignored); // so the operation fails at once, as a timeout
}

} // namespace shim::net
