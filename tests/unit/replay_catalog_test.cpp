// The in-process upstream's answers (shim/replay/replay_catalog.hpp): File objects by any hash, behaviour
// pages by record path and alias, the empty behaviour list, sigma_rule objects, 404 bodies; the bundled demo
// objects; and DemoUpstream reading a recorded folder (shim/replay/demo_upstream.hpp).
#include "replay/demo_data.hpp"
#include "replay/demo_upstream.hpp"
#include "replay/replay_catalog.hpp"
#include "upstream/record_layout.hpp"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using shim::replay::ReplayCatalog;
namespace fs = std::filesystem;

namespace {

const std::string sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const std::string sha1 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const std::string md5 = "cccccccccccccccccccccccccccccccc";
const std::string other_sha256 = "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";

// A File object with envelope; the bytes are deliberately not in canonical form (spaces, key order).
const std::string file_json = R"({ "data": {"type": "file", "id": ")" + sha256 +
                              R"(", "attributes": {"sha256": ")" + sha256 + R"(", "sha1": ")" + sha1 +
                              R"(", "md5": ")" + md5 + R"("}}} )";
const std::string page_json = R"({"data":[{"type":"file_behaviour","id":"x_zenbox"}],"meta":{"count":1}})";
const std::string page2_json = R"({"data":[{"type":"file_behaviour","id":"y_cape"}],"meta":{"count":2}})";

std::string hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 0xF]);
    }
    return out;
}

std::string upper(std::string s) {
    for (auto& c : s) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return s;
}

std::string error_code_of(const std::string& body) {
    const auto doc = boost::json::parse(body);
    return std::string(doc.at("error").at("code").as_string());
}

ReplayCatalog catalog_with_file() {
    ReplayCatalog c;
    c.add("files/" + sha256 + ".json", file_json);
    return c;
}

// A fresh folder under the temporary directory, removed at the end of the test.
struct TempDir {
    TempDir() {
        static std::atomic<unsigned> counter{0};
        path = fs::temp_directory_path() /
               ("replay_catalog_test." + std::to_string(::getpid()) + "." + std::to_string(counter++));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    void write(const std::string& relative, const std::string& bytes) const {
        const auto file = path / relative;
        fs::create_directories(file.parent_path());
        std::ofstream(file, std::ios::binary) << bytes;
    }
    fs::path path;
};

// One GET against the loopback upstream; the raw HTTP/1.1 answer (status line, headers and body).
std::string http_get(std::uint16_t port, const std::string& target) {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket socket(ioc);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    const std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    boost::asio::write(socket, boost::asio::buffer(request));
    std::string answer;
    boost::system::error_code ec;
    boost::asio::read(socket, boost::asio::dynamic_buffer(answer), ec);
    return answer;
}

} // namespace

BOOST_AUTO_TEST_SUITE(replay_catalog)

BOOST_AUTO_TEST_CASE(file_by_every_hash_in_any_case) {
    const auto c = catalog_with_file();
    for (const auto& id : {sha256, sha1, md5, upper(sha256), upper(sha1), upper(md5)}) {
        BOOST_TEST_CONTEXT(id) {
            const auto [status, body] = c.answer("/api/v3/files/" + id);
            BOOST_TEST(status == 200u);
            BOOST_TEST(body == file_json); // the stored bytes, as received
        }
    }
}

BOOST_AUTO_TEST_CASE(file_query_is_ignored) {
    const auto c = catalog_with_file();
    for (const auto& query :
         {"?relationships=comments", "?relationships=sigma_analysis,comments", "?x=1&y=2", "?"}) {
        BOOST_TEST_CONTEXT(query) {
            const auto [status, body] = c.answer("/api/v3/files/" + md5 + query);
            BOOST_TEST(status == 200u);
            BOOST_TEST(body == file_json);
        }
    }
}

BOOST_AUTO_TEST_CASE(file_stored_without_envelope) {
    ReplayCatalog c;
    const std::string bare =
        R"({"type":"file","id":")" + sha256 + R"(","attributes":{"md5":")" + md5 + R"("}})";
    c.add("files/" + sha256 + ".json", bare);
    BOOST_TEST(c.answer("/api/v3/files/" + md5).first == 200u);
    BOOST_TEST(c.answer("/api/v3/files/" + upper(sha256)).second == bare);
    BOOST_TEST(c.answer("/api/v3/files/" + sha1).first == 404u); // not a hash it declares

    ReplayCatalog flat; // the attributes themselves, at the top
    const std::string attributes_only = R"({"md5":")" + md5 + R"(","sha256":")" + sha256 + R"("})";
    flat.add("files/" + sha256 + ".json", attributes_only);
    BOOST_TEST(flat.answer("/api/v3/files/" + md5).second == attributes_only);
}

BOOST_AUTO_TEST_CASE(file_by_the_name_it_is_stored_under) {
    ReplayCatalog c; // recorded by md5 request: the name is the md5, the object declares no hashes at all
    c.add("files/" + md5 + ".json", R"({"data":{"type":"file","attributes":{}}})");
    BOOST_TEST(c.answer("/api/v3/files/" + upper(md5)).first == 200u);
    BOOST_TEST(c.answer("/api/v3/files/" + sha256).first == 404u);

    ReplayCatalog upper_name; // a hand-made folder with an upper-case name
    upper_name.add("files/" + upper(sha256) + ".json", file_json);
    BOOST_TEST(upper_name.answer("/api/v3/files/" + sha256).first == 200u);
    BOOST_TEST(upper_name.answer("/api/v3/files/" + md5).first == 200u);
}

BOOST_AUTO_TEST_CASE(file_that_is_not_json_is_refused) {
    ReplayCatalog c;
    BOOST_CHECK_THROW(c.add("files/" + sha256 + ".json", "{\"data\":"), std::runtime_error);
    BOOST_CHECK_THROW(c.add("files/" + sha256 + ".json", ""), std::runtime_error);
    BOOST_TEST(c.answer("/api/v3/files/" + sha256).first == 404u);
    BOOST_CHECK_NO_THROW(
        c.add("files/" + sha256 + ".json", "[1,2]")); // JSON, just not an object: by name only
    BOOST_TEST(c.answer("/api/v3/files/" + sha256).second == "[1,2]");
}

BOOST_AUTO_TEST_CASE(readding_a_file_replaces_it) {
    auto c = catalog_with_file();
    const std::string newer =
        R"({"data":{"attributes":{"sha256":")" + sha256 + R"(","md5":")" + md5 + R"("}}})";
    c.add("files/" + sha256 + ".json", newer);
    BOOST_TEST(c.answer("/api/v3/files/" + md5).second == newer);
    BOOST_TEST(c.answer("/api/v3/files/" + sha1).first == 404u); // the old object's sha1 is gone with it
}

BOOST_AUTO_TEST_CASE(exact_name_wins_and_hash_claims_are_order_independent) {
    const std::string by_md5 =
        R"({"data":{"attributes":{"sha256":")" + sha256 + R"(","md5":")" + md5 + R"(","v":1}}})";
    ReplayCatalog a, b;
    a.add("files/" + sha256 + ".json", file_json);
    a.add("files/" + md5 + ".json", by_md5);
    b.add("files/" + md5 + ".json", by_md5);
    b.add("files/" + sha256 + ".json", file_json);
    for (const auto* c : {&a, &b}) {
        BOOST_TEST(c->answer("/api/v3/files/" + md5).second == by_md5);
        BOOST_TEST(c->answer("/api/v3/files/" + sha256).second == file_json);
        BOOST_TEST(c->answer("/api/v3/files/" + sha1).second == a.answer("/api/v3/files/" + sha1).second);
    }
}

BOOST_AUTO_TEST_CASE(behaviour_first_page_by_record_path) {
    auto c = catalog_with_file();
    c.add("behaviours/" + sha256 + ".json", page_json);
    for (const auto& id : {sha256, upper(sha256), md5, upper(md5), sha1}) {
        BOOST_TEST_CONTEXT(id) {
            const auto [status, body] = c.answer("/api/v3/files/" + id + "/behaviours");
            BOOST_TEST(status == 200u);
            BOOST_TEST(body == page_json);
        }
    }
    // An empty cursor is the first page, as in the record layout.
    BOOST_TEST(c.answer("/api/v3/files/" + md5 + "/behaviours?cursor=").second == page_json);
}

BOOST_AUTO_TEST_CASE(behaviour_page_stored_under_the_requested_id_wins) {
    auto c = catalog_with_file();
    c.add("behaviours/" + sha256 + ".json", page_json);
    c.add("behaviours/" + md5 + ".json", page2_json);
    BOOST_TEST(c.answer("/api/v3/files/" + upper(md5) + "/behaviours").second == page2_json);
    BOOST_TEST(c.answer("/api/v3/files/" + sha256 + "/behaviours").second == page_json);
}

BOOST_AUTO_TEST_CASE(behaviour_page_without_a_file_object) {
    ReplayCatalog
        c; // only the page was recorded: it answers for the id it is stored under, nothing else does
    c.add("behaviours/" + sha256 + ".json", page_json);
    BOOST_TEST(c.answer("/api/v3/files/" + sha256 + "/behaviours").second == page_json);
    BOOST_TEST(c.answer("/api/v3/files/" + md5 + "/behaviours").first == 404u);
    BOOST_TEST(c.answer("/api/v3/files/" + sha256).first == 404u);
}

BOOST_AUTO_TEST_CASE(cursor_pages_under_an_alias) {
    auto c = catalog_with_file();
    const std::string cursor = "Q1VSU09SOjE=";
    const std::string encoded = "Q1VSU09SOjE%3D";
    // Recorded from a client that asked by md5: the cursor page is stored under the md5.
    c.add("behaviours/" + md5 + ".cursor-" + hex(cursor) + ".json", page2_json);
    BOOST_TEST(shim::upstream::record_path_for("/api/v3/files/" + md5 + "/behaviours?cursor=" + encoded) ==
               "behaviours/" + md5 + ".cursor-" + hex(cursor) + ".json");
    for (const auto& id : {md5, upper(md5), sha256, upper(sha1)}) {
        BOOST_TEST_CONTEXT(id) {
            BOOST_TEST(c.answer("/api/v3/files/" + id + "/behaviours?cursor=" + encoded).second ==
                       page2_json);
            BOOST_TEST(c.answer("/api/v3/files/" + id + "/behaviours?cursor=" + cursor).second == page2_json);
        }
    }
    // Another cursor is not stored: 404, never the empty list.
    const auto [status, body] = c.answer("/api/v3/files/" + sha256 + "/behaviours?cursor=other");
    BOOST_TEST(status == 404u);
    BOOST_TEST(error_code_of(body) == "NotFoundError");
}

BOOST_AUTO_TEST_CASE(empty_behaviour_list_for_a_known_file) {
    const auto c = catalog_with_file();
    const std::string expected = R"({"data":[],"links":{"self":"https://www.virustotal.com/api/v3/files/)" +
                                 sha256 + R"(/behaviours"},"meta":{"count":0}})";
    for (const auto& id : {sha256, md5, upper(sha1)}) {
        BOOST_TEST_CONTEXT(id) {
            const auto [status, body] = c.answer("/api/v3/files/" + id + "/behaviours");
            BOOST_TEST(status == 200u);
            BOOST_TEST(body == expected); // the self link names the sha256 whatever id was asked
        }
    }
    // Unknown file: 404, not an empty list.
    BOOST_TEST(c.answer("/api/v3/files/" + other_sha256 + "/behaviours").first == 404u);
    // A cursor on a file without that page: 404.
    BOOST_TEST(c.answer("/api/v3/files/" + md5 + "/behaviours?cursor=abc").first == 404u);
}

BOOST_AUTO_TEST_CASE(empty_behaviour_list_without_sha256_attribute) {
    ReplayCatalog c;
    c.add("files/" + md5 + ".json",
          R"({"data":{"id":")" + sha256 + R"(","attributes":{"md5":")" + md5 + R"("}}})");
    const auto body = c.answer("/api/v3/files/" + md5 + "/behaviours").second;
    BOOST_TEST(body.find("/api/v3/files/" + sha256 + "/behaviours") != std::string::npos); // from data.id
}

BOOST_AUTO_TEST_CASE(sigma_rules) {
    ReplayCatalog c;
    const std::string rule = R"({"data":{"type":"sigma_rule","id":"1dfbc92a0c","attributes":{"title":"T"}}})";
    c.add("sigma_rules/1dfbc92a0c.json", rule);
    BOOST_TEST(c.answer("/api/v3/sigma_rules/1dfbc92a0c").first == 200u);
    BOOST_TEST(c.answer("/api/v3/sigma_rules/1DFBC92A0C").second == rule);
    const auto [status, body] = c.answer("/api/v3/sigma_rules/ffff");
    BOOST_TEST(status == 404u);
    BOOST_TEST(error_code_of(body) == "NotFoundError");
    BOOST_TEST(c.answer("/api/v3/sigma_rules/1dfbc92a0c/extra").first == 404u);
}

BOOST_AUTO_TEST_CASE(anything_else_is_not_found) {
    auto c = catalog_with_file();
    c.add("behaviours/" + sha256 + ".json", page_json);
    c.add("sigma_rules/r1.json", "{}");
    const std::vector<std::string> targets = {
        "/",
        "",
        "/api/v3",
        "/api/v3/files",
        "/api/v3/files/",
        "/api/v2/files/" + sha256,
        "/api/v3/urls/" + sha256,
        "/api/v3/files/" + sha256 + "/comments",
        "/api/v3/files/" + sha256 + "/behaviours/x",
        "/api/v3/files/" + sha256 + "/sigma_analysis",
        "/api/v3/sigma_analyses/" + sha256,
        "/api/v3/files/" + other_sha256,
        "/api/v3/files/" + sha256.substr(1),
        "http://example.com/api/v3/files/" + sha256,
        "/api/v3/files/%zz",
        std::string("/api/v3/files/\x01\xff"),
        std::string("/api/v3/files/\xc3\xa9\"?") + std::string(1000, 'x'),
    };
    for (const auto& target : targets) {
        BOOST_TEST_CONTEXT(target) {
            const auto [status, body] = c.answer(target);
            BOOST_TEST(status == 404u);
            const auto doc = boost::json::parse(body); // always a VirusTotal-shaped error, valid JSON
            BOOST_TEST(doc.at("error").at("code").as_string() == "NotFoundError");
            BOOST_TEST(!doc.at("error").at("message").as_string().empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(bundled_demo_objects) {
    ReplayCatalog c;
    for (const auto& object : shim::replay::demo_objects())
        c.add(object.path, std::string(object.json));
    const std::string demo_sha256 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9";

    const auto by_sha256 = c.answer("/api/v3/files/" + demo_sha256);
    BOOST_TEST(by_sha256.first == 200u);
    const auto doc = boost::json::parse(by_sha256.second);
    const auto& attributes = doc.at("data").at("attributes");
    const std::string demo_md5(attributes.at("md5").as_string());
    const std::string demo_sha1(attributes.at("sha1").as_string());
    for (const auto& id : {demo_md5, upper(demo_md5), demo_sha1, upper(demo_sha256)}) {
        BOOST_TEST_CONTEXT(id) {
            BOOST_TEST(c.answer("/api/v3/files/" + id).first == 200u);
            BOOST_TEST(c.answer("/api/v3/files/" + id).second == by_sha256.second);
            const auto page = c.answer("/api/v3/files/" + id + "/behaviours");
            BOOST_TEST(page.first == 200u);
            BOOST_TEST(boost::json::parse(page.second).at("data").as_array().size() > 0u);
        }
    }
    BOOST_TEST(c.answer("/api/v3/files/" + demo_sha256 + "/behaviours?cursor=next").first == 404u);
}

BOOST_AUTO_TEST_CASE(demo_upstream_serves_a_recorded_folder) {
    TempDir dir;
    dir.write("files/" + md5 + ".json", file_json);
    dir.write("behaviours/" + md5 + ".json", page_json);
    dir.write("files/notes.txt", "not an object, not read");
    dir.write("sigma_rules/r1.json", R"({"data":{"type":"sigma_rule","id":"r1"}})");

    boost::asio::io_context ioc;
    shim::replay::DemoUpstream upstream(ioc, dir.path.string());
    const auto port = upstream.listen();
    upstream.start();
    std::thread runner([&] { ioc.run(); });
    const auto file = http_get(port, "/api/v3/files/" + upper(sha256) + "?relationships=comments");
    const auto page = http_get(port, "/api/v3/files/" + sha1 + "/behaviours");
    const auto missing = http_get(port, "/api/v3/files/" + other_sha256);
    boost::asio::co_spawn(ioc, upstream.stop(), boost::asio::use_future).get();
    runner.join();

    BOOST_TEST(file.starts_with("HTTP/1.1 200"));
    BOOST_TEST(file.ends_with("\r\n\r\n" + file_json));
    BOOST_TEST(page.starts_with("HTTP/1.1 200"));
    BOOST_TEST(page.ends_with(page_json));
    BOOST_TEST(missing.starts_with("HTTP/1.1 404"));
    BOOST_TEST(missing.find("NotFoundError") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(demo_upstream_bundled_by_default) {
    boost::asio::io_context ioc;
    shim::replay::DemoUpstream upstream(ioc, "");
    const auto port = upstream.listen();
    upstream.start();
    std::thread runner([&] { ioc.run(); });
    const auto file =
        http_get(port, "/api/v3/files/f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9");
    boost::asio::co_spawn(ioc, upstream.stop(), boost::asio::use_future).get();
    runner.join();
    BOOST_TEST(file.starts_with("HTTP/1.1 200"));
}

BOOST_AUTO_TEST_CASE(demo_upstream_refuses_a_bad_folder) {
    boost::asio::io_context ioc;
    auto message_of = [&](const std::string& folder) {
        try {
            shim::replay::DemoUpstream upstream(ioc, folder);
        } catch (const std::runtime_error& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    {
        TempDir dir;
        dir.write("behaviours/" + sha256 + ".json", "{\"data\": [");
        const auto message = message_of(dir.path.string());
        BOOST_TEST(message.find(sha256 + ".json") != std::string::npos);
        BOOST_TEST(message.find("not JSON") != std::string::npos);
    }
    {
        TempDir dir;
        dir.write("sigma_rules/r1.json", "");
        BOOST_TEST(message_of(dir.path.string()).find("r1.json is not JSON") != std::string::npos);
    }
    {
        TempDir dir;
        fs::create_directories(dir.path / "files" / "x.json"); // a folder where a File object should be
        BOOST_TEST(message_of(dir.path.string()).find("not a regular file") != std::string::npos);
    }
    {
        TempDir dir;
        dir.write("files", "a file where the folder should be");
        BOOST_TEST(message_of(dir.path.string()).find("not a folder") != std::string::npos);
    }
    {
        TempDir dir;
        BOOST_TEST(message_of((dir.path / "missing").string()).find("cannot be read") != std::string::npos);
        BOOST_TEST(message_of(dir.path.string()) == "(no error)"); // an empty recording is served (all 404)
    }
    if (::geteuid() != 0) { // root reads anything
        TempDir dir;
        dir.write("files/" + sha256 + ".json", file_json);
        fs::permissions(dir.path / "files" / (sha256 + ".json"), fs::perms::none);
        BOOST_TEST(message_of(dir.path.string()).find("cannot read") != std::string::npos);
    }
}

BOOST_AUTO_TEST_SUITE_END()
