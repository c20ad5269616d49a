#pragma once
// One request and the header of its answer, exchanged with the upstream: the only code that speaks HTTP to
// it. Reconstruction fetches (HttpUpstream) and pass-through both start their exchanges here, so the quota,
// the connection from the pool, the deadlines, the one retry of a stale pooled connection, interim (1xx)
// answers and the upstream metrics are handled in one place. The caller then reads the answer's body from the
// lease, whole or streamed, and finishes the exchange.
#include "ops/metrics.hpp"
#include "upstream/connection_pool.hpp"
#include "upstream/upstream.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace shim::upstream {

// 1xx answers other than 101: interim, the real answer follows on the same connection.
bool is_interim_status(unsigned status);
// How many interim answers one request may get before the upstream is deemed broken.
inline constexpr int max_interim_answers = 8;

// A reused connection that fails with this before any byte of the answer was probably closed by the peer
// while idle: the request may be sent once more on a fresh connection.
bool is_stale_connection_error(const boost::system::error_code& ec);

// Spends a key's quota before a request goes upstream and learns from the answer.
class QuotaGate {
public:
    virtual ~QuotaGate() = default;
    // Takes one request of the key's quota, maybe after a wait; the local refusal when there is none left.
    // `client` names the client token the request came with ("" : none), whose own limit applies too.
    virtual boost::asio::awaitable<std::optional<UpstreamResponse>> admit(const std::string& api_key,
                                                                          const std::string& client) = 0;
    // What an upstream answer says of the quota (a 429 with its Retry-After).
    virtual boost::asio::awaitable<void> observe(const std::string& api_key, unsigned status,
                                                 const std::string& retry_after) = 0;
};

// The request body of a relayed request, read from its client while it is sent upstream.
class BodySource {
public:
    virtual ~BodySource() = default;
    // The next bytes (empty at the end); `last` once no more follow. An error is the client's.
    virtual boost::asio::awaitable<std::span<const char>> next(bool& last, boost::system::error_code& ec) = 0;
};

using AnswerParser = boost::beast::http::response_parser<boost::beast::http::empty_body>;

// A request's header as its maker has it. The exchange writes it as text (net::head_text) after the request
// line and Host, with what the route to the upstream adds (the proxy's credentials) and the body's framing.
struct RequestHead {
    std::string_view method = "GET"; // as sent: any token the client used
    std::string_view target;         // origin-form
    std::string_view fields;         // end-to-end header lines, each "Name: value\r\n"; not Host, not framing
    std::optional<std::uint64_t> content_length; // with a body: its length; unset: it goes chunked
};

struct ExchangeRequest {
    RequestHead head;
    std::string api_key;        // the quota's key (the x-apikey header is the caller's to write)
    std::string_view kind;      // metric label: "reconstruct" or "passthrough"
    BodySource* body = nullptr; // a body to stream, framed as head.content_length says
    bool idempotent = true;     // may be sent again on a fresh connection when a pooled one was stale
    // Set: one deadline for the whole exchange. Unset: the upstream timeout for each step (connecting,
    // writing the header, each body chunk, reading the answer's header).
    std::optional<SteadyClock::time_point> deadline;
    std::string client; // the client token's name: its own quota applies within the key's ("" : none)
};

// Counts and times one exchange in the upstream metrics; the in-flight gauge moves with its life.
class UpstreamMeter {
public:
    UpstreamMeter(ops::Metrics& metrics, std::string_view kind);
    UpstreamMeter(UpstreamMeter&& other) noexcept;
    UpstreamMeter& operator=(UpstreamMeter&&) = delete;
    UpstreamMeter(const UpstreamMeter&) = delete;
    ~UpstreamMeter();
    // Records the exchange under `status` ("200", "timeout", "error"...); once.
    void finish(const std::string& status);

private:
    ops::Metrics* metrics_;
    std::string_view kind_;
    SteadyClock::time_point start_;
    bool finished_ = false;
};

// What an exchange gave.
struct Exchange {
    // The answer's header, read; its body is still on `lease` (read it with lease->buffer).
    std::unique_ptr<AnswerParser> answer;
    ConnectionLease lease;
    // Without an answer: the local refusal of the quota (`refused`), or a failure.
    std::optional<UpstreamResponse> refused;
    Failure failure = Failure::none;
    std::string detail;          // why it failed; never holds the key
    std::string failure_message; // for the client, when the cause is worth naming (the proxy); else ""
    bool client_failed = false;  // the client's body broke off or grew too large: the client is to blame
    boost::system::error_code client_error;
    std::optional<UpstreamMeter> meter; // set once the request was admitted
    std::uint64_t body_bytes_sent = 0;  // request body bytes relayed

    // Records the exchange in the metrics and tells the quota of the answer.
    void finish(const std::string& status);
};

struct ExchangeOptions {
    std::chrono::milliseconds timeout{std::chrono::seconds(30)};
    std::uint32_t header_limit = 64 * 1024; // the answer's header block
};

class Exchanger {
public:
    // `quota` may be null: no local quota (upstream 429s are then still the client's to see).
    Exchanger(ConnectionPool& pool, QuotaGate* quota, ops::Metrics& metrics, ExchangeOptions options)
        : pool_(pool), quota_(quota), metrics_(metrics), options_(options) {}

    boost::asio::awaitable<Exchange> start(ExchangeRequest request);
    const ExchangeOptions& options() const { return options_; }
    QuotaGate* quota() const { return quota_; }
    std::string host_header() const { return pool_.host_header(); }

private:
    ConnectionPool& pool_;
    QuotaGate* quota_;
    ops::Metrics& metrics_;
    ExchangeOptions options_;
};

// The status label of an upstream exchange: the HTTP status, or "timeout" / "error" when there was none.
std::string upstream_status_label(const UpstreamResponse& r);

} // namespace shim::upstream
