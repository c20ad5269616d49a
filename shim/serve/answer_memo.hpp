#pragma once
// Rendered legacy answers, kept in the cache beside the upstream objects they were built from, and fresh
// exactly as long as the least fresh of those objects: within that time the cache would give the same objects
// back, so the reconstruction would give the same bytes. A warm request then costs one lookup instead of
// parsing the File object and its behaviour pages, extracting and rendering. Kept per API key, like the
// objects; counted against --cache-bytes (kind "answer").
#include "economy/byte_lru.hpp"
#include "ops/metrics.hpp"
#include "serve/http_answer.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace shim::serve {

class AnswerMemo {
public:
    // With a zero-byte budget (no cache) nothing is kept.
    AnswerMemo(economy::ByteLru& lru, ops::Metrics& metrics) : lru_(lru), metrics_(metrics) {}

    // The answer kept for this key and request target, if still fresh: an answer whose `kept` is set.
    std::optional<HttpAnswer> find(const std::string& api_key, std::string_view target);
    // Keeps a 200 answer built from `sources` upstream objects, fresh until `fresh_until`, with what it takes
    // to write it again made ready (its header lines, its gzip body). `answer` is what a hit is to be sent.
    void keep(const std::string& api_key, std::string_view target, const HttpAnswer& answer,
              std::size_t sources, economy::SteadyTime fresh_until);

private:
    static std::string key_of(const std::string& api_key, std::string_view target);

    economy::ByteLru& lru_;
    ops::Metrics& metrics_;
};

} // namespace shim::serve
