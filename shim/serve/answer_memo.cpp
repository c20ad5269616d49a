#include "serve/answer_memo.hpp"

#include "util/gzip.hpp"
#include "util/key_hash.hpp"

#include <chrono>
#include <memory>

namespace shim::serve {

std::string AnswerMemo::key_of(const std::string& api_key, std::string_view target) {
    // The object entries' keys start with the same partition; "answer " keeps the two apart.
    std::string key = util::key_digest(api_key);
    key += " answer ";
    key += target;
    return key;
}

std::optional<HttpAnswer> AnswerMemo::find(const std::string& api_key, std::string_view target) {
    if (lru_.budget() == 0) return std::nullopt;
    const auto found = lru_.find(key_of(api_key, target), std::chrono::steady_clock::now());
    if (!found.object || !found.fresh) {
        metrics_.inc("sigma_shim_cache_requests_total", {"answer", "miss"});
        return std::nullopt;
    }
    metrics_.inc("sigma_shim_cache_requests_total", {"answer", "hit"});
    metrics_.inc("sigma_shim_upstream_calls_saved_total", {}, static_cast<double>(found.object->sources));
    HttpAnswer answer;
    answer.status = found.object->status;
    answer.note = found.object->note;
    answer.kept = found.object; // written as it is kept: no copy
    return answer;
}

void AnswerMemo::keep(const std::string& api_key, std::string_view target, const HttpAnswer& answer,
                      std::size_t sources, economy::SteadyTime fresh_until) {
    const auto now = std::chrono::steady_clock::now();
    if (lru_.budget() == 0 || answer.status != 200 || fresh_until <= now) return;
    auto object = std::make_shared<economy::CachedObject>();
    object->status = answer.status;
    object->body = answer.body;
    object->kind = "answer";
    object->stored_at = now;
    object->fresh_until = fresh_until;
    object->stale_until = fresh_until; // never served stale: the objects are, and the answer is rebuilt
    object->headers = answer.headers;
    object->note = answer.note;
    object->sources = sources;
    // Made here once, so that a hit is a lookup and one write.
    object->header_lines = header_lines(answer.headers);
    if (!answer.body.empty()) object->gzip_body = util::gzip(answer.body);
    const auto evicted = lru_.put(key_of(api_key, target), std::move(object), now);
    if (evicted) metrics_.inc("sigma_shim_cache_evictions_total", {}, static_cast<double>(evicted));
    metrics_.set("sigma_shim_cache_bytes", static_cast<double>(lru_.bytes()));
    metrics_.set("sigma_shim_cache_entries", static_cast<double>(lru_.entries()));
}

} // namespace shim::serve
