#include "app/compare_reconstructor.hpp"

#include "app/chain_runner.hpp"
#include "serve/legacy_handler.hpp"
#include "serve/migration_handler.hpp"
#include "serve/router.hpp"
#include "util/key_hash.hpp"

namespace shim::app {
namespace {

namespace asio = boost::asio;
using serve::HttpAnswer;
using serve::LegacyHandler;
using serve::LegacyRequest;

// The request is the coroutine's own: it lives in its frame while the handler awaits.
asio::awaitable<HttpAnswer> handle(LegacyHandler& legacy, LegacyRequest request) {
    co_return co_await legacy.handle(request);
}

class ChainReconstructor final : public cli::Reconstructor {
public:
    explicit ChainReconstructor(std::unique_ptr<ChainRunner> runner) : runner_(std::move(runner)) {}

    compare::Answer reconstruct(std::string_view target) override {
        serve::Route route = serve::route_request("GET", target);
        if (route.route_class != serve::RouteClass::legacy) {
            HttpAnswer refused = serve::error_answer("InvalidArgumentError", "not a legacy Sigma route");
            return serve::comparable(refused);
        }
        LegacyRequest request{
            std::move(route), runner_->api_key(), util::new_request_id(), std::string(target), {}};
        return serve::comparable(runner_->run(handle(runner_->chain().legacy(), std::move(request))));
    }

private:
    std::unique_ptr<ChainRunner> runner_;
};

} // namespace

std::unique_ptr<cli::Reconstructor> make_compare_reconstructor(std::span<const std::string> serve_args,
                                                               std::string& error) {
    auto runner = ChainRunner::make(serve_args, error);
    return runner ? std::make_unique<ChainReconstructor>(std::move(runner)) : nullptr;
}

} // namespace shim::app
