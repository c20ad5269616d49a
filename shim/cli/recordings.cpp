#include "cli/recordings.hpp"

#include "cli/json_document.hpp"

#include <algorithm>
#include <filesystem>

namespace shim::cli {

namespace fs = std::filesystem;

bool load_recordings(const std::string& path, std::string_view command, const CommandIo& io,
                     std::vector<Recording>& out, bool& is_folder) {
    const std::string prefix = "sigma-shim " + std::string(command) + ": ";
    std::error_code ec;
    is_folder = fs::is_directory(path, ec);
    std::vector<fs::path> files;
    if (is_folder) {
        for (const auto& entry : fs::directory_iterator(path, ec)) {
            std::error_code file_ec;
            if (entry.path().extension() == ".json" && entry.is_regular_file(file_ec))
                files.push_back(entry.path());
        }
        if (ec) {
            io.err << prefix << path << ": " << ec.message() << '\n';
            return false;
        }
        if (files.empty()) {
            io.err << prefix << path << ": no *.json files in this folder\n";
            return false;
        }
        std::sort(files.begin(), files.end(),
                  [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
    } else {
        files.emplace_back(path);
    }
    for (const auto& file : files) {
        const std::string file_path = file.string();
        auto doc = load_json_input(file_path, io.read, command, io.err);
        if (!doc) return false;
        Recording r;
        r.path = file_path;
        r.name = file.filename().string();
        r.answer.status = compare::recorded_status(*doc);
        r.answer.body = std::move(*doc);
        r.shape = compare::legacy_shape(r.answer.body, r.name);
        out.push_back(std::move(r));
    }
    return true;
}

} // namespace shim::cli
