// The recording layer over a scripted upstream, into a temporary folder: what it writes, where, and what it
// leaves alone.
#include "fake_upstream.hpp"
#include "layer_test_support.hpp"
#include "ops/log.hpp"
#include "upstream/recording_upstream.hpp"
#include "util/key_hash.hpp"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

namespace fs = std::filesystem;
using shim::upstream::Failure;
using shim::upstream::UpstreamResponse;
using test_support::json_answer;

const std::string api_key = "key-Recorded-0123456789";

// A folder of its own, removed at the end.
struct TempDir {
    TempDir() : path(fs::temp_directory_path() / ("sigma-shim-record-" + shim::util::random_hex(8))) {}
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    fs::path path;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// Every file under `root`, relative, sorted.
std::vector<std::string> files_under(const fs::path& root) {
    std::vector<std::string> out;
    if (!fs::exists(root)) return out;
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file()) out.push_back(fs::relative(e.path(), root).generic_string());
    std::sort(out.begin(), out.end());
    return out;
}

struct Rig {
    Rig() : log(log_text, shim::ops::LogLevel::debug) {
        layer =
            std::make_unique<shim::upstream::RecordingUpstream>(fake, (dir.path / "recorded").string(), log);
    }
    UpstreamResponse get(const std::string& target) {
        return test_support::run_to_end(ioc, layer->get({target, api_key, "request-id", {}}));
    }
    fs::path folder() const { return dir.path / "recorded"; }

    TempDir dir;
    boost::asio::io_context ioc;
    std::ostringstream log_text;
    shim::ops::Logger log;
    test_support::FakeUpstream fake;
    std::unique_ptr<shim::upstream::RecordingUpstream> layer;
};

} // namespace

BOOST_AUTO_TEST_SUITE(recording_upstream)

BOOST_AUTO_TEST_CASE(objects_fetched_are_written_in_the_record_layout) {
    Rig rig;
    const std::map<std::string, std::pair<std::string, std::string>> objects = {
        {"/api/v3/files/ABCDEF0123", {"files/abcdef0123.json", R"({"data": {"type": "file"}})"}},
        {"/api/v3/files/abcdef0123/behaviours", {"behaviours/abcdef0123.json", R"({"data": [1]})"}},
        {"/api/v3/files/abcdef0123/behaviours?cursor=Q2",
         {"behaviours/abcdef0123.cursor-5132.json", R"({"data": [2]})"}},
        {"/api/v3/sigma_rules/rule01", {"sigma_rules/rule01.json", R"({"data": {"type": "sigma_rule"}})"}},
    };
    for (const auto& [target, expected] : objects) {
        rig.fake.always(target, json_answer(200, expected.second));
        const auto r = rig.get(target);
        BOOST_TEST(r.status == 200u);
        BOOST_TEST(r.body == expected.second);
        // Written by the time the answer is given.
        BOOST_TEST(slurp(rig.folder() / expected.first) == expected.second);
    }
    std::vector<std::string> expected_names;
    for (const auto& [target, expected] : objects)
        expected_names.push_back(expected.first);
    std::sort(expected_names.begin(), expected_names.end());
    BOOST_TEST(files_under(rig.folder()) == expected_names, boost::test_tools::per_element());

    // A later answer for the same object replaces the file whole.
    rig.fake.always("/api/v3/files/ABCDEF0123", json_answer(200, R"({"data": {"version": 2}})"));
    rig.get("/api/v3/files/ABCDEF0123");
    BOOST_TEST(slurp(rig.folder() / "files/abcdef0123.json") == R"({"data": {"version": 2}})");
    BOOST_TEST(files_under(rig.folder()).size() == objects.size()); // no temporary left beside it
    BOOST_TEST(rig.log_text.str().find(api_key) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(failures_errors_and_other_targets_are_not_written) {
    Rig rig;
    rig.fake.always("/api/v3/files/transient", test_support::failure_answer(Failure::transient));
    rig.fake.always("/api/v3/files/unavailable",
                    json_answer(503, R"({"error": {"code": "TransientError", "message": "later"}})"));
    rig.fake.always("/api/v3/files/abc/comments", json_answer(200, "{}"));
    rig.fake.always("/api/v3/files/abc/behaviours?limit=5", json_answer(200, "{}"));
    rig.fake.always("/api/v3/urls/abc", json_answer(200, "{}"));
    const std::vector<std::pair<std::string, unsigned>> targets = {
        {"/api/v3/files/transient", 0},
        {"/api/v3/files/unavailable", 503},
        {"/api/v3/files/missing", 404},
        {"/api/v3/files/abc/comments", 200},
        {"/api/v3/files/abc/behaviours?limit=5", 200},
        {"/api/v3/urls/abc", 200}};
    for (const auto& [target, status] : targets)
        BOOST_TEST(rig.get(target).status == status, target);
    BOOST_TEST(files_under(rig.folder()).empty());
}

BOOST_AUTO_TEST_CASE(concurrent_fetches_of_one_object_leave_one_whole_file) {
    Rig rig;
    const std::string body = R"({"data": {"type": "file", "pad": ")" + std::string(100000, 'x') + R"("}})";
    rig.fake.always("/api/v3/files/same", json_answer(200, body));
    rig.fake.hold();
    std::vector<std::shared_ptr<test_support::Outcome>> outcomes;
    for (int i = 0; i < 4; ++i)
        outcomes.push_back(
            test_support::start(rig.ioc, rig.layer->get({"/api/v3/files/same", api_key, "id", {}})));
    test_support::run_ready(rig.ioc);
    BOOST_TEST(rig.fake.waiting() == 4u);
    rig.fake.release();
    rig.ioc.restart();
    rig.ioc.run(); // until every write has come back
    for (const auto& o : outcomes)
        BOOST_TEST(test_support::answer_of(*o).status == 200u);
    BOOST_TEST(files_under(rig.folder()) == std::vector<std::string>{"files/same.json"},
               boost::test_tools::per_element());
    BOOST_TEST(slurp(rig.folder() / "files/same.json") == body);
}

BOOST_AUTO_TEST_CASE(a_folder_that_cannot_be_written_is_logged_and_the_answer_still_given) {
    Rig rig;
    // A file where the folder should be: nothing can be created under it.
    fs::create_directories(rig.dir.path);
    std::ofstream(rig.folder()) << "not a folder";
    rig.fake.always("/api/v3/files/abc", json_answer(200, "{}"));
    const auto r = rig.get("/api/v3/files/abc");
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body == "{}");
    BOOST_TEST(rig.log_text.str().find("record failed") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
