#include "app/calibrate_source.hpp"

#include "app/chain_runner.hpp"
#include "serve/legacy_handler.hpp"
#include "serve/router.hpp"
#include "util/key_hash.hpp"

namespace shim::app {
namespace {

namespace asio = boost::asio;
using serve::LegacyHandler;
using serve::LegacyRequest;
using serve::LegacySources;

// The objects as the relationship route fetches them: the File object and every behaviour page up to
// --behaviour-pages. The request lives in the coroutine's frame while the handler awaits.
asio::awaitable<cli::FileObjects> fetch(LegacyHandler& legacy, LegacyRequest request) {
    LegacySources in;
    co_await legacy.fetch_sources(request, in);
    cli::FileObjects out;
    if (in.failure) {
        out.error = "the upstream answered " + std::to_string(in.failure->status) + ": " + in.failure->body;
        co_return out;
    }
    out.file = *in.file;
    for (const auto* b : in.behaviours)
        out.behaviours.emplace_back(*b);
    out.behaviours_truncated = in.truncated;
    co_return out;
}

class ChainObjectSource final : public cli::ObjectSource {
public:
    explicit ChainObjectSource(std::unique_ptr<ChainRunner> runner) : runner_(std::move(runner)) {}

    cli::FileObjects fetch(std::string_view file_id) override {
        const std::string target = "/api/v3/files/" + std::string(file_id) + "/sigma_analysis";
        serve::Route route = serve::route_request("GET", target);
        if (route.route_class != serve::RouteClass::legacy) return {{}, {}, false, "not a file id"};
        LegacyRequest request{std::move(route), runner_->api_key(), util::new_request_id(), target, {}};
        return runner_->run(app::fetch(runner_->chain().legacy(), std::move(request)));
    }

private:
    std::unique_ptr<ChainRunner> runner_;
};

} // namespace

std::unique_ptr<cli::ObjectSource> make_calibrate_source(std::span<const std::string> serve_args,
                                                         std::string& error) {
    auto runner = ChainRunner::make(serve_args, error);
    return runner ? std::make_unique<ChainObjectSource>(std::move(runner)) : nullptr;
}

} // namespace shim::app
