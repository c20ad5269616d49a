#pragma once
// A layer of the upstream chain: `--record DIR` writes every object fetched from the upstream (File objects,
// behaviour pages, sigma_rule objects) into DIR, in the layout of record_layout.hpp, so that `--upstream
// dir:DIR` can serve them again with no network. Files are written whole, then renamed into place; the API
// key is in no file and no name. The writes run on a thread of the layer's own, never on the event loop; a
// request waits for its object to be written, so an answer given means a file in place.
#include "ops/log.hpp"
#include "upstream/upstream.hpp"

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <string>

namespace shim::upstream {

class RecordingUpstream final : public Upstream {
public:
    RecordingUpstream(Upstream& next, std::string dir, ops::Logger& log)
        : next_(next), dir_(std::move(dir)), log_(log) {}
    ~RecordingUpstream() override;
    RecordingUpstream(const RecordingUpstream&) = delete;
    RecordingUpstream& operator=(const RecordingUpstream&) = delete;
    boost::asio::awaitable<UpstreamResponse> get(UpstreamRequest request) override;

private:
    // Writes on writer_ and resumes the caller on its own executor once the file is in place.
    boost::asio::awaitable<void> write_off_loop(std::string relative, std::string body);
    // Blocking file I/O: only ever called on writer_.
    void record(const std::string& relative, const std::string& body);

    Upstream& next_;
    std::string dir_;
    ops::Logger& log_;
    std::atomic<unsigned long> sequence_{0};
    // One thread, so writes never compete for the disk. Last member: it is joined before the rest is gone.
    boost::asio::thread_pool writer_{1};
};

} // namespace shim::upstream
