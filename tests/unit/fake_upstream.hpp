#pragma once
// A scripted upstream for the C++ tests of the upstream layers and the handlers above them: answers each
// target from a table (404 NotFoundError for anything else), records every request it is asked, and can hold
// its answers until the test lets them go, so that concurrent requests are really concurrent.
#include "upstream/upstream.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace test_support {

inline shim::upstream::UpstreamResponse json_answer(unsigned status, std::string body) {
    shim::upstream::UpstreamResponse r;
    r.status = status;
    r.body = std::move(body);
    r.content_type = "application/json";
    return r;
}

inline shim::upstream::UpstreamResponse failure_answer(shim::upstream::Failure failure) {
    shim::upstream::UpstreamResponse r;
    r.failure = failure;
    r.failure_detail = "scripted failure";
    return r;
}

class FakeUpstream final : public shim::upstream::Upstream {
public:
    // Every later request for `target` gets `answer`.
    void always(const std::string& target, shim::upstream::UpstreamResponse answer) {
        always_[target] = std::move(answer);
    }
    // The next request for `target` gets `answer`, before any `always` answer; queued in order.
    void once(const std::string& target, shim::upstream::UpstreamResponse answer) {
        once_[target].push_back(std::move(answer));
    }
    // While held, requests wait (on their own executor) until release().
    void hold() { held_ = true; }
    void release() {
        held_ = false;
        for (auto* timer : waiting_)
            timer->cancel();
        waiting_.clear();
    }
    std::size_t waiting() const { return waiting_.size(); }

    std::vector<shim::upstream::UpstreamRequest> requests; // every request, in the order asked
    std::size_t count(const std::string& target) const {
        std::size_t n = 0;
        for (const auto& r : requests)
            n += r.target == target;
        return n;
    }

    boost::asio::awaitable<shim::upstream::UpstreamResponse>
    get(shim::upstream::UpstreamRequest request) override {
        requests.push_back(request);
        if (held_) {
            boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor,
                                            boost::asio::steady_timer::time_point::max());
            waiting_.push_back(&timer);
            boost::system::error_code ec;
            co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        }
        if (auto it = once_.find(request.target); it != once_.end() && !it->second.empty()) {
            auto answer = std::move(it->second.front());
            it->second.pop_front();
            co_return answer;
        }
        if (auto it = always_.find(request.target); it != always_.end()) co_return it->second;
        co_return json_answer(404, R"({"error": {"code": "NotFoundError", "message": "not found"}})");
    }

private:
    std::map<std::string, shim::upstream::UpstreamResponse> always_;
    std::map<std::string, std::deque<shim::upstream::UpstreamResponse>> once_;
    bool held_ = false;
    std::vector<boost::asio::steady_timer*> waiting_;
};

// Runs `task` on `ioc` until it is done (and whatever else it started is idle); returns its value.
template <typename T>
T run_to_end(boost::asio::io_context& ioc, boost::asio::awaitable<T> task) {
    std::optional<T> value;
    std::exception_ptr failure;
    boost::asio::co_spawn(ioc, std::move(task), [&](std::exception_ptr e, T v) {
        failure = e;
        if (!e) value = std::move(v);
    });
    ioc.restart();
    ioc.run();
    if (failure) std::rethrow_exception(failure);
    return std::move(*value);
}

inline void run_to_end(boost::asio::io_context& ioc, boost::asio::awaitable<void> task) {
    std::exception_ptr failure;
    boost::asio::co_spawn(ioc, std::move(task), [&](std::exception_ptr e) { failure = e; });
    ioc.restart();
    ioc.run();
    if (failure) std::rethrow_exception(failure);
}

// A task started on an io_context that the test then steps itself (poll, run): done once the task has
// finished, with its value or its exception.
template <typename T> struct StartedTask {
    bool done = false;
    std::optional<T> value;
    std::exception_ptr failure;

    T get() {
        if (failure) std::rethrow_exception(failure);
        return std::move(*value);
    }
};

// Starts `task` on `ioc` without running anything: poll() then runs it as far as it goes without waiting.
template <typename T>
std::shared_ptr<StartedTask<T>> start_task(boost::asio::io_context& ioc, boost::asio::awaitable<T> task) {
    auto started = std::make_shared<StartedTask<T>>();
    boost::asio::co_spawn(ioc, std::move(task), [started](std::exception_ptr e, T v) {
        started->done = true;
        started->failure = e;
        if (!e) started->value = std::move(v);
    });
    return started;
}

} // namespace test_support
