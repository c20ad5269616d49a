#include "net/task_group.hpp"

#include <algorithm>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/assert.hpp>

namespace shim::net {

namespace asio = boost::asio;

struct TaskGroup::Member {
    explicit Member(asio::any_io_executor e) : executor(std::move(e)) {}
    asio::any_io_executor executor;
    asio::cancellation_signal signal;
    bool done = false; // touched only on `executor`'s thread, as is `signal`
};

// A wait_empty in progress: its timer is woken early (cancelled) when the group empties.
struct TaskGroup::Waiter {
    explicit Waiter(const asio::any_io_executor& e) : timer(e) {}
    asio::steady_timer timer;
};

TaskGroup::TaskGroup(std::function<void(std::exception_ptr)> on_exception)
    : on_exception_(std::move(on_exception)) {}

TaskGroup::~TaskGroup() {
    BOOST_ASSERT_MSG(members_.empty(), "a TaskGroup is destroyed with members still running");
}

void TaskGroup::spawn(const asio::any_io_executor& executor, asio::awaitable<void> task) {
    auto member = std::make_shared<Member>(executor);
    {
        std::lock_guard lock(mutex_);
        members_.push_back(member);
    }
    // The completion handler runs on the member's executor, as does every emit: `done` needs no lock.
    asio::co_spawn(executor, std::move(task),
                   asio::bind_cancellation_slot(member->signal.slot(), [this, member](std::exception_ptr e) {
                       member->done = true;
                       ended(member, e);
                   }));
}

void TaskGroup::ended(const std::shared_ptr<Member>& member, std::exception_ptr e) {
    if (e && on_exception_) on_exception_(e);
    std::vector<std::shared_ptr<Waiter>> wake;
    {
        std::lock_guard lock(mutex_);
        members_.erase(std::find(members_.begin(), members_.end(), member));
        if (members_.empty()) wake.swap(waiters_);
    }
    for (auto& waiter : wake)
        asio::post(waiter->timer.get_executor(), [waiter] { waiter->timer.cancel(); });
}

void TaskGroup::cancel(asio::cancellation_type type) {
    std::vector<std::shared_ptr<Member>> now;
    {
        std::lock_guard lock(mutex_);
        now = members_;
    }
    for (auto& member : now) {
        asio::post(member->executor, [member, type] {
            // A member that ended meanwhile has no one listening on its signal any more.
            if (!member->done) member->signal.emit(type);
        });
    }
}

asio::awaitable<bool> TaskGroup::wait_empty(std::chrono::steady_clock::time_point deadline) {
    auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
    waiter->timer.expires_at(deadline);
    {
        std::lock_guard lock(mutex_);
        if (members_.empty()) co_return true;
        waiters_.push_back(waiter);
    }
    boost::system::error_code ec;
    co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    std::lock_guard lock(mutex_);
    std::erase(waiters_, waiter);
    co_return members_.empty();
}

std::size_t TaskGroup::size() const {
    std::lock_guard lock(mutex_);
    return members_.size();
}

} // namespace shim::net
