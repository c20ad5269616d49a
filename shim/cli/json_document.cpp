#include "cli/json_document.hpp"

#include <algorithm>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/stream_parser.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace shim::cli {

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

    const std::size_t at = std::min(consumed, bytes.size());
    const auto before = bytes.substr(0, at);
    const std::size_t line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
    const auto last_newline = before.rfind('\n');
    const std::size_t column = last_newline == std::string_view::npos ? at + 1 : at - last_newline;
    std::ostringstream msg;
    msg << "not JSON at byte " << at << " (line " << line << ", column " << column << "): " << ec.message();
    return {{}, msg.str()};
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
                                                  std::string_view command, std::ostream& err) {
    std::string bytes, error;
    if (!(read ? read(path, bytes, error) : read_input(path, bytes, error))) {
        err << "sigma-shim " << command << ": " << error << '\n';
        return std::nullopt;
    }
    auto doc = parse_json_document(bytes);
    if (!doc.error.empty()) {
        err << "sigma-shim " << command << ": " << (path == "-" ? "standard input" : path) << ": "
            << doc.error << '\n';
        return std::nullopt;
    }
    return std::move(doc.value);
}

} // namespace shim::cli
