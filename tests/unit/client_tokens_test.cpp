// Client tokens (shim/serve/client_tokens.hpp): the tokens file, good and wrong line by line, looking a token
// up, the file reloaded (a bad edit keeps the table in use), new tokens, and `sigma-shim token new`.
#include "cli/token_command.hpp"
#include "serve/client_tokens.hpp"
#include "test_support.hpp"
#include "util/key_hash.hpp"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using shim::serve::ClientTokenFile;
using shim::serve::ClientTokens;
using shim::util::sha256_hex;

const std::string alice_token = "alice-token-0123456789";
const std::string bob_token = "bob-token-9876543210";

std::string upper(std::string s) {
    for (auto& c : s)
        if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
    return s;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

ClientTokens parse_ok(const std::string& text) {
    std::string error;
    auto table = ClientTokens::parse(text, error);
    BOOST_TEST(error.empty(), error);
    return table;
}

// A folder of its own, removed at the end.
struct TempDir {
    TempDir() : path(fs::temp_directory_path() / ("sigma-shim-client-tokens-" + shim::util::random_hex(8))) {
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    fs::path path;
};

struct TokenRun {
    int exit_code;
    std::string out, err;
};

TokenRun token_command(const std::vector<std::string>& args) {
    std::ostringstream out, err;
    const int code = shim::cli::run_token(args, out, err);
    return {code, out.str(), err.str()};
}

} // namespace

BOOST_AUTO_TEST_SUITE(client_tokens)

BOOST_AUTO_TEST_CASE(a_good_file_with_comments_blank_lines_and_options) {
    const std::string text = "# clients of the shim\n"
                             "\n"
                             "alice sha256:" +
                             sha256_hex(alice_token) +
                             "\n"
                             "   \t\n"
                             "  # indented comment\n"
                             "bob.ci_2-x\tsha256:" +
                             upper(sha256_hex(bob_token)) + "  quota-per-minute=7\r\n";
    const auto table = parse_ok(text);
    BOOST_TEST(table.size() == 2u);
    const auto* alice = table.find(alice_token);
    BOOST_TEST_REQUIRE(alice != nullptr);
    BOOST_TEST(alice->name == "alice");
    BOOST_TEST(alice->quota_per_minute == 0u);
    const auto* bob = table.find(bob_token);
    BOOST_TEST_REQUIRE(bob != nullptr);
    BOOST_TEST(bob->name == "bob.ci_2-x");
    BOOST_TEST(bob->quota_per_minute == 7u);
    BOOST_TEST(table.quota_per_minute("bob.ci_2-x") == 7u);
    BOOST_TEST(table.quota_per_minute("alice") == 0u);
    BOOST_TEST(table.quota_per_minute("nobody") == 0u);
}

BOOST_AUTO_TEST_CASE(an_empty_or_comment_only_file_has_no_clients) {
    BOOST_TEST(parse_ok("").size() == 0u);
    BOOST_TEST(parse_ok("# nobody yet\n\n").size() == 0u);
    BOOST_TEST(parse_ok("").find(alice_token) == nullptr);
}

BOOST_AUTO_TEST_CASE(the_quota_option_bounds) {
    const std::string hash = " sha256:" + sha256_hex(alice_token);
    BOOST_TEST(parse_ok("a" + hash + " quota-per-minute=1").quota_per_minute("a") == 1u);
    BOOST_TEST(parse_ok("a" + hash + " quota-per-minute=1000000").quota_per_minute("a") == 1000000u);
    BOOST_TEST(parse_ok("a" + hash + " quota-per-minute=0042").quota_per_minute("a") == 42u);
}

BOOST_AUTO_TEST_CASE(a_name_of_64_characters_is_the_longest) {
    const std::string name(64, 'n');
    BOOST_TEST(parse_ok(name + " sha256:" + sha256_hex(alice_token)).size() == 1u);
    BOOST_TEST(shim::serve::valid_client_name(name));
    BOOST_TEST(!shim::serve::valid_client_name(name + "n"));
    BOOST_TEST(!shim::serve::valid_client_name(""));
    BOOST_TEST(!shim::serve::valid_client_name("a b"));
    BOOST_TEST(!shim::serve::valid_client_name("caf\xc3\xa9"));
}

BOOST_AUTO_TEST_CASE(each_wrong_line_names_its_number_and_the_problem) {
    const std::string hex = sha256_hex(alice_token);
    const std::string line = "alice sha256:" + hex;
    const std::string pasted_token = "Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OWFiY2RlZmdoaWo";
    struct Case {
        std::string text;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {"bad/name sha256:" + hex, "line 1: the client name must be 1 to 64"},
        {std::string(65, 'n') + " sha256:" + hex, "line 1: the client name"},
        {"# c\n\nalice", "line 3: client 'alice' has no token hash"},
        {"alice " + hex, "line 1: the token hash of client 'alice' is not sha256: and 64 hex digits"},
        {"alice sha256:" + hex.substr(1), "line 1: the token hash"},
        {"alice sha256:" + hex + "0", "line 1: the token hash"},
        {"alice sha256:g" + hex.substr(1), "line 1: the token hash"},
        {"alice sha256:", "line 1: the token hash"},
        {"alice SHA256:" + hex, "line 1: the token hash"},
        {line + " colour=blue", "line 1: unknown option 'colour'"},
        {line + " quota", "line 1: unknown option 'quota'"},
        {line + " " + pasted_token, "line 1: field 3 is not an option"},
        {line + " quota-per-minute=0", "line 1: quota-per-minute must be a whole number from 1 to 1000000"},
        {line + " quota-per-minute=1000001", "line 1: quota-per-minute must be"},
        {line + " quota-per-minute=-1", "line 1: quota-per-minute must be"},
        {line + " quota-per-minute=+1", "line 1: quota-per-minute must be"},
        {line + " quota-per-minute=1.5", "line 1: quota-per-minute must be"},
        {line + " quota-per-minute=", "line 1: quota-per-minute must be"},
        {line + " quota-per-minute", "line 1: quota-per-minute must be"},
        {line + " quota-per-minute=99999999999", "line 1: quota-per-minute must be"},
        {line + " quota-per-minute=3 quota-per-minute=3", "line 1: quota-per-minute is given twice"},
        {line + "\n# bob\nalice sha256:" + sha256_hex(bob_token),
         "line 3: client 'alice' is already named on line 1"},
        {line + "\n\nbob sha256:" + upper(hex), "line 3: client 'bob' has the same token hash as line 1"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.text) {
            std::string error;
            const auto table = ClientTokens::parse(c.text, error);
            BOOST_TEST(contains(error, c.expected), error);
            BOOST_TEST(table.size() == 0u);
            BOOST_TEST(table.find(alice_token) == nullptr);
            // The hash (in either case) and a token in the wrong column never reach the message.
            BOOST_TEST(!contains(error, hex.substr(1, 40)));
            BOOST_TEST(!contains(error, upper(hex).substr(1, 40)));
            BOOST_TEST(!contains(error, pasted_token));
            BOOST_TEST(!contains(error, "\n"));
        }
    }
}

BOOST_AUTO_TEST_CASE(find_matches_only_the_right_token) {
    const auto table =
        parse_ok("alice sha256:" + sha256_hex(alice_token) + "\nbob sha256:" + sha256_hex(bob_token));
    BOOST_TEST(table.find(alice_token)->name == "alice");
    BOOST_TEST(table.find(bob_token)->name == "bob");
    BOOST_TEST(table.find("") == nullptr);
    BOOST_TEST(table.find(alice_token + "x") == nullptr);
    BOOST_TEST(table.find(alice_token.substr(1)) == nullptr);
    BOOST_TEST(table.find("wrong") == nullptr);
    // The hash itself is not a token: only what hashes to it is.
    BOOST_TEST(table.find(sha256_hex(alice_token)) == nullptr);
}

BOOST_AUTO_TEST_CASE(sha256_hex_is_lowercase_sha256) {
    BOOST_TEST(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    BOOST_TEST(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

BOOST_AUTO_TEST_CASE(new_tokens_are_43_base64url_characters_and_distinct) {
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        const auto token = shim::serve::new_client_token();
        BOOST_TEST_REQUIRE(token.size() == 43u);
        BOOST_TEST(token.find_first_not_of(alphabet) == std::string::npos, token);
        // 256 bits in 43 sextets: the last one carries 4 bits and 2 zero bits of padding.
        BOOST_TEST(alphabet.find(token.back()) % 4 == 0u, token);
        seen.insert(token);
    }
    BOOST_TEST(seen.size() == 200u);
}

BOOST_AUTO_TEST_CASE(a_file_loads_and_a_bad_reload_keeps_the_table_in_use) {
    const TempDir dir;
    const std::string path = (dir.path / "clients").string();
    ClientTokenFile file(path);
    BOOST_TEST(file.path() == path);
    BOOST_TEST(file.current()->size() == 0u);

    const auto missing = file.load();
    BOOST_TEST(contains(missing, path), missing);
    BOOST_TEST(contains(missing, "does not exist"), missing);
    BOOST_TEST(file.current()->size() == 0u);

    test_support::write_file(path, "alice sha256:" + sha256_hex(alice_token) + " quota-per-minute=5\n");
    BOOST_TEST(file.load() == "");
    const auto first = file.current();
    BOOST_TEST(first->size() == 1u);
    BOOST_TEST(first->quota_per_minute("alice") == 5u);

    test_support::write_file(path, "alice sha256:" + sha256_hex(alice_token) +
                                       "\nalice sha256:" + sha256_hex(bob_token) + "\n");
    const auto bad = file.load();
    BOOST_TEST(contains(bad, "client tokens file " + path + ": line 2: "), bad);
    BOOST_TEST(!contains(bad, "\n"));
    BOOST_TEST(file.current() == first);
    BOOST_TEST(file.current()->find(alice_token)->name == "alice");

    test_support::write_file(path, "bob sha256:" + sha256_hex(bob_token) + "\n");
    BOOST_TEST(file.load() == "");
    BOOST_TEST(file.current()->find(bob_token)->name == "bob");
    BOOST_TEST(file.current()->find(alice_token) == nullptr);
    // Whoever still holds the table from before keeps a whole, unchanged one.
    BOOST_TEST(first->find(alice_token)->name == "alice");
    BOOST_TEST(first->find(bob_token) == nullptr);

    ClientTokenFile folder(dir.path.string());
    const auto not_a_file = folder.load();
    BOOST_TEST(contains(not_a_file, "is not a regular file"), not_a_file);
}

BOOST_AUTO_TEST_CASE(token_new_prints_the_token_then_the_line_for_the_file) {
    const auto r = token_command({"new", "ci-runner.1"});
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(r.err.empty());
    const auto lines = lines_of(r.out);
    BOOST_TEST_REQUIRE(lines.size() == 3u);
    const std::string& token = lines.front();
    BOOST_TEST(token.size() == 43u);
    BOOST_TEST(lines[1].starts_with("# give the token above to ci-runner.1; it is shown once."));
    BOOST_TEST(lines.back() == "ci-runner.1 sha256:" + sha256_hex(token));
    // The last line is a tokens file line that accepts the token.
    const auto table = parse_ok(lines.back() + "\n");
    BOOST_TEST_REQUIRE(table.find(token) != nullptr);
    BOOST_TEST(table.find(token)->name == "ci-runner.1");

    const auto again = token_command({"new", "ci-runner.1"});
    BOOST_TEST(lines_of(again.out).front() != token);
}

BOOST_AUTO_TEST_CASE(token_usage_errors_exit_2_and_help_exits_0) {
    const std::vector<std::vector<std::string>> wrong = {
        {},          {"new"},           {"new", "bad/name"}, {"new", std::string(65, 'n')},
        {"new", ""}, {"new", "a", "b"}, {"old", "a"},
    };
    for (const auto& args : wrong) {
        const auto r = token_command(args);
        BOOST_TEST(r.exit_code == 2);
        BOOST_TEST(r.out.empty());
        BOOST_TEST(contains(r.err, "sigma-shim token: "), r.err);
        BOOST_TEST(contains(r.err, "usage: sigma-shim token new NAME"), r.err);
    }
    const std::vector<std::vector<std::string>> help = {{"--help"}, {"-h"}, {"new", "--help"}};
    for (const auto& args : help) {
        const auto r = token_command(args);
        BOOST_TEST(r.exit_code == 0);
        BOOST_TEST(r.err.empty());
        BOOST_TEST(contains(r.out, "usage: sigma-shim token new NAME"));
    }
}

BOOST_AUTO_TEST_CASE(the_binary_dispatches_token_and_lists_it) {
    const auto help = test_support::run_binary({"--help"});
    BOOST_TEST(contains(help.out, "token new NAME"));
    const auto r = test_support::run_binary({"token", "new", "from-binary"});
    BOOST_TEST(r.exit_code == 0);
    const auto lines = lines_of(r.out);
    BOOST_TEST_REQUIRE(lines.size() == 3u);
    BOOST_TEST(lines.back() == "from-binary sha256:" + sha256_hex(lines.front()));
    BOOST_TEST(test_support::run_binary({"token", "new"}).exit_code == 2);
}

BOOST_AUTO_TEST_SUITE_END()
