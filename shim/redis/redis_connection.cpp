#include "redis/redis_connection.hpp"

#include <array>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <deque>

namespace shim::redis {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace asio::experimental::awaitable_operators;

auto redirect(error_code& ec) {
    return asio::redirect_error(asio::use_awaitable, ec);
}

std::vector<RedisResult> all_failed(std::size_t n, RedisFailure failure, const std::string& why) {
    return std::vector<RedisResult>(n, RedisResult::failed(failure, why));
}

std::string millis(std::chrono::milliseconds ms) {
    return std::to_string(ms.count()) + " ms";
}

} // namespace

RedisShared::RedisShared(RedisOptions options, ops::Metrics& metrics)
    : options_(std::move(options)), metrics_(metrics) {}

std::optional<RedisState> RedisShared::state() const {
    const int s = state_.load();
    if (s == 0) return std::nullopt;
    return static_cast<RedisState>(s - 1);
}

void RedisShared::report(RedisState state, const std::string& detail) {
    const int s = 1 + static_cast<int>(state);
    if (state_.load() == s) return; // the common case, a call on a healthy connection: no lock
    std::lock_guard lock(state_mutex_);
    if (state_.load() == s || stopped()) return;
    state_.store(s);
    metrics_.set("sigma_shim_redis_up", state == RedisState::up ? 1 : 0);
    if (options_.on_state_change) options_.on_state_change(state, detail);
}

// A call waiting for its replies. Its caller waits on `timer`, which expires at the call's deadline and is
// cancelled early when the last reply came or the connection was dropped.
struct RedisConnection::Pending {
    Pending(const asio::any_io_executor& executor, std::size_t n)
        : timer(executor), results(n), expected(n) {}
    asio::steady_timer timer;
    std::vector<RedisResult> results;
    std::size_t expected;
    std::size_t received = 0;
    bool finished = false; // the results are final (answered, failed, or the caller is gone)
};

// One socket's life. A dropped session is never reused: its coroutines may still be winding down when the
// next call opens a new one, and they touch only their own session.
struct RedisConnection::Session {
    explicit Session(const asio::any_io_executor& executor) : socket(executor), wake(executor) {
        wake.expires_at(SteadyClock::time_point::max());
    }
    asio::generic::stream_protocol::socket socket;
    asio::steady_timer wake;                      // the writer waits on it for commands; cancelled to wake it
    std::string outbound;                         // commands not yet handed to the socket
    std::deque<std::shared_ptr<Pending>> waiting; // calls whose replies have not all come, oldest first
    ReplyParser parser;
    std::array<char, 16 * 1024> buffer;
    bool open = true;
    bool ready = false; // connected, AUTH and SELECT done: commands may go out
};

RedisConnection::RedisConnection(asio::any_io_executor executor, RedisShared& shared)
    : executor_(std::move(executor)), shared_(shared), backoff_(shared.options().backoff_first) {}

RedisConnection::~RedisConnection() = default;

asio::awaitable<std::vector<RedisResult>>
RedisConnection::exchange(const std::vector<std::vector<std::string>>& commands) {
    std::string bytes;
    for (const auto& command : commands)
        append_command(bytes, command);
    const auto n = commands.size();
    if (n == 0) co_return std::vector<RedisResult>{};
    if (shared_.stopped()) co_return all_failed(n, RedisFailure::closed, "the Redis client is stopped");
    if (!session_) {
        if (SteadyClock::now() < retry_at_)
            co_return all_failed(n, RedisFailure::unreachable, "not trying again yet: " + last_failure_);
        session_ = std::make_shared<Session>(executor_);
        shared_.group().spawn(executor_, run(session_));
    }
    const auto session = session_;
    auto pending = std::make_shared<Pending>(co_await asio::this_coro::executor, n);
    session->outbound += bytes;
    session->waiting.push_back(pending);
    if (session->ready) session->wake.cancel();

    pending->timer.expires_after(shared_.options().timeout);
    error_code ec;
    co_await pending->timer.async_wait(redirect(ec));
    if (!pending->finished) {
        pending->finished = true;
        if (ec == asio::error::operation_aborted) {
            // The caller's own cancellation: its replies will still come, and be dropped.
            pending->results = all_failed(n, RedisFailure::cancelled, "the call was cancelled");
        } else {
            const std::string why = "no reply from " + shared_.options().url.display() + " within " +
                                    millis(shared_.options().timeout);
            pending->results = all_failed(n, RedisFailure::timeout, why);
            drop(session, RedisFailure::timeout, "another call timed out: " + why);
        }
    }
    co_return std::move(pending->results);
}

asio::awaitable<void> RedisConnection::run(std::shared_ptr<Session> session) {
    try {
        if (shared_.stopped()) {
            drop(session, RedisFailure::closed, "the Redis client is stopped");
            co_return;
        }
        asio::steady_timer limit(executor_, shared_.options().timeout);
        const auto opened = co_await (open(*session) || limit.async_wait(asio::use_awaitable));
        if (opened.index() == 1) {
            drop(session, RedisFailure::unreachable,
                 "connecting to " + shared_.options().url.display() + " took longer than " +
                     millis(shared_.options().timeout));
            co_return;
        }
        if (const auto& failure = std::get<0>(opened); !failure.empty()) {
            drop(session, RedisFailure::unreachable, failure);
            co_return;
        }
        if (!session->open) co_return; // dropped meanwhile, by a call that timed out
        if (shared_.stopped()) {
            drop(session, RedisFailure::closed, "the Redis client is stopped");
            co_return;
        }
        session->ready = true;
        backoff_ = shared_.options().backoff_first;
        retry_at_ = {};
        shared_.report(RedisState::up, "connected to " + shared_.options().url.display());
        shared_.group().spawn(executor_, write_commands(session));
        co_await read_replies(session);
    } catch (const std::exception& e) {
        // A cancellation from the task group: the client is stopping.
        drop(session, RedisFailure::closed, std::string("the connection was stopped: ") + e.what());
    }
}

asio::awaitable<std::string> RedisConnection::open(Session& session) {
    const auto& url = shared_.options().url;
    error_code ec;
    if (url.transport == RedisUrl::Transport::unix_socket) {
        const asio::local::stream_protocol::endpoint endpoint(url.socket_path);
        co_await session.socket.async_connect(endpoint, redirect(ec));
    } else {
        asio::ip::tcp::resolver resolver(executor_);
        const auto endpoints =
            co_await resolver.async_resolve(url.host, std::to_string(url.port), redirect(ec));
        if (ec) co_return "cannot resolve " + url.display() + ": " + ec.message();
        for (const auto& entry : endpoints) {
            if (!session.open) break;
            error_code ignored;
            session.socket.close(ignored); // a failed attempt leaves its socket behind
            co_await session.socket.async_connect(entry.endpoint(), redirect(ec));
            if (!ec) break;
        }
        if (!ec) {
            error_code ignored;
            session.socket.set_option(asio::ip::tcp::no_delay(true), ignored);
        }
    }
    if (!session.open) co_return "the connection was dropped while it was being opened";
    if (ec) co_return "cannot connect to " + url.display() + ": " + ec.message();

    // AUTH and SELECT before any caller's command; PING when there is neither, so that "up" always means
    // Redis answered.
    std::string hello;
    std::vector<std::string> steps;
    if (!url.password.empty()) {
        if (url.user.empty())
            append_command(hello, {"AUTH", url.password});
        else
            append_command(hello, {"AUTH", url.user, url.password});
        steps.emplace_back("AUTH");
    }
    if (url.db != 0) {
        append_command(hello, {"SELECT", std::to_string(url.db)});
        steps.emplace_back("SELECT " + std::to_string(url.db));
    }
    if (steps.empty()) {
        append_command(hello, {"PING"});
        steps.emplace_back("PING");
    }
    co_await asio::async_write(session.socket, asio::buffer(hello), redirect(ec));
    if (ec) co_return "cannot write to " + url.display() + ": " + ec.message();
    for (const auto& step : steps) {
        auto reply = session.parser.next();
        while (!reply) {
            if (session.parser.failed()) co_return url.display() + " is not Redis: " + session.parser.error();
            const auto got =
                co_await session.socket.async_read_some(asio::buffer(session.buffer), redirect(ec));
            if (ec) co_return url.display() + " closed the connection before " + step + ": " + ec.message();
            session.parser.feed({session.buffer.data(), got});
            reply = session.parser.next();
        }
        // The server's error text says what is wrong (WRONGPASS, NOAUTH, ERR DB index...), never the
        // password.
        if (reply->is_error()) co_return step + " on " + url.display() + " failed: " + reply->text;
    }
    co_return std::string{};
}

asio::awaitable<void> RedisConnection::read_replies(std::shared_ptr<Session> session) {
    const std::string& where = shared_.options().url.display();
    while (session->open) {
        error_code ec;
        const auto got =
            co_await session->socket.async_read_some(asio::buffer(session->buffer), redirect(ec));
        if (ec) {
            drop(session, RedisFailure::closed, "the connection to " + where + " ended: " + ec.message());
            co_return;
        }
        session->parser.feed({session->buffer.data(), got});
        bool answered = false;
        while (auto reply = session->parser.next()) {
            if (!deliver(*session, std::move(*reply))) {
                drop(session, RedisFailure::closed, where + " sent a reply no call was waiting for");
                co_return;
            }
            answered = true;
        }
        if (session->parser.failed()) {
            drop(session, RedisFailure::closed, where + " broke the protocol: " + session->parser.error());
            co_return;
        }
        // Another connection of the client may have seen Redis down meanwhile; this one sees it answer.
        if (answered) shared_.report(RedisState::up, "replies from " + where);
    }
}

asio::awaitable<void> RedisConnection::write_commands(std::shared_ptr<Session> session) {
    try {
        std::string batch;
        while (session->open) {
            error_code ec;
            if (session->outbound.empty()) {
                co_await session->wake.async_wait(redirect(ec)); // cancelled by a new call, or the drop
                continue;
            }
            batch.clear();
            batch.swap(session->outbound); // every call queued since the last write goes out in one
            co_await asio::async_write(session->socket, asio::buffer(batch), redirect(ec));
            if (ec) {
                drop(session, RedisFailure::closed,
                     "cannot write to " + shared_.options().url.display() + ": " + ec.message());
                co_return;
            }
        }
    } catch (const std::exception& e) {
        drop(session, RedisFailure::closed, std::string("the connection was stopped: ") + e.what());
    }
}

bool RedisConnection::deliver(Session& session, RedisValue reply) {
    if (session.waiting.empty()) return false;
    auto& pending = *session.waiting.front();
    if (!pending.finished) pending.results[pending.received] = RedisResult::of(std::move(reply));
    if (++pending.received < pending.expected) return true;
    if (!pending.finished) {
        pending.finished = true;
        pending.timer.cancel();
    }
    session.waiting.pop_front();
    return true;
}

void RedisConnection::drop(const std::shared_ptr<Session>& session, RedisFailure failure,
                           const std::string& why) {
    if (!session->open) return;
    session->open = false;
    error_code ignored;
    session->socket.close(ignored);
    session->wake.cancel();
    session->outbound.clear();
    for (auto& pending : session->waiting) {
        if (pending->finished) continue;
        pending->finished = true;
        pending->results = all_failed(pending->expected, failure, why);
        pending->timer.cancel();
    }
    session->waiting.clear();
    if (session_ == session) session_.reset();
    // A connection that ended after working is opened again by the next call (Redis restarted: no wait);
    // one that could not be opened, or went silent, is left alone for a while.
    if (!session->ready || failure == RedisFailure::timeout) {
        retry_at_ = SteadyClock::now() + backoff_;
        backoff_ = std::min(backoff_ * 2, shared_.options().backoff_max);
        last_failure_ = why;
    }
    shared_.report(RedisState::down, why);
}

} // namespace shim::redis
