#pragma once
// The quota guard of every upstream exchange (reconstruction fetches and pass-through alike, see
// exchange.hpp): keeps each key within its VirusTotal quota. A request that would exceed it waits up to
// QuotaOptions::wait, then gets a local 429 QuotaExceededError with Retry-After, and the upstream is not
// touched. An upstream 429 marks the key exhausted until its Retry-After (or a minute) has passed. The
// windows and their arithmetic are economy::QuotaBook's.
//
// With a shared ledger (Redis), the ledger decides for every replica of the key, and an upstream 429 is
// recorded there too. When it cannot answer, this replica decides alone with its share of each limit
// (replica_share): the replicas together still stay within the quota, except that a replica switching from
// the ledger to its own book mid-window does not know what the ledger admitted, and may admit up to one more
// share in that window.
#include "economy/quota_book.hpp"
#include "ops/metrics.hpp"
#include "upstream/client_quota.hpp"
#include "upstream/clock.hpp"
#include "upstream/exchange.hpp"
#include "upstream/shared_quota.hpp"

#include <chrono>
#include <functional>
#include <optional>

namespace shim::upstream {

struct QuotaOptions {
    unsigned per_minute = 0; // 0: no limit in that window; any 60 s, sliding
    unsigned per_day = 0;    // UTC day
    unsigned per_month = 0;  // UTC calendar month
    // How long a request may wait for its quota before it is refused. The waiting itself is a real timer,
    // whatever the clock: the clock decides only whether a request may go and how long until it could.
    std::chrono::milliseconds wait{0};
    // How many replicas spend the key: without an answer from the shared ledger, each keeps to its share.
    unsigned replicas = 1;
    // A client's own upstream requests per minute (0: none beyond the key's), asked at each request so that a
    // reloaded limit applies at once. Unset: clients have no limits of their own.
    std::function<unsigned(const std::string& client)> client_limit = {};
};

class QuotaGuard final : public QuotaGate {
public:
    // `shared` (may be null: this replica alone) must outlive the guard.
    QuotaGuard(QuotaOptions options, const Clock& clock, ops::Metrics& metrics,
               SharedQuota* shared = nullptr);

    // Takes one request of `api_key`'s quota, waiting within QuotaOptions::wait; the local 429 answer when
    // refused, whose Retry-After is the book's exact wait rounded up to whole seconds (a client that waits
    // that long is admitted, unless other requests took the room first). Every request to VirusTotal counts,
    // pass-through too. A client with a limit of its own (QuotaOptions::client_limit) is held to it first:
    // a request refused for the client's limit spends nothing of the key's.
    boost::asio::awaitable<std::optional<UpstreamResponse>> admit(const std::string& api_key,
                                                                  const std::string& client) override;
    // What an upstream answer says of the quota: a 429 marks the key exhausted until its Retry-After, or for
    // the length of the minute window without one.
    boost::asio::awaitable<void> observe(const std::string& api_key, unsigned status,
                                         const std::string& retry_after) override;

private:
    // The decision for one request and what is left after it: the shared ledger's, else this replica's own.
    boost::asio::awaitable<SharedQuotaAnswer> decide(const std::string& book_key);
    void publish(const std::string& book_key, const economy::QuotaRemaining& left);

    const QuotaOptions options_;
    const Clock& clock_;
    ops::Metrics& metrics_;
    SharedQuota* shared_;
    economy::QuotaBook book_; // this replica's share of the limits
    ClientQuota clients_;     // each client's own minute, taken before the key's
};

} // namespace shim::upstream
