// The pruned parse (adapters/sigma_analysis/pruned_parse.hpp): it builds exactly the full parse with the
// dropped members taken out, fails where and as boost::json's parser fails, and the answers made from it are
// byte for byte the answers made from the full parse, for every fixture, form and match-context mode.
#include "cli/json_document.hpp"
#include "sigma_analysis/extract.hpp"
#include "sigma_analysis/input.hpp"
#include "sigma_analysis/pruned_parse.hpp"
#include "sigma_analysis/render.hpp"
#include "sigma_analysis/rule_fields.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>
#include <deque>
#include <filesystem>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

namespace json = boost::json;
namespace sa = sigma_analysis;
namespace ts = test_support;

// What a pruned parse must give: the full parse with what `keep` drops taken out. Null `keep` keeps whole.
json::value prune(const json::value& v, const sa::KeepTree* keep) {
    if (!keep) return v;
    if (const auto* obj = v.if_object()) {
        json::object out;
        for (const auto& kv : *obj) {
            if (const auto* member = keep->find(kv.key()))
                out.emplace(kv.key(), prune(kv.value(), member->filter));
        }
        return out;
    }
    if (const auto* arr = v.if_array()) {
        json::array out;
        for (const auto& item : *arr)
            out.push_back(prune(item, keep));
        return out;
    }
    return v;
}

struct Named {
    std::string name;
    std::string bytes;
};

// Every JSON file under tests/fixtures, and each item of the search fixture as a File object of its own (the
// golden inputs are among these).
std::vector<Named> fixture_documents() {
    std::vector<Named> docs;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(ts::fixture(""))) {
        if (entry.is_regular_file() && entry.path().extension() == ".json")
            docs.push_back({entry.path().string(), ts::read_file(entry.path().string())});
    }
    std::sort(docs.begin(), docs.end(), [](const Named& a, const Named& b) { return a.name < b.name; });
    const auto search =
        json::parse(ts::read_file(ts::fixture("vt/intelligence_search.real.msticpy_vt3_search.json")));
    for (const auto& query : search.as_object()) {
        for (const auto& item : query.value().as_array())
            docs.push_back({"search item " + std::string(item.at("id").as_string()), json::serialize(item)});
    }
    return docs;
}

// Variants of a File document that reach the other paths of input.cpp and extract.cpp: bare, stats only,
// wrongly typed members, and a root that is both an envelope and a File object.
std::vector<Named> file_variants(const Named& doc) {
    std::vector<Named> out;
    const auto full = json::parse(doc.bytes);
    const auto found = sa::find_file_object(full);
    if (!found) return out;
    const json::object& file = *found.value;
    out.push_back({doc.name + " (bare)", json::serialize(file)});

    json::object stats_only = file;
    auto& attributes = stats_only["attributes"].as_object();
    attributes.erase("sigma_analysis_results");
    attributes["sigma_analysis_stats"] = json::parse(R"({"critical":1,"high":"x","low":3,"medium":-2})");
    attributes["sigma_analysis_summary"] =
        json::parse(R"J({"Sigma Integrated Rule Set (GitHub)":{"low":2,"high":1},"other":5,"Third":{}})J");
    out.push_back({doc.name + " (stats only)", json::serialize(json::object{{"data", stats_only}})});

    json::object broken = file;
    auto& broken_attributes = broken["attributes"].as_object();
    broken_attributes["last_analysis_date"] = "yesterday";
    broken_attributes["last_modification_date"] = 18446744073709551615ull;
    if (auto* results = broken_attributes.if_contains("sigma_analysis_results");
        results && results->is_array()) {
        results->as_array().push_back(json::parse(R"({"rule_id":7})"));
        results->as_array().push_back(json::parse(R"({"rule_id":"r","match_context":{"values":1}})"));
        results->as_array().push_back(json::parse(R"({"rule_id":"r2","match_context":[1,{"values":[]}]})"));
        results->as_array().push_back("not an entry");
    }
    out.push_back({doc.name + " (wrong types)", json::serialize(json::object{{"data", broken}})});

    json::object both = file;
    both["data"] = file;
    both["links"] = json::parse(R"({"self":"x"})");
    out.push_back({doc.name + " (envelope and File)", json::serialize(both)});
    return out;
}

// A behaviour page with every kind of item.
const std::string mixed_page = R"({"data":[1,"x",null,[{"type":"file_behaviour"}],{"attributes":5},
 {"type":"file_behaviour","id":"b1","attributes":{"analysis_date":1700000000,"last_modification_date":1700000100,
  "sigma_analysis_results":[{"rule_id":"mixed-rule","rule_title":"t","rule_level":"high","rule_source":"s",
  "match_context":[{"values":{"EventID":1,"Image":"a.exe"}}]}],"processes_tree":[{"name":"a"}]}},
 {"type":"sigma_rule","attributes":{}},{"error":{"code":"x"}},
 {"id":"b2","attributes":{"analysis_date":"late","sigma_analysis_results":"none"}}],
 "meta":{"cursor":"next-1","count":9},"links":{"self":"s","next":"n"}})";

struct Outcome {
    std::string error;   // find_file_object's or find_behaviour_objects' sentence
    std::string cursors; // each page's meta.cursor
    unsigned status = 0;
    std::string body;
    bool partial = false;
    std::string diagnostics;
};

bool operator==(const Outcome& a, const Outcome& b) {
    return a.error == b.error && a.cursors == b.cursors && a.status == b.status && a.body == b.body &&
           a.partial == b.partial && a.diagnostics == b.diagnostics;
}

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
    return os << "{error " << o.error << ", status " << o.status << ", partial " << o.partial
              << ", diagnostics " << o.diagnostics << ", body " << o.body.substr(0, 300) << "}";
}

// What convert and the legacy handler do with parsed documents.
Outcome answer(const json::value& file_doc, const std::vector<const json::value*>& pages, sa::Form form,
               sa::ContextMode mode, std::optional<sa::Page> window, const sa::RuleCatalog& rules,
               sa::Embedded embedded) {
    Outcome o;
    const auto file = sa::find_file_object(file_doc);
    if (!file) {
        o.error = file.error;
        return o;
    }
    std::vector<const json::object*> behaviours;
    std::size_t skipped = 0;
    for (const auto* page : pages) {
        auto found = sa::find_behaviour_objects(*page);
        if (!found) {
            o.error = found.error;
            return o;
        }
        behaviours.insert(behaviours.end(), found.value.objects.begin(), found.value.objects.end());
        skipped += found.value.skipped;
        o.cursors += sa::next_cursor(*page) + ";";
    }
    auto analysis = sa::extract({*file.value, behaviours, &rules, mode});
    analysis.diagnostics.skipped += skipped;
    const std::string id(analysis.sha256);
    auto rendered =
        sa::render(form, analysis, {"https://vt.example", id, window, &rules, &file_doc, embedded});
    o.status = rendered.status;
    o.body = std::move(rendered.body);
    o.partial = rendered.partial;
    o.diagnostics = analysis.diagnostics.summary();
    for (const auto& id_seen : sa::distinct_rule_ids(*file.value, behaviours))
        o.diagnostics += " " + std::string(id_seen);
    return o;
}

// One-shot boost::json::parser (what boost::json::parse does), with where it stopped.
struct Reference {
    json::value value;
    json::error_code error;
    std::size_t offset = 0;
};

Reference reference_parse(std::string_view bytes) {
    json::parser p;
    Reference r;
    r.offset = p.write(bytes.data(), bytes.size(), r.error);
    if (!r.error) r.value = p.release();
    return r;
}

json::value fed_in_chunks(std::string_view bytes, const sa::KeepTree& keep, std::size_t chunk) {
    sa::PrunedParser parser(keep, json::make_shared_resource<json::monotonic_resource>());
    for (std::size_t at = 0; at < bytes.size(); at += chunk) {
        if (!parser.write(bytes.substr(at, chunk))) {
            BOOST_ERROR("chunk at " << at << ": " << parser.error().message() << " at " << parser.offset());
            return nullptr;
        }
    }
    BOOST_TEST(parser.finish(), parser.error().message());
    return parser.release();
}

const sa::KeepTree* const trees[] = {&sa::keep_file_document, &sa::keep_behaviour_page,
                                     &sa::keep_file_hashes};

} // namespace

BOOST_AUTO_TEST_SUITE(pruned_parse)

// The value built is the full parse with the dropped members taken out, member order included.
BOOST_AUTO_TEST_CASE(builds_the_full_parse_without_the_dropped_members) {
    auto docs = fixture_documents();
    for (
        const char* crafted : {
            // duplicate keys, kept and dropped, whole and filtered: the last one wins, as in json::parse
            R"({"data":{"id":"a","x":[1,2],"id":"b","type":"file","attributes":{"sha256":"1","md5":"m"},
                 "attributes":{"sha256":"2","last_analysis_date":5,"sha256":"3"},"x":{"y":1}},"data":7,
                 "data":{"type":"file","id":"c","attributes":{"last_analysis_date":1,"junk":{"a":[{}]}}}})",
            // non-object roots, arrays of mixed items, nested arrays (transparent), escaped keys
            R"([1,"s",null,true,-1.5e3,18446744073709551615,-9223372036854775808,{"id":"x","drop":1},
                 [[{"type":"t","attributes":{"sigma_analysis_results":[1,{"a":2}],"x":3}}]],[],{}])",
            R"({"\u0069d":"escaped","d\u0061ta":{"\u0074ype":"file","attr\u0069butes":{"md\u0035":"q"}}})",
            R"({"data":[{"id":1},{"id":2,"attributes":[{"sha1":"s","no":1}]},"x"],"meta":{"cursor":"c","no":2}})",
            R"("a string")",
            "12",
            "-0.0",
            "null",
            "true",
            "[]",
            "{}",
            " [ ] ",
            R"({"a":{"b":{"c":[]}}})",
            // keys longer than any kept key, and kept keys as prefixes of longer ones
            R"({"attributes_and_more":1,"attributesattributesattributesattributesattributes":{"x":1},
                 "attributes":{"sigma_analysis_results_old":[1],"sigma_analysis_results":[2]}})",
        }) {
        docs.push_back({crafted, crafted});
    }
    for (const auto& doc : docs) {
        const auto full = json::parse(doc.bytes);
        for (std::size_t t = 0; t < std::size(trees); ++t) {
            const auto* keep = trees[t];
            BOOST_TEST_CONTEXT(doc.name.substr(0, 120) << " tree " << t) {
                const auto pruned = sa::parse_pruned(doc.bytes, *keep);
                BOOST_TEST(!pruned.error, pruned.error.message());
                const auto want = prune(full, keep);
                BOOST_TEST((pruned.value == want));
                BOOST_TEST(json::serialize(pruned.value) == json::serialize(want));
            }
        }
    }
}

// For every fixture read as a File object and as behaviour pages, with every set of behaviour pages, the
// answers of every form and mode are the same bytes (and the same errors, diagnostics, rule ids and cursors)
// whether the documents were parsed whole or pruned. The embedded form keeps the whole File object; its
// behaviour pages are pruned.
BOOST_AUTO_TEST_CASE(answers_are_the_bytes_of_the_full_parse) {
    std::vector<Named> files = fixture_documents();
    for (const auto& doc : fixture_documents()) {
        for (auto& variant : file_variants(doc))
            files.push_back(std::move(variant));
    }
    files.push_back({"mixed page", mixed_page});

    // Behaviour page sets: none, each fixture that is a page, all of those together, and the mixed page.
    std::deque<json::value> full_pages, pruned_pages;
    std::vector<std::pair<std::vector<const json::value*>, std::vector<const json::value*>>> page_sets(1);
    std::vector<const json::value*> all_full, all_pruned;
    auto add_page = [&](const std::string& bytes) {
        const auto* full = &full_pages.emplace_back(json::parse(bytes));
        const auto* pruned =
            &pruned_pages.emplace_back(sa::parse_pruned(bytes, sa::keep_behaviour_page).value);
        BOOST_TEST(sa::find_behaviour_objects(*full).error == sa::find_behaviour_objects(*pruned).error);
        BOOST_TEST(sa::next_cursor(*full) == sa::next_cursor(*pruned));
        if (!sa::find_behaviour_objects(*full)) return;
        page_sets.push_back({{full}, {pruned}});
        all_full.push_back(full);
        all_pruned.push_back(pruned);
    };
    for (const auto& doc : files)
        add_page(doc.bytes);
    BOOST_TEST(page_sets.size() > 5u);
    page_sets.push_back({all_full, all_pruned});

    std::deque<json::value> rule_docs;
    sa::RuleCatalog rules;
    for (const auto& entry : std::filesystem::directory_iterator(ts::fixture("roundtrip/rules"))) {
        for (const auto* rule :
             sa::find_rule_objects(rule_docs.emplace_back(json::parse(ts::read_file(entry.path())))).value)
            rules.add(*rule);
    }
    BOOST_TEST(rules.size() > 0u);

    constexpr sa::Form forms[] = {sa::Form::object,   sa::Form::relationship, sa::Form::descriptor,
                                  sa::Form::embedded, sa::Form::rules,        sa::Form::rules_descriptors};
    std::size_t compared = 0, answered = 0;
    for (const auto& doc : files) {
        const auto full = json::parse(doc.bytes);
        const auto pruned = sa::parse_pruned(doc.bytes, sa::keep_file_document);
        BOOST_TEST(!pruned.error);
        const bool is_file = static_cast<bool>(sa::find_file_object(full));
        for (std::size_t set = 0; set < (is_file ? page_sets.size() : 1); ++set) {
            for (const auto form : forms) {
                for (const auto mode : {sa::ContextMode::all, sa::ContextMode::rule_fields}) {
                    // The descriptor and embedded forms carry no match contexts; only the rules forms are
                    // paged.
                    const bool has_contexts = form != sa::Form::descriptor && form != sa::Form::embedded;
                    if (!has_contexts && mode != sa::ContextMode::all) continue;
                    const bool paged = form == sa::Form::rules || form == sa::Form::rules_descriptors;
                    for (const auto& window :
                         {std::optional<sa::Page>{}, std::optional<sa::Page>{sa::Page{1, 2}}}) {
                        if (!paged && window) continue;
                        for (const auto embedded :
                             {sa::Embedded::descriptor, sa::Embedded::descriptor_and_count,
                              sa::Embedded::count}) {
                            if (form != sa::Form::embedded && embedded != sa::Embedded::descriptor) continue;
                            BOOST_TEST_CONTEXT(doc.name << " pages " << set << " form " << sa::form_name(form)
                                                        << " mode " << static_cast<int>(mode) << " window "
                                                        << window.has_value() << " embedded "
                                                        << static_cast<int>(embedded)) {
                                const auto& file_doc = form == sa::Form::embedded ? full : pruned.value;
                                const auto want =
                                    answer(full, page_sets[set].first, form, mode, window, rules, embedded);
                                const auto got = answer(file_doc, page_sets[set].second, form, mode, window,
                                                        rules, embedded);
                                BOOST_TEST((got == want), "pruned " << got << "\nfull   " << want);
                                ++compared;
                                answered += want.status == 200 ? 1 : 0;
                            }
                        }
                    }
                }
            }
        }
    }
    BOOST_TEST_MESSAGE("pruned answers compared: " << compared << ", of which 200: " << answered);
    BOOST_TEST(answered > 1000u);
}

// Invalid JSON: the same error at the same byte as boost::json's parser, and the same CLI message as the
// whole parse. Every cut of a real File object, and deterministic random damage to it.
BOOST_AUTO_TEST_CASE(invalid_json_fails_where_the_full_parse_fails) {
    const auto whole = ts::read_file(ts::fixture("vt/file_object.real.azul_Win32DLL_multipurpose.json"));
    std::vector<std::string> inputs = {"",
                                       " ",
                                       "{",
                                       "[",
                                       "}",
                                       "nul",
                                       "nulL",
                                       "tru",
                                       "{\"a\" 1}",
                                       "{} x",
                                       "1 2",
                                       "[1,]",
                                       "{\"a\":1,}",
                                       "\"\\u12g4\"",
                                       "\"\\ud800\"",
                                       "\"\xff\"",
                                       "01",
                                       "-",
                                       "1e",
                                       "{\"data\":\n  {\"id\": tru}}",
                                       "[\"\x01\"]",
                                       "// c\n{}",
                                       std::string("{\"a\":\"\0\"}", 9)};
    for (std::size_t cut = 0; cut < whole.size(); cut += 61)
        inputs.push_back(whole.substr(0, cut));
    std::mt19937 rng(15);
    constexpr std::string_view damage = "x}]{[\",:0-.eE\\u1 tnf\x80\xc3";
    for (int i = 0; i < 500; ++i) {
        std::string s = whole;
        const std::size_t at = rng() % s.size();
        switch (rng() % 3) {
        case 0:
            s[at] = damage[rng() % damage.size()];
            break;
        case 1:
            s.erase(at, 1 + rng() % 3);
            break;
        default:
            s.insert(at, 1, damage[rng() % damage.size()]);
        }
        inputs.push_back(std::move(s));
    }
    std::size_t failures = 0;
    for (const auto& input : inputs) {
        const auto want = reference_parse(input);
        for (const auto* keep : trees) {
            const auto got = sa::parse_pruned(input, *keep);
            if (want.error) {
                BOOST_TEST(got.error == want.error, input.substr(0, 80));
                BOOST_TEST(got.offset == want.offset, input.substr(0, 80));
                ++failures;
            } else {
                BOOST_TEST(!got.error, input.substr(0, 80) << ": " << got.error.message());
                BOOST_TEST((got.value == prune(want.value, keep)));
            }
        }
        BOOST_TEST(shim::cli::parse_json_document(input, sa::keep_file_document).error ==
                   shim::cli::parse_json_document(input).error);
    }
    BOOST_TEST(failures > 1500u);
}

// Boost's max_depth (32) holds for kept and dropped members alike: a hostile 100,000-deep document is an
// error, not a crash, and the limit is where json::parse has it.
BOOST_AUTO_TEST_CASE(depth_limit_is_boosts) {
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    for (const std::string& input :
         {deep, "{\"dropped\":" + deep + "}", "{\"data\":" + deep + "}",
          "{\"data\":{\"attributes\":{\"sigma_analysis_results\":" + deep + "}}}", [] {
              std::string s;
              for (int i = 0; i < 100000; ++i)
                  s += "{\"a\":";
              return s;
          }()}) {
        for (const auto* keep : trees) {
            const auto want = reference_parse(input);
            const auto got = sa::parse_pruned(input, *keep);
            BOOST_TEST(got.error == json::error::too_deep);
            BOOST_TEST(got.error == want.error);
            BOOST_TEST(got.offset == want.offset);
        }
    }
    for (std::size_t depth : {31u, 32u, 33u}) {
        const std::string nested =
            "{\"dropped\":" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
        const std::string kept = std::string(depth, '[') + std::string(depth, ']');
        for (const auto& input : {nested, kept}) {
            BOOST_TEST_CONTEXT(depth << " " << input.substr(0, 20)) {
                const auto got = sa::parse_pruned(input, sa::keep_file_document);
                BOOST_TEST(got.error == reference_parse(input).error);
                BOOST_TEST(!got.error == (depth <= 32));
            }
        }
    }
}

// A document fed in pieces, down to one byte at a time (keys, strings, escapes and numbers cut anywhere),
// is the document fed at once.
BOOST_AUTO_TEST_CASE(chunks_give_the_value_of_one_write) {
    auto docs = fixture_documents();
    docs.push_back({"mixed page", mixed_page});
    docs.push_back(
        {"escapes",
         R"({"d\u0061ta":{"id":"\u00e9\ud83d\ude00\n","type":"file","attributes":{"last_analysis_date":1234567890123,
        "sigma_analysis_stats":{"high":-1.25e-7,"low":18446744073709551615}}},"dropped":"\u00e9\ud83d\ude00"}  )"});
    for (const auto& doc : docs) {
        for (const auto* keep : trees) {
            const auto once = sa::parse_pruned(doc.bytes, *keep);
            BOOST_TEST_REQUIRE(!once.error);
            for (std::size_t chunk : {1u, 2u, 3u, 7u, 4096u}) {
                BOOST_TEST_CONTEXT(doc.name << " in chunks of " << chunk) {
                    const auto fed = fed_in_chunks(doc.bytes, *keep, chunk);
                    BOOST_TEST((fed == once.value));
                    BOOST_TEST(json::serialize(fed) == json::serialize(once.value));
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(chunked_errors_count_bytes_from_the_start) {
    {
        sa::PrunedParser parser(sa::keep_file_document, {});
        BOOST_TEST(parser.write("{\"data\":{}} \n"));
        BOOST_TEST(parser.write("  \t"));
        BOOST_TEST(!parser.write(" x"));
        BOOST_TEST(parser.error() == json::error::extra_data);
        BOOST_TEST(parser.offset() == 17u);
        BOOST_TEST(!parser.write(" ")); // the error stays
        BOOST_TEST(!parser.finish());
        BOOST_TEST(parser.release().is_null());
    }
    {
        sa::PrunedParser parser(sa::keep_file_document, {});
        BOOST_TEST(parser.write("[1,"));
        BOOST_TEST(!parser.write("2,}"));
        const auto want = reference_parse("[1,2,}");
        BOOST_TEST(parser.error() == want.error);
        BOOST_TEST(parser.offset() == want.offset);
        BOOST_TEST(parser.offset() == 5u);
    }
    {
        sa::PrunedParser parser(sa::keep_file_document, {});
        BOOST_TEST(parser.write("{\"id\":"));
        BOOST_TEST(!parser.finish());
        BOOST_TEST(parser.error() == json::error::incomplete);
        BOOST_TEST(parser.offset() == 6u);
    }
    {
        // A number at the root ends only with the input.
        sa::PrunedParser parser(sa::keep_file_document, {});
        BOOST_TEST(parser.write("12"));
        BOOST_TEST(parser.write("34 "));
        BOOST_TEST(parser.finish());
        BOOST_TEST(parser.release() == json::value(1234));
    }
}

// `convert` reads a regular file in 64 KiB chunks; its answers and its error messages are those of a whole
// read (standard input), even when the bad token is cut between two chunks, where Boost.JSON alone places
// some errors a byte or more later.
BOOST_AUTO_TEST_CASE(convert_reads_files_in_chunks_with_the_messages_of_a_whole_read) {
    const std::string dir =
        std::filesystem::temp_directory_path() / ("sigma-shim-pruned-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    // Padding after the members puts them past the first chunk.
    auto padded = [](const std::string& bytes) {
        auto v = json::parse(bytes);
        v.as_object()["padding"] = std::string(70000, 'p');
        return json::serialize(v);
    };
    const auto file =
        padded(ts::read_file(ts::fixture("roundtrip/docs_files_sigma_analysis.wide.file.json")));
    const auto page =
        padded(ts::read_file(ts::fixture("roundtrip/docs_files_sigma_analysis.wide.behaviours.json")));
    const std::string file_path = dir + "/file.json", page_path = dir + "/page.json";
    ts::write_file(file_path, file);
    ts::write_file(page_path, page);
    for (const char* form : {"object", "embedded"}) {
        BOOST_TEST_CONTEXT(form) {
            const auto from_files =
                ts::run_binary({"convert", "--file", file_path, "--form", form, "--behaviours", page_path});
            const auto file_on_stdin =
                ts::run_binary({"convert", "--file", "-", "--form", form, "--behaviours", page_path}, file);
            const auto page_on_stdin =
                ts::run_binary({"convert", "--file", file_path, "--form", form, "--behaviours", "-"}, page);
            BOOST_TEST(from_files.exit_code == 0, from_files.err);
            BOOST_TEST(from_files.out.size() > 1000u);
            BOOST_TEST(from_files.out == file_on_stdin.out);
            BOOST_TEST(from_files.out == page_on_stdin.out);
        }
    }

    // Errors cut at the chunk boundary (65,536 bytes in): broken literals, \u escapes and numbers.
    const std::string broken_path = dir + "/broken.json";
    std::size_t compared = 0;
    for (const std::string& tail : {std::string("nulL}"), std::string("fals}"), std::string("[\"\\u12g4\"]}"),
                                    std::string("\"ab\\uzzzz\"}"), std::string("\"abcd\\u12\"}"),
                                    std::string("1.}"), std::string("[1,]}")}) {
        for (std::size_t back = 0; back < 12; ++back) {
            // The tail starts `back` bytes before the boundary.
            const std::string bytes =
                "{\"padding\":\"" + std::string(65536 - back - 18, 'p') + "\",\"x\":" + tail;
            BOOST_TEST(bytes.find(tail) == 65536u - back);
            BOOST_TEST_CONTEXT(tail << " from " << back << " bytes before the boundary") {
                ts::write_file(broken_path, bytes);
                std::ostringstream err;
                const auto value =
                    shim::cli::load_json_input(broken_path, {}, "convert", err, &sa::keep_file_document);
                BOOST_TEST(!value);
                const auto want = shim::cli::parse_json_document(bytes).error;
                BOOST_TEST(!want.empty());
                BOOST_TEST(err.str() == "sigma-shim convert: " + broken_path + ": " + want + "\n");
                ++compared;
            }
        }
    }
    BOOST_TEST(compared == 84u);
    // And the binary says the same.
    const std::string bytes = "{\"padding\":\"" + std::string(65536 - 2 - 18, 'p') + "\",\"x\":nulL}";
    ts::write_file(broken_path, bytes);
    const auto r = ts::run_binary({"convert", "--file", broken_path});
    BOOST_TEST(r.exit_code == 3);
    BOOST_TEST(r.err == "sigma-shim convert: " + broken_path + ": " +
                            shim::cli::parse_json_document(bytes).error + "\n");
    BOOST_TEST(r.out.empty());
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
