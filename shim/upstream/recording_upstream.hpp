#pragma once
// A layer of the upstream chain: `--record DIR` writes every object fetched from the upstream (File objects,
// behaviour pages, sigma_rule objects) into DIR, in the layout of record_layout.hpp, so that `--upstream
// dir:DIR` can serve them again with no network. Files are written whole, then renamed into place; the API
// key is in no file and no name.
#include "ops/log.hpp"
#include "upstream/upstream.hpp"

#include <atomic>
#include <string>

namespace shim::upstream {

class RecordingUpstream final : public Upstream {
public:
    RecordingUpstream(Upstream& next, std::string dir, ops::Logger& log)
        : next_(next), dir_(std::move(dir)), log_(log) {}
    boost::asio::awaitable<UpstreamResponse> get(UpstreamRequest request) override;

private:
    void record(const std::string& relative, const std::string& body);

    Upstream& next_;
    std::string dir_;
    ops::Logger& log_;
    std::atomic<unsigned long> sequence_{0};
};

} // namespace shim::upstream
