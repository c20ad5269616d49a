#include "serve/http_answer.hpp"

#include "net/head_text.hpp"
#include "sigma_analysis/errors.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>

namespace shim::serve {

namespace {

bool same_name(std::string_view a, std::string_view b) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

} // namespace

void HttpAnswer::set(std::string name, std::string value) {
    if (kept) {
        headers = kept->headers;
        body = kept->body;
        kept.reset();
    }
    const auto same = [&](const auto& header) { return same_name(header.first, name); };
    const auto first = std::find_if(headers.begin(), headers.end(), same);
    if (first == headers.end()) {
        headers.emplace_back(std::move(name), std::move(value));
        return;
    }
    headers.erase(std::remove_if(std::next(first), headers.end(), same), headers.end());
    *first = {std::move(name), std::move(value)};
}

bool HttpAnswer::has(std::string_view name) const {
    const auto& list = header_list();
    return std::any_of(list.begin(), list.end(),
                       [&](const auto& header) { return same_name(header.first, name); });
}

std::string header_lines(const HttpAnswer::Headers& headers) {
    static constexpr std::string_view per_request[] = {
        "x-request-id", "content-length", "content-encoding", "transfer-encoding", "vary", "connection"};
    std::string lines;
    bool cache_said = false, shim_said = false;
    for (const auto& [name, value] : headers) {
        if (std::any_of(std::begin(per_request), std::end(per_request),
                        [&](std::string_view own) { return same_name(name, own); }))
            continue;
        cache_said = cache_said || same_name(name, "X-Sigma-Shim-Cache");
        shim_said = shim_said || same_name(name, "X-Sigma-Shim");
        net::head_text::append_field(lines, name, value);
    }
    if (!cache_said) net::head_text::append_field(lines, "X-Sigma-Shim-Cache", "bypass");
    // Every answer says who made it; one that says nothing was made here (a /_shim/ endpoint, say).
    if (!shim_said) net::head_text::append_field(lines, "X-Sigma-Shim", local_answer);
    return lines;
}

HttpAnswer error_answer(std::string_view code, std::string_view message) {
    HttpAnswer a;
    a.status = sigma_analysis::status_of_error_code(code);
    a.body = sigma_analysis::error_body(code, message);
    a.set("Content-Type", "application/json; charset=utf-8");
    a.set("X-Sigma-Shim", local_answer);
    return a;
}

// What the client gets when an upstream fetch did not give a usable object: the upstream's own
// VirusTotal-shaped error with its status, or a TransientError / DeadlineExceededError of ours.
HttpAnswer upstream_error(const upstream::UpstreamResponse& r, std::string_view what) {
    if (r.failure == upstream::Failure::deadline) {
        auto a = error_answer("DeadlineExceededError", r.failure_message.empty()
                                                           ? "the upstream did not answer in time"
                                                           : r.failure_message);
        a.note = std::string(what) + ": " + r.failure_detail;
        return a;
    }
    if (r.failure == upstream::Failure::transient) {
        auto a =
            error_answer("TransientError", r.failure_message.empty()
                                               ? "the upstream could not be reached or gave a broken answer"
                                               : r.failure_message);
        a.note = std::string(what) + ": " + r.failure_detail;
        return a;
    }
    boost::json::error_code ec;
    const auto doc = boost::json::parse(r.body, ec);
    const auto* error = !ec && doc.is_object() ? doc.get_object().if_contains("error") : nullptr;
    if (error && error->is_object()) {
        HttpAnswer a;
        a.status = r.status;
        a.body = r.body;
        a.set("Content-Type", "application/json; charset=utf-8");
        if (!r.retry_after.empty()) a.set("Retry-After", r.retry_after);
        if (r.local) {
            a.set("X-Sigma-Shim", local_answer); // the quota's refusal: VirusTotal never saw the request
            a.note = std::string(what) + ": refused locally " + std::to_string(r.status);
        } else {
            a.note = std::string(what) + ": upstream " + std::to_string(r.status);
        }
        return a;
    }
    auto a = error_answer("TransientError",
                          "the upstream answered with something that is not a VirusTotal object");
    a.note = std::string(what) + ": upstream " + std::to_string(r.status) + " with a body that is not JSON";
    return a;
}

} // namespace shim::serve
