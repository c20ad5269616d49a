#include "upstream/exchange.hpp"

#include "net/body_piece.hpp"
#include "net/head_text.hpp"
#include "net/write_all.hpp"
#include "upstream/upstream_metrics.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/ssl.hpp>

namespace shim::upstream {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

} // namespace

bool is_interim_status(unsigned status) {
    return status >= 100 && status < 200 && status != 101;
}

bool is_stale_connection_error(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::ssl::error::stream_truncated;
}

std::string upstream_status_label(const UpstreamResponse& r) {
    switch (r.failure) {
    case Failure::deadline:
        return "timeout";
    case Failure::transient:
        return r.status ? std::to_string(r.status) : "error";
    case Failure::none:
        break;
    }
    return std::to_string(r.status);
}

void register_upstream_metrics(ops::Metrics& m) {
    const auto buckets = ops::default_duration_buckets();
    m.add_counter("sigma_shim_upstream_requests_total", "Upstream requests, by purpose and status",
                  {"purpose", "status"});
    m.add_histogram("sigma_shim_upstream_duration_seconds", "Upstream request durations", {"purpose"},
                    buckets);
    m.add_gauge("sigma_shim_upstream_in_flight", "Upstream requests under way", {"purpose"});
    m.add_counter("sigma_shim_upstream_connection_uses_total",
                  "Times an upstream connection was opened, taken from or given back to the pool", {});
    m.add_counter("sigma_shim_upstream_connection_thread_switches_total",
                  "Uses of an upstream connection from a thread other than the one it belongs to (always 0)",
                  {});
    m.add_counter(
        "sigma_shim_upstream_proxy_errors_total",
        "Connections the forward proxy failed to give, by reason (unreachable, refused, auth_required, "
        "closed, timeout)",
        {"reason"});
    m.add_counter(
        "sigma_shim_shared_objects_total",
        "Objects looked up in the store shared by replicas, by result (hit; waited: another replica "
        "fetched it; fetched: this one did; alone: the store was unavailable; too_large: not shared)",
        {"result"});
    m.add_counter("sigma_shim_shared_quota_decisions_total",
                  "Quota decisions of a replica with a shared ledger, by the ledger that made them (redis; "
                  "local: the shared ledger did not answer, this replica's share decided)",
                  {"ledger"});
}

UpstreamMeter::UpstreamMeter(ops::Metrics& metrics, std::string_view kind)
    : metrics_(&metrics), kind_(kind), start_(SteadyClock::now()) {
    metrics_->gauge_add("sigma_shim_upstream_in_flight", 1, {kind_});
}

UpstreamMeter::UpstreamMeter(UpstreamMeter&& other) noexcept
    : metrics_(std::exchange(other.metrics_, nullptr)), kind_(other.kind_), start_(other.start_),
      finished_(other.finished_) {}

UpstreamMeter::~UpstreamMeter() {
    if (!metrics_) return;
    finish("error"); // left without a word: an exception, or cancelled at the drain deadline
    metrics_->gauge_add("sigma_shim_upstream_in_flight", -1, {kind_});
}

void UpstreamMeter::finish(const std::string& status) {
    if (finished_ || !metrics_) return;
    finished_ = true;
    const std::chrono::duration<double> took = SteadyClock::now() - start_;
    metrics_->inc("sigma_shim_upstream_requests_total", {kind_, status});
    metrics_->observe("sigma_shim_upstream_duration_seconds", took.count(), {kind_});
}

void Exchange::finish(const std::string& status) {
    if (meter) meter->finish(status);
}

asio::awaitable<Exchange> Exchanger::start(ExchangeRequest request) {
    Exchange out;
    if (quota_) {
        if (auto refused = co_await quota_->admit(request.api_key, request.client)) {
            out.refused = std::move(refused);
            co_return out;
        }
    }
    out.meter.emplace(metrics_, request.kind);
    const auto& rh = request.head;
    const bool has_body = request.body != nullptr;
    const bool chunked = has_body && !rh.content_length;
    const bool head = rh.method == "HEAD";
    std::string request_head; // written as is on every attempt
    request_head.reserve(rh.fields.size() + 256);
    request_head.append(rh.method).append(" ");
    request_head.append(pool_.absolute_form_prefix()).append(rh.target).append(" HTTP/1.1\r\n");
    net::head_text::append_field(request_head, "Host", pool_.host_header());
    request_head.append(rh.fields);
    if (const auto credentials = pool_.request_proxy_authorization(); !credentials.empty())
        net::head_text::append_field(request_head, "Proxy-Authorization", credentials);
    if (has_body && rh.content_length)
        net::head_text::append_number_field(request_head, "Content-Length", *rh.content_length);
    if (chunked) net::head_text::append_field(request_head, "Transfer-Encoding", "chunked");
    request_head.append("\r\n");
    // Each step's deadline: the exchange's own, or the upstream timeout from the step's start.
    auto arm = [&](Connection& c) {
        if (request.deadline)
            c.tcp().expires_at(*request.deadline);
        else
            c.tcp().expires_after(options_.timeout);
    };
    auto fail = [&](Failure kind, std::string detail, std::string message = {}) {
        out.answer.reset();
        out.lease = {};
        out.failure = kind;
        out.detail = std::move(detail);
        out.failure_message = std::move(message);
        out.finish(kind == Failure::deadline ? "timeout" : "error");
    };

    error_code ec;
    for (int attempt = 0;; ++attempt) {
        ConnectError connect_error;
        const auto connect_by = request.deadline.value_or(SteadyClock::now() + options_.timeout);
        out.lease = co_await pool_.acquire(connect_by, attempt > 0, connect_error);
        if (!out.lease) {
            fail(connect_error.deadline ? Failure::deadline : Failure::transient, connect_error.detail,
                 connect_error.message);
            co_return out;
        }
        auto& conn = *out.lease;
        arm(conn);
        const auto head_bytes = asio::buffer(request_head);
        co_await conn.on_stream([&](auto& s) { return net::write_all(s, head_bytes, ec); });
        // The request body, a chunk at a time as the client sends it: never held whole.
        for (bool last = !has_body; !ec && !last;) {
            error_code client_ec;
            const auto chunk = co_await request.body->next(last, client_ec);
            if (client_ec) {
                // The upstream gets an incomplete request and is dropped; the client gets no answer it could
                // mistake for the upstream's.
                out.client_failed = true;
                out.client_error = client_ec;
                fail(Failure::transient, "client body: " + client_ec.message());
                co_return out;
            }
            out.body_bytes_sent += chunk.size();
            const net::BodyPiece piece(chunk, last, chunked);
            const auto pieces = piece.buffers();
            if (asio::buffer_size(pieces) == 0) continue;
            arm(conn);
            co_await conn.on_stream([&](auto& s) { return net::write_all(s, pieces, ec); });
        }
        if (!ec) arm(conn); // one deadline for every header below
        bool got_some = false;
        for (int interim = 0; !ec; ++interim) {
            out.answer = std::make_unique<AnswerParser>();
            out.answer->body_limit(std::numeric_limits<std::uint64_t>::max());
            out.answer->header_limit(options_.header_limit);
            if (head) out.answer->skip(true);
            co_await conn.on_stream([&](auto& s) {
                return http::async_read_header(s, conn.buffer, *out.answer,
                                               asio::redirect_error(asio::use_awaitable, ec));
            });
            got_some = got_some || out.answer->got_some();
            if (ec) break;
            const unsigned status = out.answer->get().result_int();
            // Upgrade is hop-by-hop and never asked for, so a 101 is wrong; a flood of interim answers is no
            // answer.
            if (status == 101 || (is_interim_status(status) && interim == max_interim_answers)) {
                ec = http::error::bad_status;
                break;
            }
            // An interim answer (103 Early Hints, an unasked 100 Continue) precedes the real one (RFC 9110
            // 15.2). Taken for the answer, it would leave the real one on the pooled connection for the next
            // request to read as its own, maybe another key's. It is read past, never forwarded: API
            // clients have no use for it and several (Python's http.client among them) take any 1xx but 100
            // for the final answer.
            if (!is_interim_status(status)) break;
        }
        if (!ec) break;
        const bool retry = attempt == 0 && !has_body && request.idempotent && conn.reused && !got_some &&
                           is_stale_connection_error(ec);
        out.lease = {}; // closed: it failed
        if (retry) continue;
        if (ec == beast::error::timeout)
            fail(Failure::deadline, "the upstream did not answer in time");
        else
            fail(Failure::transient, "upstream: " + ec.message());
        co_return out;
    }
    if (auto refusal = pool_.proxy_refusal(out.answer->get().result_int()); !refusal.empty()) {
        fail(Failure::transient, refusal, refusal);
        co_return out;
    }
    if (quota_) {
        const auto& res = out.answer->get();
        const std::string retry_after(res[http::field::retry_after]);
        co_await quota_->observe(request.api_key, res.result_int(), retry_after);
    }
    co_return out;
}

} // namespace shim::upstream
