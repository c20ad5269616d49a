#pragma once
// An answer the server writes: status, headers and an identity-encoded body. Knows nothing of sockets.
#include "economy/byte_lru.hpp"
#include "upstream/upstream.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace shim::serve {

struct HttpAnswer {
    using Headers = std::vector<std::pair<std::string, std::string>>;
    unsigned status = 200;
    Headers headers;
    std::string body;
    std::size_t upstream_calls = 0; // for the log line
    std::string note;               // for the log line: why partial, what failed upstream
    // A kept answer served as it was kept (a warm legacy answer): its headers and body are the kept object's,
    // written from its ready-made header lines and gzip body, and `headers` and `body` here stay empty.
    std::shared_ptr<const economy::CachedObject> kept;

    // Sets the header, replacing one of the same name (names compare without regard to case, RFC 9110 5.1),
    // so that a later layer can override what an earlier one set without the client getting both. Nothing
    // here sends a header more than once; a repeatable one would need an `add`. A kept answer becomes an
    // ordinary one first.
    void set(std::string name, std::string value);
    bool has(std::string_view name) const;
    const Headers& header_list() const { return kept ? kept->headers : headers; }
    const std::string& body_text() const { return kept ? kept->body : body; }
};

// The answer's headers as the lines of its header block ("Name: value\r\n" each), as the server sends them:
// without those it writes itself for each request (X-Request-Id, Content-Length, Content-Encoding, Vary,
// Connection), and with X-Sigma-Shim-Cache: bypass and X-Sigma-Shim: local when it says nothing of either.
std::string header_lines(const HttpAnswer::Headers& headers);

// X-Sigma-Shim on an answer the shim made itself, with nothing from the upstream in it: its own errors and
// its
// /_shim/ endpoints. The server sets it on any answer that says nothing else, so that no path can forget it.
inline constexpr const char* local_answer = "local";

// A VirusTotal-shaped error made by the shim: {"error": {"code", "message"}} with the status VirusTotal uses,
// marked X-Sigma-Shim: local so that a layer that labels its answers (reconstructed, shadow) leaves it so.
HttpAnswer error_answer(std::string_view code, std::string_view message);

// What the client gets when an upstream fetch did not give a usable object: the upstream's own
// VirusTotal-shaped error with its status, or a TransientError / DeadlineExceededError of ours. `what` names
// the fetch in the log note.
HttpAnswer upstream_error(const upstream::UpstreamResponse& r, std::string_view what);

} // namespace shim::serve
