#pragma once
// A folder of recorded legacy answers (--baseline dir:DIR), indexed by the legacy route they answer, so the
// shadow and compare modes can stand them in for an upstream that no longer serves those routes.
#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace shim::migrate {

struct RecordedAnswer {
    unsigned status = 200;
    std::string body;
};

// The legacy route target with its file id replaced by the file's SHA-256, lower-cased: the same key for a
// route asked by MD5, SHA-1 or SHA-256.
std::string canonical_target(std::string_view target, std::string_view sha256);

class BaselineCatalog {
public:
    // Reads every *.json file in `dir`. Throws std::runtime_error naming the file that is not a recorded
    // legacy answer (not JSON, or no route and id can be told from it).
    explicit BaselineCatalog(const std::string& dir);

    // The recorded answer to `target` for the file `sha256`; nullptr when none was recorded.
    const RecordedAnswer* find(std::string_view target, std::string_view sha256) const;

    std::size_t size() const { return answers_.size(); }

private:
    std::map<std::string, RecordedAnswer, std::less<>> answers_;
};

} // namespace shim::migrate
