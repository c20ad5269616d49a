#include "upstream/shared_upstream.hpp"

#include "upstream/cache_upstream.hpp"
#include "util/key_hash.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>

namespace shim::upstream {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

constexpr std::string_view entry_version = "sigma-shim/1";

// The partition of the store an object lives in: sigma_rule objects are the same for every key; anything else
// is what that key may see.
std::string partition(const UpstreamRequest& request) {
    return object_kind(request.target) == "sigma_rule" ? std::string("rules")
                                                       : util::key_digest(request.api_key);
}

} // namespace

std::string encode_shared_entry(const UpstreamResponse& r) {
    std::string out(entry_version);
    out += " " + std::to_string(r.status) + " " + std::to_string(static_cast<int>(r.failure)) + "\n";
    out += r.content_type + "\n" + r.failure_message + "\n";
    out += r.body;
    return out;
}

std::optional<UpstreamResponse> decode_shared_entry(std::string_view entry) {
    if (!entry.starts_with(entry_version) || entry.size() <= entry_version.size() ||
        entry[entry_version.size()] != ' ')
        return std::nullopt;
    entry.remove_prefix(entry_version.size() + 1);
    UpstreamResponse r;
    int failure = 0;
    const auto* end = entry.data() + entry.size();
    auto res = std::from_chars(entry.data(), end, r.status);
    if (res.ec != std::errc{} || res.ptr == end || *res.ptr != ' ') return std::nullopt;
    res = std::from_chars(res.ptr + 1, end, failure);
    if (res.ec != std::errc{} || res.ptr == end || *res.ptr != '\n' || failure < 0 || failure > 2)
        return std::nullopt;
    r.failure = static_cast<Failure>(failure);
    entry.remove_prefix(static_cast<std::size_t>(res.ptr + 1 - entry.data()));
    for (std::string* line : {&r.content_type, &r.failure_message}) {
        const auto newline = entry.find('\n');
        if (newline == std::string_view::npos) return std::nullopt;
        *line = entry.substr(0, newline);
        entry.remove_prefix(newline + 1);
    }
    r.body = entry;
    if (r.failure != Failure::none) r.failure_detail = "a failure shared by another replica";
    return r;
}

SharedUpstream::SharedUpstream(Upstream& next, SharedStore& store, SharedOptions options,
                               ops::Metrics& metrics)
    : next_(next), store_(store), options_(std::move(options)), metrics_(metrics),
      random_(std::random_device{}()) {}

milliseconds SharedUpstream::jittered_poll() {
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    std::lock_guard lock(random_mutex_);
    return milliseconds(std::max<std::int64_t>(
        1, static_cast<std::int64_t>(static_cast<double>(options_.poll.count()) * jitter(random_))));
}

void SharedUpstream::count(const char* result) {
    metrics_.inc("sigma_shim_shared_objects_total", {result});
}

asio::awaitable<UpstreamResponse> SharedUpstream::get(UpstreamRequest request) {
    const auto where = partition(request) + ":" + request.target;
    const std::string key = "sigma-shim:obj:" + where;
    const std::string lock_key = "sigma-shim:lock:" + where;

    // The owner's result, or the lock once the owner is gone; until then, wait. A waiter gives up waiting
    // when the lock would have expired: by then the owner is dead or stuck.
    const auto give_up_at = std::chrono::steady_clock::now() + options_.lock_ttl;
    for (bool first = true;; first = false) {
        if (!first) {
            asio::steady_timer pause(co_await asio::this_coro::executor, jittered_poll());
            boost::system::error_code ec;
            co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (ec) break;
        }
        auto found = co_await store_.get(key);
        if (found.status == SharedStatus::unavailable) break;
        if (found.status == SharedStatus::ok) {
            if (auto shared = decode_shared_entry(found.value)) {
                count(first ? "hit" : "waited");
                shared->cache = first ? CacheStatus::hit : CacheStatus::coalesced;
                co_return std::move(*shared);
            }
            // Another version's entry: fetched again, and replaced.
        }
        const auto locked = co_await store_.lock(lock_key, options_.owner, options_.lock_ttl);
        if (locked.status == SharedStatus::unavailable) break;
        if (locked.status == SharedStatus::ok) {
            // Another replica may have stored the object and freed the lock between our look and our lock:
            // look again, or that fetch would be made twice.
            auto stored = co_await store_.get(key);
            if (stored.status == SharedStatus::ok) {
                if (auto shared = decode_shared_entry(stored.value)) {
                    co_await store_.unlock(lock_key, options_.owner);
                    count(first ? "hit" : "waited");
                    shared->cache = first ? CacheStatus::hit : CacheStatus::coalesced;
                    co_return std::move(*shared);
                }
            }
            co_return co_await fetch_and_share(std::move(request), key, lock_key);
        }
        if (std::chrono::steady_clock::now() >= give_up_at) break;
    }
    count("alone");
    co_return co_await next_.get(std::move(request));
}

asio::awaitable<UpstreamResponse> SharedUpstream::fetch_and_share(UpstreamRequest request,
                                                                  const std::string& key,
                                                                  const std::string& lock_key) {
    count("fetched");
    auto response = co_await next_.get(request);
    // Anything else than an object or a NotFoundError (a failure, a 429, a 401...) is kept only long enough
    // for the replicas waiting on this fetch to get it rather than each ask in turn.
    milliseconds ttl = options_.failure_ttl;
    if (response.failure == Failure::none && response.status == 200)
        ttl = object_kind(request.target) == "sigma_rule" ? options_.rule_ttl : options_.ttl;
    else if (response.failure == Failure::none && is_not_found_error(response))
        ttl = options_.negative_ttl;
    if (auto entry = encode_shared_entry(response); entry.size() <= options_.max_entry_bytes)
        co_await store_.put(key, std::move(entry), ttl);
    else
        count("too_large");
    co_await store_.unlock(lock_key, options_.owner);
    co_return response;
}

} // namespace shim::upstream
