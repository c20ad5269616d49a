// The parts of the Redis client that need no server: URLs (and that no error or display shows a password),
// command encoding and reply parsing.
#include "redis/redis_reply.hpp"
#include "redis/redis_url.hpp"

#include <boost/test/unit_test.hpp>
#include <stdexcept>

namespace {

using namespace std::string_literals;
using shim::redis::append_command;
using shim::redis::parse_redis_url;
using shim::redis::RedisUrl;
using shim::redis::RedisValue;
using shim::redis::ReplyParser;

RedisUrl parsed(const std::string& text) {
    std::string error;
    const auto url = parse_redis_url(text, error);
    BOOST_REQUIRE_MESSAGE(url, text << ": " << error);
    return *url;
}

std::string refused(const std::string& text) {
    std::string error;
    const auto url = parse_redis_url(text, error);
    BOOST_CHECK_MESSAGE(!url, text << " was accepted");
    BOOST_CHECK(!error.empty());
    return error;
}

std::vector<RedisValue> parse_all(ReplyParser& parser) {
    std::vector<RedisValue> replies;
    while (auto reply = parser.next())
        replies.push_back(std::move(*reply));
    return replies;
}

} // namespace

BOOST_AUTO_TEST_SUITE(redis_url)

BOOST_AUTO_TEST_CASE(a_host_alone_takes_the_default_port_and_database) {
    const auto url = parsed("redis://cache.internal");
    BOOST_TEST((url.transport == RedisUrl::Transport::tcp));
    BOOST_TEST(url.host == "cache.internal");
    BOOST_TEST(url.port == 6379);
    BOOST_TEST(url.db == 0u);
    BOOST_TEST(url.user.empty());
    BOOST_TEST(url.password.empty());
    BOOST_TEST(url.display() == "redis://cache.internal:6379/0");
}

BOOST_AUTO_TEST_CASE(user_password_port_and_database) {
    const auto url = parsed("redis://alice:s3cret@10.0.0.5:6380/4");
    BOOST_TEST(url.host == "10.0.0.5");
    BOOST_TEST(url.port == 6380);
    BOOST_TEST(url.db == 4u);
    BOOST_TEST(url.user == "alice");
    BOOST_TEST(url.password == "s3cret");
    BOOST_TEST(url.display() == "redis://alice:***@10.0.0.5:6380/4");
}

BOOST_AUTO_TEST_CASE(a_password_alone_and_percent_decoding) {
    const auto url = parsed("redis://:p%40ss%3Aw%2Frd@localhost/");
    BOOST_TEST(url.user.empty());
    BOOST_TEST(url.password == "p@ss:w/rd");
    BOOST_TEST(url.db == 0u);
    BOOST_TEST(url.display() == "redis://:***@localhost:6379/0");
    BOOST_TEST(parsed("redis://svc%2Dshim:x@h").user == "svc-shim");
}

BOOST_AUTO_TEST_CASE(an_ipv6_host_in_brackets) {
    const auto url = parsed("redis://[::1]:7000/2");
    BOOST_TEST(url.host == "::1");
    BOOST_TEST(url.port == 7000);
    BOOST_TEST(url.db == 2u);
    BOOST_TEST(url.display() == "redis://[::1]:7000/2");
}

BOOST_AUTO_TEST_CASE(the_scheme_is_case_insensitive) {
    BOOST_TEST(parsed("REDIS://h:1").port == 1);
}

BOOST_AUTO_TEST_CASE(a_unix_socket_with_and_without_a_database) {
    const auto url = parsed("unix:///run/redis/redis.sock");
    BOOST_TEST((url.transport == RedisUrl::Transport::unix_socket));
    BOOST_TEST(url.socket_path == "/run/redis/redis.sock");
    BOOST_TEST(url.db == 0u);
    BOOST_TEST(url.display() == "unix:///run/redis/redis.sock");
    const auto with_db = parsed("unix:///tmp/r.sock?db=3");
    BOOST_TEST(with_db.socket_path == "/tmp/r.sock");
    BOOST_TEST(with_db.db == 3u);
    BOOST_TEST(with_db.display() == "unix:///tmp/r.sock?db=3");
}

BOOST_AUTO_TEST_CASE(what_is_refused) {
    refused("");
    refused("cache.internal:6379");
    refused("http://cache.internal");
    BOOST_TEST(refused("rediss://cache.internal").find("TLS") != std::string::npos);
    refused("redis://");
    refused("redis://h:0");
    refused("redis://h:65536");
    refused("redis://h:port");
    refused("redis://h/db");
    refused("redis://h/1/2");
    refused("redis://h/-1");
    refused("redis://h/99999999999");
    refused("redis://h/1?db=2");
    refused("redis://h/1#x");
    refused("unix://");
    refused("unix://host/tmp/r.sock");
    refused("unix:///tmp/r.sock?db=x");
    refused("unix:///tmp/r.sock?timeout=1");
}

BOOST_AUTO_TEST_CASE(no_error_repeats_the_password) {
    for (const std::string text :
         {"redis://u:hunter2@h:0", "redis://u:hunter2@h/x", "redis://:hunter2@h?db=1", "rediss://:hunter2@h",
          "ftp://:hunter2@h", "redis://:hunter2@[::1/", "unix://:hunter2@host/tmp/s",
          "redis://:hunter2@h/1#hunter2"}) {
        const auto error = refused(text);
        BOOST_TEST(error.find("hunter2") == std::string::npos, text << " -> " << error);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(redis_protocol)

BOOST_AUTO_TEST_CASE(commands_are_encoded_binary_safe) {
    std::string out;
    append_command(out, {"SET", "k", "a\0b\r\n"s});
    const auto set = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\0b\r\n\r\n"s;
    BOOST_TEST(out == set);
    append_command(out, {"PING"});
    BOOST_TEST(out.substr(set.size()) == "*1\r\n$4\r\nPING\r\n");
    BOOST_CHECK_THROW(append_command(out, {}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(every_reply_type_even_fed_a_byte_at_a_time) {
    const std::string stream = "+OK\r\n-NOSCRIPT No matching script\r\n:-42\r\n$-1\r\n$4\r\na\0\r\n\r\n"s
                               "*3\r\n:1\r\n*2\r\n$1\r\nx\r\n$-1\r\n*0\r\n*-1\r\n";
    ReplyParser parser;
    std::vector<RedisValue> replies;
    for (const char c : stream) {
        parser.feed({&c, 1});
        for (auto& reply : parse_all(parser))
            replies.push_back(std::move(reply));
    }
    BOOST_TEST(!parser.failed());
    BOOST_REQUIRE_EQUAL(replies.size(), 7u);
    BOOST_TEST((replies[0] == RedisValue::of_status("OK")));
    BOOST_TEST((replies[1] == RedisValue::of_error("NOSCRIPT No matching script")));
    BOOST_TEST((replies[2] == RedisValue::of_integer(-42)));
    BOOST_TEST(replies[3].is_nil());
    BOOST_TEST((replies[4] == RedisValue::of_string("a\0\r\n"s)));
    const auto nested = RedisValue::of_array(
        {RedisValue::of_integer(1), RedisValue::of_array({RedisValue::of_string("x"), RedisValue::nil()}),
         RedisValue::of_array({})});
    BOOST_TEST((replies[5] == nested));
    BOOST_TEST(replies[6].is_nil()); // a null array
}

BOOST_AUTO_TEST_CASE(a_stream_that_is_not_the_protocol_fails_for_good) {
    ReplyParser parser;
    parser.feed("+OK\r\nHTTP/1.1 400 Bad Request\r\n");
    const auto first = parser.next();
    BOOST_REQUIRE(first);
    BOOST_TEST((*first == RedisValue::of_status("OK")));
    BOOST_TEST(!parser.next());
    BOOST_TEST(parser.failed());
    BOOST_TEST(!parser.error().empty());
    parser.feed("+OK\r\n");
    BOOST_TEST(!parser.next());
}

BOOST_AUTO_TEST_SUITE_END()
