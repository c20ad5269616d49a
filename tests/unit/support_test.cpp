// The server support library: Prometheus text, JSON log lines, gzip (including a zip bomb), key hashing.
#include "ops/log.hpp"
#include "ops/metrics.hpp"
#include "sigma_analysis/json_writer.hpp"
#include "util/gzip.hpp"
#include "util/key_hash.hpp"

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/resource.h>
#include <thread>
#include <vector>
#include <zlib.h>

namespace {

using shim::ops::Logger;
using shim::ops::LogLevel;
using shim::ops::Metrics;

std::chrono::system_clock::time_point fixed_time() {
    using namespace std::chrono;
    return sys_days{year{2026} / 11 / 27} + hours{21} + minutes{5} + seconds{16} + milliseconds{123} +
           microseconds{999};
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

// Deterministic bytes that compress a little, like real bodies, but not to nothing.
std::string pseudo_random(std::size_t size) {
    std::string s(size, '\0');
    std::uint32_t x = 12345;
    for (auto& c : s) {
        x = x * 1103515245u + 12345u;
        c = static_cast<char>((x >> 16) % 64 + 32);
    }
    return s;
}

// A gzip member of `zeros` zero bytes, compressed from a small buffer so the test itself stays small.
std::string gzip_of_zeros(std::size_t zeros) {
    z_stream zs{};
    BOOST_REQUIRE_EQUAL(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_RLE), Z_OK);
    std::vector<unsigned char> in(1 << 20, 0);
    std::array<unsigned char, 1 << 16> buf{};
    std::string out;
    std::size_t left = zeros;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (zs.avail_in == 0 && left > 0) {
            const std::size_t n = std::min(left, in.size());
            zs.next_in = in.data();
            zs.avail_in = static_cast<uInt>(n);
            left -= n;
        }
        zs.next_out = buf.data();
        zs.avail_out = static_cast<uInt>(buf.size());
        rc = deflate(&zs, left == 0 && zs.avail_in == 0 ? Z_FINISH : Z_NO_FLUSH);
        BOOST_REQUIRE(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR);
        out.append(reinterpret_cast<const char*>(buf.data()), buf.size() - zs.avail_out);
    }
    deflateEnd(&zs);
    return out;
}

long peak_rss_kib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

} // namespace

BOOST_AUTO_TEST_SUITE(support)

// ---- metrics ----

BOOST_AUTO_TEST_CASE(metrics_counter_with_labels) {
    Metrics m;
    m.add_counter("shim_requests_total", "Requests answered.", {"route", "status"});
    m.inc("shim_requests_total", {"object", "200"});
    m.inc("shim_requests_total", {"object", "200"}, 2);
    m.inc("shim_requests_total", {"descriptor", "404"}, 0.5);
    m.inc("shim_requests_total", {"object", "200"}, -1);    // a counter never goes down
    m.inc("shim_requests_total", {"object"});               // wrong arity: ignored
    m.observe("shim_requests_total", 1, {"object", "200"}); // wrong type: ignored
    m.set("shim_requests_total", 7, {"object", "200"});     // wrong type: ignored
    BOOST_TEST(m.render() == "# HELP shim_requests_total Requests answered.\n"
                             "# TYPE shim_requests_total counter\n"
                             "shim_requests_total{route=\"descriptor\",status=\"404\"} 0.5\n"
                             "shim_requests_total{route=\"object\",status=\"200\"} 3\n");
}

BOOST_AUTO_TEST_CASE(metrics_gauge_and_family_order) {
    Metrics m;
    m.add_gauge("shim_in_flight", "Requests being answered.");
    m.add_counter("shim_b_total", "B.", {});
    BOOST_TEST(m.render() == "# HELP shim_b_total B.\n"
                             "# TYPE shim_b_total counter\n"
                             "shim_b_total 0\n"
                             "# HELP shim_in_flight Requests being answered.\n"
                             "# TYPE shim_in_flight gauge\n"
                             "shim_in_flight 0\n");
    m.set("shim_in_flight", 5);
    m.gauge_add("shim_in_flight", -2);
    m.inc("shim_in_flight", {}, 0.25);
    m.inc("shim_b_total");
    BOOST_TEST(m.render() == "# HELP shim_b_total B.\n"
                             "# TYPE shim_b_total counter\n"
                             "shim_b_total 1\n"
                             "# HELP shim_in_flight Requests being answered.\n"
                             "# TYPE shim_in_flight gauge\n"
                             "shim_in_flight 3.25\n");
}

BOOST_AUTO_TEST_CASE(metrics_histogram) {
    Metrics m;
    m.add_histogram("shim_duration_seconds", "Time to answer.", {"route"}, {0.25, 1, 4});
    for (const double v : {0.125, 0.25, 0.5, 8.0})
        m.observe("shim_duration_seconds", v, {"object"});
    m.observe("shim_duration_seconds", 2, {"rules"});
    m.observe("shim_duration_seconds", 2); // wrong arity: ignored
    BOOST_TEST(m.render() == "# HELP shim_duration_seconds Time to answer.\n"
                             "# TYPE shim_duration_seconds histogram\n"
                             "shim_duration_seconds_bucket{route=\"object\",le=\"0.25\"} 2\n"
                             "shim_duration_seconds_bucket{route=\"object\",le=\"1\"} 3\n"
                             "shim_duration_seconds_bucket{route=\"object\",le=\"4\"} 3\n"
                             "shim_duration_seconds_bucket{route=\"object\",le=\"+Inf\"} 4\n"
                             "shim_duration_seconds_sum{route=\"object\"} 8.875\n"
                             "shim_duration_seconds_count{route=\"object\"} 4\n"
                             "shim_duration_seconds_bucket{route=\"rules\",le=\"0.25\"} 0\n"
                             "shim_duration_seconds_bucket{route=\"rules\",le=\"1\"} 0\n"
                             "shim_duration_seconds_bucket{route=\"rules\",le=\"4\"} 1\n"
                             "shim_duration_seconds_bucket{route=\"rules\",le=\"+Inf\"} 1\n"
                             "shim_duration_seconds_sum{route=\"rules\"} 2\n"
                             "shim_duration_seconds_count{route=\"rules\"} 1\n");
}

BOOST_AUTO_TEST_CASE(metrics_histogram_without_labels_and_default_buckets) {
    Metrics m;
    m.add_histogram("h", "H.", {}, {1});
    BOOST_TEST(m.render() == "# HELP h H.\n# TYPE h histogram\n"
                             "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
    const auto b = shim::ops::default_duration_buckets();
    BOOST_TEST(b.front() == 0.001);
    BOOST_TEST(b.back() == 30.0);
    BOOST_TEST(std::is_sorted(b.begin(), b.end()));
    BOOST_TEST(b.size() >= 10u);
}

BOOST_AUTO_TEST_CASE(metrics_label_and_help_escaping) {
    Metrics m;
    m.add_counter("c_total", "Line one\\two\nthree \"q\"", {"path"});
    m.inc("c_total", {"a\\b\"c\nd"});
    BOOST_TEST(m.render() == "# HELP c_total Line one\\\\two\\nthree \"q\"\n"
                             "# TYPE c_total counter\n"
                             "c_total{path=\"a\\\\b\\\"c\\nd\"} 1\n");
}

BOOST_AUTO_TEST_CASE(metrics_registration_errors) {
    Metrics m;
    m.add_counter("ok_total", "", {});
    BOOST_CHECK_THROW(m.add_counter("ok_total", "", {}), std::invalid_argument);
    BOOST_CHECK_THROW(m.add_gauge("1bad", ""), std::invalid_argument);
    BOOST_CHECK_THROW(m.add_gauge("g", "", {"bad-label"}), std::invalid_argument);
    BOOST_CHECK_THROW(m.add_histogram("h", "", {"le"}, {1}), std::invalid_argument);
    BOOST_CHECK_THROW(m.add_histogram("h", "", {}, {2, 1}), std::invalid_argument);
}

// Writing to a name never registered is a programming error, and says so: the metric would never move.
BOOST_AUTO_TEST_CASE(metrics_unregistered_names_throw) {
    Metrics m;
    const auto names_it = [](const std::string& name) {
        return [name](const std::logic_error& e) {
            return std::string(e.what()).find(name) != std::string::npos;
        };
    };
    BOOST_CHECK_EXCEPTION(m.inc("shim_unknown_total"), std::logic_error, names_it("shim_unknown_total"));
    BOOST_CHECK_EXCEPTION(m.inc("shim_unknown_total", {"a"}, 2), std::logic_error,
                          names_it("shim_unknown_total"));
    BOOST_CHECK_EXCEPTION(m.set("shim_unknown_gauge", 1), std::logic_error, names_it("shim_unknown_gauge"));
    BOOST_CHECK_EXCEPTION(m.gauge_add("shim_unknown_gauge", -1), std::logic_error,
                          names_it("shim_unknown_gauge"));
    BOOST_CHECK_EXCEPTION(m.observe("shim_unknown_seconds", 0.5), std::logic_error,
                          names_it("shim_unknown_seconds"));
    BOOST_CHECK_EXCEPTION(m.observe("shim_unknown_seconds", std::nan("")), std::logic_error,
                          names_it("shim_unknown_seconds"));
    BOOST_TEST(m.render().empty()); // and nothing was created on the way
    m.add_counter("shim_known_total", "Known.", {});
    BOOST_CHECK_EXCEPTION(m.inc("shim_known"), std::logic_error,
                          names_it("shim_known")); // no prefix matching
    BOOST_CHECK_NO_THROW(m.inc("shim_known_total"));
}

BOOST_AUTO_TEST_CASE(metrics_concurrent_inc) {
    Metrics m;
    m.add_counter("hits_total", "Hits.", {"worker"});
    m.add_histogram("lat", "Latency.", {}, {0.5});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&m, t] {
            for (int i = 0; i < 10000; ++i) {
                m.inc("hits_total", {"all"});
                m.inc("hits_total", {t % 2 == 0 ? "even" : "odd"});
                m.observe("lat", 1);
                if (i % 1000 == 0) (void)m.render();
            }
        });
    }
    for (auto& th : threads)
        th.join();
    const std::string text = m.render();
    BOOST_TEST(text.find("hits_total{worker=\"all\"} 40000\n") != std::string::npos, text);
    BOOST_TEST(text.find("hits_total{worker=\"even\"} 20000\n") != std::string::npos, text);
    BOOST_TEST(text.find("lat_count 40000\n") != std::string::npos, text);
    BOOST_TEST(text.find("lat_bucket{le=\"0.5\"} 0\n") != std::string::npos, text);
}

// ---- log ----

BOOST_AUTO_TEST_CASE(log_time_format) {
    BOOST_TEST(shim::ops::format_utc_millis(fixed_time()) == "2026-11-27T21:05:16.123Z");
    BOOST_TEST(shim::ops::format_utc_millis(std::chrono::system_clock::time_point{}) ==
               "1970-01-01T00:00:00.000Z");
    // Every field at its widest and at a single digit.
    using namespace std::chrono;
    const auto last_ms =
        sys_days{year{2099} / 12 / 31} + hours{23} + minutes{59} + seconds{59} + milliseconds{999};
    BOOST_TEST(shim::ops::format_utc_millis(last_ms) == "2099-12-31T23:59:59.999Z");
    const auto small = sys_days{year{2001} / 2 / 3} + hours{4} + minutes{5} + seconds{6} + milliseconds{7};
    BOOST_TEST(shim::ops::format_utc_millis(small) == "2001-02-03T04:05:06.007Z");
}

BOOST_AUTO_TEST_CASE(log_line_fields_in_order) {
    std::ostringstream out;
    Logger log(out, LogLevel::debug, fixed_time);
    log.write(LogLevel::info, "request done",
              {{"request_id", std::string("ab12")},
               {"status", std::int64_t{200}},
               {"seconds", 0.25},
               {"bytes", std::int64_t{-3}},
               {"nan", std::numeric_limits<double>::quiet_NaN()}});
    const std::string text = out.str();
    BOOST_TEST(text == R"({"time":"2026-11-27T21:05:16.123Z","level":"info","msg":"request done",)"
                       R"("request_id":"ab12","status":200,"seconds":0.25,"bytes":-3,"nan":null})"
                       "\n");
    const auto lines = lines_of(text);
    BOOST_REQUIRE_EQUAL(lines.size(), 1u);
    const auto value = boost::json::parse(lines[0]);
    const auto& obj = value.as_object();
    std::vector<std::string> keys;
    for (const auto& kv : obj)
        keys.emplace_back(kv.key());
    BOOST_TEST(keys == (std::vector<std::string>{"time", "level", "msg", "request_id", "status", "seconds",
                                                 "bytes", "nan"}),
               boost::test_tools::per_element());
    BOOST_TEST(obj.at("status").as_int64() == 200);
}

BOOST_AUTO_TEST_CASE(log_escaping) {
    std::ostringstream out;
    Logger log(out, LogLevel::debug, fixed_time);
    const std::string nasty = std::string("say \"hi\"\\ \n\r\t\b\f") + '\x01' + '\x1f' + "\x7f" + "é€😀";
    log.write(LogLevel::warn, nasty, {{"k\"ey\n", nasty}});
    const std::string expected_escaped = R"("say \"hi\"\\ \n\r\t\b\f\u0001\u001f)"
                                         "\x7f"
                                         "é€😀\"";
    const std::string text = out.str();
    BOOST_TEST(text == R"({"time":"2026-11-27T21:05:16.123Z","level":"warn","msg":)" + expected_escaped +
                           R"(,"k\"ey\n":)" + expected_escaped + "}\n");
    const auto value = boost::json::parse(lines_of(text).at(0));
    BOOST_TEST(value.at("msg").as_string() == nasty);
    BOOST_TEST(value.at("k\"ey\n").as_string() == nasty);
}

BOOST_AUTO_TEST_CASE(log_invalid_utf8_is_repaired) {
    std::ostringstream out;
    Logger log(out, LogLevel::debug, fixed_time);
    // A lone continuation byte, a truncated sequence, an overlong "/", a UTF-16 surrogate.
    log.write(LogLevel::error, std::string("a\x80") + "b\xE2\x82" + "c\xC0\xAF" + "d\xED\xA0\x80");
    const auto value = boost::json::parse(lines_of(out.str()).at(0));
    BOOST_TEST(value.at("msg").as_string() == "a\uFFFDb\uFFFD\uFFFDc\uFFFD\uFFFDd\uFFFD\uFFFD\uFFFD");
}

// The log writes strings with the transform's escaper, asking it to repair invalid UTF-8; the transform keeps
// the bytes as they came. Long runs go through the escaper's eight-bytes-at-a-time path.
BOOST_AUTO_TEST_CASE(json_string_escaper_keeps_or_repairs_invalid_utf8) {
    namespace jo = sigma_analysis::json_out;
    const std::string in = std::string("0123456789\xFF"
                                       "0123456789\"\x01é") +
                           "\xE2\x82" + "0123456789abcdef\\";
    std::string kept, repaired;
    jo::append_string(kept, in);
    jo::append_string(repaired, in, jo::InvalidUtf8::replace);
    BOOST_TEST(kept == std::string("\"0123456789\xFF"
                                   "0123456789\\\"\\u0001é\xE2\x82") +
                           "0123456789abcdef\\\\\"");
    BOOST_TEST(repaired ==
               std::string("\"0123456789\uFFFD0123456789\\\"\\u0001é\uFFFD\uFFFD0123456789abcdef\\\\\""));
    std::ostringstream out;
    Logger log(out, LogLevel::debug, fixed_time);
    log.write(LogLevel::info, in);
    BOOST_TEST(out.str() == R"({"time":"2026-11-27T21:05:16.123Z","level":"info","msg":)" + repaired + "}\n");
}

BOOST_AUTO_TEST_CASE(log_level_filtering) {
    std::ostringstream out;
    Logger log(out, LogLevel::warn, fixed_time);
    BOOST_TEST(!log.enabled(LogLevel::debug));
    BOOST_TEST(!log.enabled(LogLevel::info));
    BOOST_TEST(log.enabled(LogLevel::warn));
    BOOST_TEST(log.enabled(LogLevel::error));
    log.write(LogLevel::debug, "d");
    log.write(LogLevel::info, "i");
    log.write(LogLevel::warn, "w");
    log.write(LogLevel::error, "e");
    const auto lines = lines_of(out.str());
    BOOST_REQUIRE_EQUAL(lines.size(), 2u);
    BOOST_TEST(boost::json::parse(lines[0]).at("level").as_string() == "warn");
    BOOST_TEST(boost::json::parse(lines[1]).at("level").as_string() == "error");

    using shim::ops::parse_log_level;
    BOOST_TEST((parse_log_level("debug") == LogLevel::debug));
    BOOST_TEST((parse_log_level("INFO") == LogLevel::info));
    BOOST_TEST((parse_log_level("warn") == LogLevel::warn));
    BOOST_TEST((parse_log_level("warning") == LogLevel::warn));
    BOOST_TEST((parse_log_level("Error") == LogLevel::error));
    BOOST_TEST(!parse_log_level("").has_value());
    BOOST_TEST(!parse_log_level("trace").has_value());
}

BOOST_AUTO_TEST_CASE(log_default_clock_and_concurrent_lines) {
    std::ostringstream out;
    Logger log(out, LogLevel::info);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&log, t] {
            for (int i = 0; i < 200; ++i)
                log.write(LogLevel::info, "tick", {{"thread", std::int64_t{t}}});
        });
    }
    for (auto& th : threads)
        th.join();
    const auto lines = lines_of(out.str());
    BOOST_REQUIRE_EQUAL(lines.size(), 800u);
    for (const auto& line : lines) {
        const auto value = boost::json::parse(line); // throws on an interleaved line
        BOOST_TEST(value.at("time").as_string().size() == 24u);
    }
}

// ---- gzip ----

BOOST_AUTO_TEST_CASE(gzip_round_trip) {
    for (const std::string& body : {std::string(), std::string("x"), pseudo_random(5 * 1024 * 1024)}) {
        const std::string packed = shim::util::gzip(body);
        BOOST_REQUIRE_GE(packed.size(), 18u);
        BOOST_TEST(static_cast<unsigned char>(packed[0]) == 0x1f);
        BOOST_TEST(static_cast<unsigned char>(packed[1]) == 0x8b);
        std::string error;
        const auto unpacked = shim::util::gunzip(packed, body.size(), error);
        BOOST_REQUIRE_MESSAGE(unpacked.has_value(), error);
        BOOST_TEST((*unpacked == body));
        BOOST_TEST(error.empty());
    }
    BOOST_CHECK_THROW(shim::util::gzip("x", 10), std::invalid_argument);
    std::string error;
    BOOST_TEST(shim::util::gunzip(shim::util::gzip("stored", 0), 100, error).value() == "stored");
}

BOOST_AUTO_TEST_CASE(gzip_zlib_and_concatenated_members) {
    const std::string text = "hello, hello, hello";
    std::string zlib_body(compressBound(static_cast<uLong>(text.size())), '\0');
    uLongf size = static_cast<uLongf>(zlib_body.size());
    BOOST_REQUIRE_EQUAL(compress(reinterpret_cast<Bytef*>(zlib_body.data()), &size,
                                 reinterpret_cast<const Bytef*>(text.data()),
                                 static_cast<uLong>(text.size())),
                        Z_OK);
    zlib_body.resize(size);
    std::string error;
    BOOST_TEST(shim::util::gunzip(zlib_body, 1000, error).value() == text);

    BOOST_TEST(shim::util::gunzip(shim::util::gzip("ab") + shim::util::gzip("cd"), 1000, error).value() ==
               "abcd");
    BOOST_TEST(!shim::util::gunzip(shim::util::gzip("ab") + "junk", 1000, error).has_value());
    BOOST_TEST(error.find("trailing data") != std::string::npos, error);
}

BOOST_AUTO_TEST_CASE(gzip_invalid_and_truncated) {
    std::string error;
    BOOST_TEST(!shim::util::gunzip("this is not gzip", 1000, error).has_value());
    BOOST_TEST(error.find("not valid gzip") != std::string::npos, error);

    error.clear();
    BOOST_TEST(!shim::util::gunzip("", 1000, error).has_value());
    BOOST_TEST(!error.empty());

    const std::string packed = shim::util::gzip(pseudo_random(10000));
    for (const std::size_t keep :
         {std::size_t{1}, std::size_t{10}, packed.size() / 2, packed.size() - 4, packed.size() - 1}) {
        error.clear();
        BOOST_TEST(!shim::util::gunzip(packed.substr(0, keep), 100000, error).has_value(), keep);
        BOOST_TEST(error.find("truncated") != std::string::npos, error);
    }

    std::string bad_crc = packed;
    bad_crc[bad_crc.size() - 6] ^= 0x55;
    error.clear();
    BOOST_TEST(!shim::util::gunzip(bad_crc, 100000, error).has_value());
    BOOST_TEST(error.find("not valid gzip") != std::string::npos, error);
}

BOOST_AUTO_TEST_CASE(gzip_limit_is_exact) {
    const std::string body = pseudo_random(70000);
    const std::string packed = shim::util::gzip(body);
    std::string error;
    BOOST_TEST(shim::util::gunzip(packed, body.size(), error).has_value());
    BOOST_TEST(!shim::util::gunzip(packed, body.size() - 1, error).has_value());
    BOOST_TEST(error.find("exceeds the limit of 69999 bytes") != std::string::npos, error);
    BOOST_TEST(!shim::util::gunzip(shim::util::gzip("x"), 0, error).has_value());
    BOOST_TEST(shim::util::gunzip(shim::util::gzip(""), 0, error).value().empty());
}

BOOST_AUTO_TEST_CASE(gzip_bomb_is_stopped_early) {
    const std::string bomb = gzip_of_zeros(std::size_t{1} << 30); // 1 GiB of zeros
    BOOST_TEST_MESSAGE("bomb: " << bomb.size() << " bytes");
    BOOST_TEST(bomb.size() < 2u * 1024 * 1024);
    const long before = peak_rss_kib();
    std::string error;
    const auto start = std::chrono::steady_clock::now();
    BOOST_TEST(!shim::util::gunzip(bomb, 100 * 1024, error).has_value());
    const auto elapsed = std::chrono::steady_clock::now() - start;
    BOOST_TEST(error.find("exceeds the limit") != std::string::npos, error);
    // Had it inflated everything, the peak would have grown by about a gigabyte.
    BOOST_TEST(peak_rss_kib() - before < 32 * 1024);
    // Stopping early also means only the first ~100 KiB were inflated, which takes well under a second.
    BOOST_TEST(elapsed < std::chrono::seconds(2));
}

BOOST_AUTO_TEST_CASE(gzip_accept_encoding) {
    using shim::util::accepts_gzip;
    BOOST_TEST(accepts_gzip("gzip"));
    BOOST_TEST(accepts_gzip("deflate, gzip;q=0.5"));
    BOOST_TEST(accepts_gzip("GZIP"));
    BOOST_TEST(!accepts_gzip("gzip;q=0"));
    BOOST_TEST(!accepts_gzip("identity"));
    BOOST_TEST(accepts_gzip("*"));
    BOOST_TEST(!accepts_gzip("*;q=0"));
    BOOST_TEST(!accepts_gzip(""));
    BOOST_TEST(accepts_gzip("x-gzip"));
    BOOST_TEST(accepts_gzip(" br ; q=1.0 ,  gzip ; Q=0.001 "));
    BOOST_TEST(!accepts_gzip("gzip;q=0.000"));
    BOOST_TEST(!accepts_gzip("gzip;q=0, *"));
    BOOST_TEST(accepts_gzip("identity;q=0, *;q=0.1"));
    BOOST_TEST(!accepts_gzip("deflate"));
    BOOST_TEST(!accepts_gzip("gzip;q=2")); // malformed q: the element is ignored
    BOOST_TEST(!accepts_gzip("gzipx, ,;"));
    BOOST_TEST(accepts_gzip("gzip;level=1"));
}

// ---- key hashing ----

BOOST_AUTO_TEST_CASE(key_hash_vectors) {
    using shim::util::sha256_hex;
    BOOST_TEST(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    BOOST_TEST(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    BOOST_TEST(shim::util::key_fingerprint("abc") == "ba7816bf8f01");
    BOOST_TEST(shim::util::key_fingerprint("some-api-key").size() == 12u);
    BOOST_TEST(shim::util::key_fingerprint("").empty());
}

BOOST_AUTO_TEST_CASE(key_hash_random_hex) {
    const std::string a = shim::util::random_hex(16);
    const std::string b = shim::util::random_hex(16);
    BOOST_TEST(a.size() == 32u);
    BOOST_TEST(a.find_first_not_of("0123456789abcdef") == std::string::npos, a);
    BOOST_TEST(a != b);
    BOOST_TEST(shim::util::random_hex(0).empty());
}

BOOST_AUTO_TEST_CASE(key_digest_is_the_sha256_of_whichever_key_comes) {
    using shim::util::key_digest;
    using shim::util::sha256_hex;
    for (const char* key : {"abc", "abc", "other", "abc", "", "other"})
        BOOST_TEST(key_digest(key) == sha256_hex(key), key);
}

BOOST_AUTO_TEST_CASE(request_ids_are_distinct_hex) {
    std::set<std::string> seen;
    for (int i = 0; i < 10000; ++i) {
        const auto id = shim::util::new_request_id();
        BOOST_TEST_REQUIRE(id.size() == 32u);
        BOOST_TEST_REQUIRE(id.find_first_not_of("0123456789abcdef") == std::string::npos, id);
        seen.insert(id);
    }
    BOOST_TEST(seen.size() == 10000u);
    std::string other_thread;
    std::thread([&] { other_thread = shim::util::new_request_id(); }).join();
    BOOST_TEST(!seen.contains(other_thread));
}

BOOST_AUTO_TEST_SUITE_END()
