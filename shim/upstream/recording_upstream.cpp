#include "upstream/recording_upstream.hpp"

#include "upstream/record_layout.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace shim::upstream {

namespace asio = boost::asio;

RecordingUpstream::~RecordingUpstream() {
    // Any write still queued (its requester gone with the event loop) is finished, not dropped.
    writer_.join();
}

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

boost::asio::awaitable<void> RecordingUpstream::write_off_loop(std::string relative, std::string body) {
    // A plain function object posted to the writer rather than a coroutine lambda co_spawned in a co_await
    // expression: GCC 12 destroyed that lambda's captures twice (a heap corruption the unit tests caught).
    auto write = [this, relative = std::move(relative), body = std::move(body)] {
        try {
            record(relative, body);
        } catch (const std::exception& e) {
            log_.write(ops::LogLevel::warn, "record failed", {{"error", std::string(e.what())}});
        }
    };
    return asio::async_initiate<decltype(asio::use_awaitable), void()>(
        [this](auto resume, auto job) {
            asio::post(writer_, [resume = std::move(resume), job = std::move(job)]() mutable {
                job();
                // Back to the requester's executor: the request resumes on its own event loop.
                const auto executor = asio::get_associated_executor(resume);
                asio::dispatch(executor, std::move(resume));
            });
        },
        asio::use_awaitable, std::move(write));
}

boost::asio::awaitable<UpstreamResponse> RecordingUpstream::get(UpstreamRequest request) {
    auto response = co_await next_.get(request);
    if (response.failure == Failure::none && response.status == 200) {
        if (auto relative = record_path_for(request.target); !relative.empty())
            co_await write_off_loop(std::move(relative), response.body);
    }
    co_return response;
}

} // namespace shim::upstream
