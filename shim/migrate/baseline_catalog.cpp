#include "migrate/baseline_catalog.hpp"

#include "compare/legacy_shape.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace shim::migrate {
namespace fs = std::filesystem;

std::string canonical_target(std::string_view target, std::string_view sha256) {
    std::string out;
    for (const std::string_view prefix : {"/api/v3/sigma_analyses/", "/api/v3/files/"}) {
        if (!target.starts_with(prefix)) continue;
        const auto rest = target.substr(prefix.size());
        const auto id_end = std::min(rest.find('/'), rest.find('?'));
        out = std::string(prefix) + std::string(sha256) +
              std::string(id_end == std::string_view::npos ? std::string_view() : rest.substr(id_end));
        break;
    }
    if (out.empty()) out = target;
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    return out;
}

BaselineCatalog::BaselineCatalog(const std::string& dir) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
        std::ifstream in(path, std::ios::binary);
        std::stringstream bytes;
        bytes << in.rdbuf();
        boost::json::error_code ec;
        const auto body = boost::json::parse(bytes.str(), ec);
        const auto shape = ec ? std::nullopt : compare::legacy_shape(body, path.filename().string());
        if (!shape || shape->sha256.empty())
            throw std::runtime_error(path.string() + ": not a recorded legacy answer (" +
                                     (ec ? "not JSON" : "no legacy route or SHA-256 in it") + ")");
        RecordedAnswer answer{compare::recorded_status(body), bytes.str()};
        answers_.insert_or_assign(canonical_target(shape->target, shape->sha256), std::move(answer));
    }
}

const RecordedAnswer* BaselineCatalog::find(std::string_view target, std::string_view sha256) const {
    const auto it = answers_.find(canonical_target(target, sha256));
    return it == answers_.end() ? nullptr : &it->second;
}

} // namespace shim::migrate
