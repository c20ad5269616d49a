#pragma once
// A legacy Sigma route answered from upstream objects: fetch File, behaviours and rules, then call the pure
// transform in adapters/sigma_analysis. Speaks to the upstream only through the Upstream interface.
#include "serve/answer_memo.hpp"
#include "serve/config.hpp"
#include "serve/http_answer.hpp"
#include "serve/router.hpp"
#include "sigma_analysis/rule_fields.hpp"
#include "upstream/upstream.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <deque>
#include <optional>
#include <vector>

namespace shim::serve {

struct LegacyRequest {
    Route route; // owned: a request outlives the caller's frame when a shadow comparison runs on its own
    std::string api_key;
    std::string request_id;
    std::string target; // the request target as sent: the upstream's own legacy answer is asked for with it
    std::string client; // the client token's name ("" without tokens): its own quota applies upstream
};

// What a reconstruction is built from: the upstream objects fetched for one request, and what the cache
// layers did for them. Filled in place: the pointers point into the documents it holds.
struct LegacySources {
    std::optional<HttpAnswer> failure; // set: an object could not be had; the answer says why
    boost::json::value file_doc;
    const boost::json::object* file = nullptr; // the File object in file_doc
    std::deque<boost::json::value> pages;      // behaviour pages, in upstream order
    std::vector<const boost::json::object*> behaviours;
    std::size_t skipped_items = 0; // behaviour list items that were no objects
    bool truncated = false;        // more behaviour pages existed than --behaviour-pages
    sigma_analysis::RuleCatalog rules;
    std::deque<boost::json::value> rule_docs;

    // The answer's X-Sigma-Shim-Cache: the worst of what the cache layers did for its fetches.
    upstream::CacheStatus worst = upstream::CacheStatus::bypass;
    std::size_t calls = 0;   // fetches the upstream itself answered
    std::size_t sources = 0; // objects the answer is built from
    // The answer may be kept while every object it is built from is fresh in the cache.
    std::optional<economy::SteadyTime> fresh_until;
    bool keepable = true;
};

class LegacyHandler {
public:
    LegacyHandler(upstream::Upstream& upstream, const ServeConfig& config, AnswerMemo& memo,
                  ops::Metrics& metrics)
        : upstream_(upstream), config_(config), memo_(memo), metrics_(metrics) {}

    boost::asio::awaitable<HttpAnswer> handle(const LegacyRequest& request);
    // The File object, its behaviour pages and, when the form or the match-context mode needs them, the
    // sigma_rule objects for the request's file (`sigma-shim calibrate` reads them too).
    boost::asio::awaitable<void> fetch_sources(const LegacyRequest& request, LegacySources& out);

private:
    struct Reconstruction {
        HttpAnswer answer;
        std::optional<economy::SteadyTime> keep_until; // set: it may be kept until then
        std::size_t sources = 0;                       // the upstream objects it was built from
    };
    boost::asio::awaitable<Reconstruction> reconstruct(const LegacyRequest& request);
    // The labels every answer of a legacy route carries.
    static HttpAnswer labelled(HttpAnswer answer, const Route& route);

    upstream::Upstream& upstream_;
    const ServeConfig& config_;
    AnswerMemo& memo_;
    ops::Metrics& metrics_;
};

} // namespace shim::serve
