#include "upstream/recording_upstream.hpp"

#include "upstream/record_layout.hpp"

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace shim::upstream {

void RecordingUpstream::record(const std::string& relative, const std::string& body) {
    namespace fs = std::filesystem;
    const fs::path target = fs::path(dir_) / relative;
    // A name of our own per write: concurrent writers of the same object never share a temporary file.
    const fs::path temporary =
        target.string() + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(++sequence_);
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out.write(body.data(), static_cast<std::streamsize>(body.size()));
        out.close();
        if (!out) ec = std::make_error_code(std::errc::io_error);
    }
    if (!ec) fs::rename(temporary, target, ec);
    if (ec) {
        fs::remove(temporary, ec);
        log_.write(ops::LogLevel::warn, "record failed", {{"path", target.string()}});
    }
}

boost::asio::awaitable<UpstreamResponse> RecordingUpstream::get(UpstreamRequest request) {
    auto response = co_await next_.get(request);
    if (response.failure == Failure::none && response.status == 200) {
        if (const auto relative = record_path_for(request.target); !relative.empty())
            record(relative, response.body);
    }
    co_return response;
}

} // namespace shim::upstream
