#pragma once
// Shared by the unit tests: fixture paths, reading files, and running `convert` in-process or as the binary.
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace test_support {

std::string source_dir();                     // the project's root
std::string fixture(const std::string& name); // tests/fixtures/<name>
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);

struct RunResult {
    int exit_code = -1;
    std::string out, err;
};

// Runs `sigma-shim convert ARGS` in-process. `inputs` maps paths to their bytes ("-" is standard input);
// any other path is read from disk.
RunResult convert(const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& inputs = {});

// Runs the real binary: `sigma-shim ARGS`, with `stdin_bytes` on its standard input.
RunResult run_binary(const std::vector<std::string>& args, const std::string& stdin_bytes = {});

// Parses both and compares them as JSON values (key order ignored). On a difference, the message shows both.
bool same_json(const std::string& a, const std::string& b, std::string& message);

// The golden files' form: JSON text pretty-printed (two spaces a level, one member or element per line, a
// newline at the end), on the text itself so numbers and escapes keep their bytes and members their order.
std::string pretty_json_text(std::string_view text);
// The text with every white space byte outside strings removed: a golden file's compact bytes.
std::string minify_json_text(std::string_view text);

} // namespace test_support
