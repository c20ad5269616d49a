#include "cli/json_document.hpp"

#include <algorithm>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/stream_parser.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <vector>

namespace shim::cli {
namespace {

namespace json = boost::json;

// How much of a file the pruned parse is given at a time.
constexpr std::size_t chunk_size = 64 * 1024;

// "not JSON at byte 120 (line 3, column 9): incomplete JSON", for an error `at` bytes into `bytes`.
std::string not_json(std::string_view bytes, std::size_t consumed, const json::error_code& ec) {
    const std::size_t at = std::min(consumed, bytes.size());
    const auto before = bytes.substr(0, at);
    const std::size_t line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
    const auto last_newline = before.rfind('\n');
    const std::size_t column = last_newline == std::string_view::npos ? at + 1 : at - last_newline;
    std::ostringstream msg;
    msg << "not JSON at byte " << at << " (line " << line << ", column " << column << "): " << ec.message();
    return msg.str();
}

std::string display(const std::string& path) {
    return path == "-" ? "standard input" : path;
}

// A pruned parse of the regular file `path`, fed in chunks. Boost.JSON places a few errors differently when
// the bad token is cut between two chunks, so on an error the file is read again whole and parsed in one
// write: the message is then the one a whole read gives. Errors are rare; holding the input for them is not.
std::optional<json::value> load_pruned_file(const std::string& path, const sigma_analysis::KeepTree& keep,
                                            std::string_view command, std::ostream& err) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        err << "sigma-shim " << command << ": " << path << ": " << std::strerror(errno) << '\n';
        return std::nullopt;
    }
    sigma_analysis::PrunedParser parser(keep, json::make_shared_resource<json::monotonic_resource>());
    std::vector<char> chunk(chunk_size);
    bool parsed = true;
    while (parsed && in) {
        in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        const auto n = static_cast<std::size_t>(in.gcount());
        if (n > 0) parsed = parser.write({chunk.data(), n});
    }
    if (in.bad()) {
        err << "sigma-shim " << command << ": " << path << ": read failed\n";
        return std::nullopt;
    }
    if (parsed && parser.finish()) return parser.release();

    std::string bytes, error;
    if (!read_input(path, bytes, error)) {
        err << "sigma-shim " << command << ": " << error << '\n';
        return std::nullopt;
    }
    auto doc = parse_json_document(bytes, keep);
    if (!doc.error.empty()) {
        err << "sigma-shim " << command << ": " << path << ": " << doc.error << '\n';
        return std::nullopt;
    }
    return std::move(doc.value); // the file changed between the two reads
}

} // namespace

JsonDocument parse_json_document(std::string_view bytes) {
    boost::json::stream_parser parser;
    // The document lives in one monotonic arena, sized from the input: parsing is then mostly pointer bumps,
    // and the whole document is freed at once.
    parser.reset(boost::json::make_shared_resource<boost::json::monotonic_resource>(bytes.size() + 1024));
    boost::json::error_code ec;
    std::size_t consumed = parser.write_some(bytes.data(), bytes.size(), ec);
    if (!ec && consumed < bytes.size()) {
        // write_some stops after one complete value; anything but white space after it is an error.
        const auto rest = bytes.substr(consumed);
        const auto garbage = rest.find_first_not_of(" \t\r\n");
        if (garbage != std::string_view::npos) {
            consumed += garbage;
            ec = boost::json::make_error_code(boost::json::error::extra_data);
        }
    }
    if (!ec) parser.finish(ec);
    if (!ec)
        return {parser.release(), {}}; // moved with its arena: assigning into another value would copy it
    return {{}, not_json(bytes, consumed, ec)};
}

JsonDocument parse_json_document(std::string_view bytes, const sigma_analysis::KeepTree& keep) {
    auto doc = sigma_analysis::parse_pruned(bytes, keep);
    if (!doc.error) return {std::move(doc.value), {}};
    return {{}, not_json(bytes, doc.offset, doc.error)};
}

bool write_file(const std::string& path, std::string_view bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (out) out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (out) out.flush();
    return static_cast<bool>(out);
}

bool read_input(const std::string& path, std::string& bytes, std::string& error) {
    if (path == "-") {
        bytes.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
        if (std::cin.bad()) {
            error = "standard input: read failed";
            return false;
        }
        return true;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = path + ": " + std::strerror(errno);
        return false;
    }
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) {
        error = path + ": read failed";
        return false;
    }
    return true;
}

std::optional<boost::json::value> load_json_input(const std::string& path, const InputReader& read,
                                                  std::string_view command, std::ostream& err,
                                                  const sigma_analysis::KeepTree* keep) {
    // Standard input, pipes and devices cannot be read twice, which an error would need (load_pruned_file):
    // they are read whole.
    std::error_code regular_ec;
    if (keep && !read && path != "-" && std::filesystem::is_regular_file(path, regular_ec)) {
        return load_pruned_file(path, *keep, command, err);
    }
    std::string bytes, error;
    if (!(read ? read(path, bytes, error) : read_input(path, bytes, error))) {
        err << "sigma-shim " << command << ": " << error << '\n';
        return std::nullopt;
    }
    auto doc = keep ? parse_json_document(bytes, *keep) : parse_json_document(bytes);
    if (!doc.error.empty()) {
        err << "sigma-shim " << command << ": " << display(path) << ": " << doc.error << '\n';
        return std::nullopt;
    }
    return std::move(doc.value);
}

} // namespace shim::cli
