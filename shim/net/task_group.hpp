#pragma once
// Coroutines that belong to something: each is started through a TaskGroup, gets a cancellation signal of
// its own, and the group knows when the last one has ended. The owner can ask all of them to stop (a
// cancellation emitted on each one's own executor, since a signal is not thread-safe) and wait, within a
// deadline, until none is left. Nothing is left for ~io_context to destroy half-way.
//
// Members may run on different io_contexts (one thread each); the group itself is thread-safe.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace shim::net {

class TaskGroup {
public:
    // `on_exception` hears of a member that ended by an exception (a member is expected to catch its own).
    explicit TaskGroup(std::function<void(std::exception_ptr)> on_exception = {});
    TaskGroup(const TaskGroup&) = delete;
    TaskGroup& operator=(const TaskGroup&) = delete;
    // Every member must have ended: the owner waits for them first.
    ~TaskGroup();

    // Starts `task` on `executor` as a member.
    void spawn(const boost::asio::any_io_executor& executor, boost::asio::awaitable<void> task);
    // Emits `type` to every member now in the group, each on its own executor.
    void cancel(boost::asio::cancellation_type type);
    // Waits on the caller's executor until no member is left or `deadline` passes; true when none is left.
    boost::asio::awaitable<bool> wait_empty(std::chrono::steady_clock::time_point deadline);
    std::size_t size() const;

private:
    struct Member;
    struct Waiter;
    void ended(const std::shared_ptr<Member>& member, std::exception_ptr e);

    std::function<void(std::exception_ptr)> on_exception_;
    mutable std::mutex mutex_;
    std::vector<std::shared_ptr<Member>> members_;
    std::vector<std::shared_ptr<Waiter>> waiters_;
};

} // namespace shim::net
