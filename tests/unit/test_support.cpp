#include "test_support.hpp"

#include "cli/convert_command.hpp"
#include "cli/json_document.hpp"

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace test_support {

std::string source_dir() {
    return SIGMA_SHIM_SOURCE_DIR;
}

std::string fixture(const std::string& name) {
    return source_dir() + "/tests/fixtures/" + name;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
    if (!out) throw std::runtime_error("cannot write " + path);
}

RunResult convert(const std::vector<std::string>& args, const std::map<std::string, std::string>& inputs) {
    std::ostringstream out, err;
    shim::cli::CommandIo io{out, err, [&](const std::string& path, std::string& bytes, std::string& error) {
                                if (const auto it = inputs.find(path); it != inputs.end()) {
                                    bytes = it->second;
                                    return true;
                                }
                                return shim::cli::read_input(path, bytes, error);
                            }};
    RunResult r;
    r.exit_code = shim::cli::run_convert(args, io);
    r.out = out.str();
    r.err = err.str();
    return r;
}

namespace {

std::string drain(int fd) {
    std::string s;
    std::array<char, 65536> buf;
    for (;;) {
        const auto n = ::read(fd, buf.data(), buf.size());
        if (n <= 0) break;
        s.append(buf.data(), static_cast<std::size_t>(n));
    }
    return s;
}

} // namespace

RunResult run_binary(const std::vector<std::string>& args, const std::string& stdin_bytes) {
    // Files instead of pipes: no deadlock however much either side writes.
    char in_path[] = "/tmp/sigma-shim-test-in-XXXXXX";
    char out_path[] = "/tmp/sigma-shim-test-out-XXXXXX";
    char err_path[] = "/tmp/sigma-shim-test-err-XXXXXX";
    const int in_fd = ::mkstemp(in_path), out_fd = ::mkstemp(out_path), err_fd = ::mkstemp(err_path);
    if (in_fd < 0 || out_fd < 0 || err_fd < 0) throw std::runtime_error("mkstemp failed");
    write_file(in_path, stdin_bytes);

    const pid_t pid = ::fork();
    if (pid == 0) {
        ::lseek(in_fd, 0, SEEK_SET);
        ::dup2(in_fd, 0);
        ::dup2(out_fd, 1);
        ::dup2(err_fd, 2);
        std::vector<char*> argv;
        std::string binary = SIGMA_SHIM_BINARY;
        argv.push_back(binary.data());
        std::vector<std::string> copy = args;
        for (auto& a : copy)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(binary.c_str(), argv.data());
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    RunResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    ::lseek(out_fd, 0, SEEK_SET);
    ::lseek(err_fd, 0, SEEK_SET);
    r.out = drain(out_fd);
    r.err = drain(err_fd);
    for (int fd : {in_fd, out_fd, err_fd})
        ::close(fd);
    for (const char* p : {in_path, out_path, err_path})
        ::unlink(p);
    return r;
}

bool same_json(const std::string& a, const std::string& b, std::string& message) {
    const auto va = boost::json::parse(a);
    const auto vb = boost::json::parse(b);
    if (va == vb) return true;
    message = "first:\n" + boost::json::serialize(va) + "\nsecond:\n" + boost::json::serialize(vb);
    return false;
}

// Skips white space from `i`; the index of the next other byte.
namespace {

std::size_t skip_space(std::string_view text, std::size_t i) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t'))
        ++i;
    return i;
}

} // namespace

// Works on the text, not on a parsed value, so that numbers and escapes keep their bytes and members their
// order. Empty objects and arrays stay "{}" and "[]". Ends with a newline.
std::string pretty_json_text(std::string_view text) {
    std::string out;
    std::size_t depth = 0;
    const auto newline = [&] { out.append("\n").append(2 * depth, ' '); };
    for (std::size_t i = skip_space(text, 0); i < text.size(); i = skip_space(text, i)) {
        const char c = text[i];
        if (c == '"') {
            const std::size_t start = i++;
            while (i < text.size() && text[i] != '"')
                i += text[i] == '\\' ? 2 : 1;
            out.append(text.substr(start, ++i - start));
            continue;
        }
        ++i;
        if (c == '{' || c == '[') {
            const std::size_t next = skip_space(text, i);
            if (next < text.size() && text[next] == (c == '{' ? '}' : ']')) {
                out.push_back(c);
                out.push_back(text[next]);
                i = next + 1;
                continue;
            }
            out.push_back(c);
            ++depth;
            newline();
        } else if (c == '}' || c == ']') {
            if (depth > 0) --depth;
            newline();
            out.push_back(c);
        } else if (c == ',') {
            out.push_back(c);
            newline();
        } else if (c == ':') {
            out.append(": ");
        } else {
            out.push_back(c);
        }
    }
    return out + "\n";
}

// The text with every white space byte outside strings removed.
std::string minify_json_text(std::string_view text) {
    std::string out;
    for (std::size_t i = skip_space(text, 0); i < text.size(); i = skip_space(text, i)) {
        if (text[i] != '"') {
            out.push_back(text[i++]);
            continue;
        }
        const std::size_t start = i++;
        while (i < text.size() && text[i] != '"')
            i += text[i] == '\\' ? 2 : 1;
        out.append(text.substr(start, ++i - start));
    }
    return out;
}

} // namespace test_support
