#pragma once
// A legacy Sigma route answered from upstream objects: fetch File, behaviours and rules, then call the pure
// transform in adapters/sigma_analysis. Speaks to the upstream only through the Upstream interface.
#include "serve/answer_memo.hpp"
#include "serve/config.hpp"
#include "serve/http_answer.hpp"
#include "serve/router.hpp"
#include "upstream/upstream.hpp"

#include <boost/asio/awaitable.hpp>
#include <optional>

namespace shim::serve {

struct LegacyRequest {
    Route route; // owned: a request outlives the caller's frame when a shadow comparison runs on its own
    std::string api_key;
    std::string request_id;
    std::string target; // the request target as sent: the upstream's own legacy answer is asked for with it
    std::string client; // the client token's name ("" without tokens): its own quota applies upstream
};

class LegacyHandler {
public:
    LegacyHandler(upstream::Upstream& upstream, const ServeConfig& config, AnswerMemo& memo)
        : upstream_(upstream), config_(config), memo_(memo) {}

    boost::asio::awaitable<HttpAnswer> handle(const LegacyRequest& request);

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
};

} // namespace shim::serve
