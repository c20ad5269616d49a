// The transform, bytes to legacy bytes: a File object, its behaviour page and sigma_rule objects in, every
// legacy form out, in every match-context mode.
//
// Input: one options byte, then parts separated by 0x1E: the File document, the behaviour document
// (optional), then any number of sigma_rule documents. Options byte: bit 0 asks for a list window; bits 1-3
// pick its offset, bits 4-5 its limit; bit 6 makes `all` the calibrated mode's fallback (else rule_fields).
// The calibrated mode's calibration knows every other rule of the input (the first, the third, ...), with
// fields listed out of byte order, some of them rarely present.
//
// Invariants: nothing crashes, and every answer's body is valid JSON (UTF-8 included), whatever the input; in
// calibrated mode the calibrated and the fallback match counts add up to the matches.
#include "fuzz_support.hpp"
#include "sigma_analysis/calibration.hpp"
#include "sigma_analysis/extract.hpp"
#include "sigma_analysis/file_id.hpp"
#include "sigma_analysis/input.hpp"
#include "sigma_analysis/render.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <string>

namespace sa = sigma_analysis;
namespace json = boost::json;

namespace {

constexpr std::array forms{sa::Form::object,   sa::Form::relationship, sa::Form::descriptor,
                           sa::Form::embedded, sa::Form::rules,        sa::Form::rules_descriptors};
constexpr std::array modes{sa::ContextMode::all, sa::ContextMode::rule_fields, sa::ContextMode::calibrated};

constexpr std::size_t max_size = std::numeric_limits<std::size_t>::max();
// The router and the convert command accept any decimal cursor, and limits from 1 to 40.
constexpr std::array<std::size_t, 8> offsets{0, 1, 2, 3, 9, 40, max_size - 1, max_size};
constexpr std::array<std::size_t, 4> limits{1, 2, 10, 40};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t options = data[0];
    const auto parts = fuzz::split({reinterpret_cast<const char*>(data) + 1, size - 1});

    std::deque<json::value> docs; // stable addresses: the analysis borrows their strings
    const auto file_doc = fuzz::parse(parts[0]);
    if (!file_doc) return 0;
    const auto file = sa::find_file_object(*file_doc);
    if (!file) return 0;

    std::vector<const json::object*> behaviours;
    std::size_t skipped = 0;
    if (parts.size() > 1) {
        if (auto doc = fuzz::parse(parts[1])) {
            const auto found = sa::find_behaviour_objects(docs.emplace_back(std::move(*doc)));
            if (found) {
                behaviours = found.value.objects;
                skipped = found.value.skipped;
            }
        }
    }
    sa::RuleCatalog rules;
    for (std::size_t i = 2; i < parts.size(); ++i) {
        if (auto doc = fuzz::parse(parts[i])) {
            const auto found = sa::find_rule_objects(docs.emplace_back(std::move(*doc)));
            if (found)
                for (const auto* rule : found.value)
                    rules.add(*rule);
        }
    }
    // What the server fetches rule objects by; here also the rules calibrated.
    const auto ids = sa::distinct_rule_ids(*file.value, behaviours);
    sa::Calibration calibration;
    for (std::size_t i = 0; i < ids.size(); i += 2)
        calibration.rules[std::string(ids[i])].chosen = {{"Image", "EventID", "Zz", "CommandLine"}, 1};

    std::optional<sa::Page> page;
    if (options & 1) page = sa::Page{offsets[(options >> 1) & 7], limits[(options >> 4) & 3]};

    for (const auto mode : modes) {
        sa::ExtractInput input{*file.value, behaviours, &rules, mode};
        input.calibration = &calibration;
        input.fallback = (options & 0x40) ? sa::ContextMode::all : sa::ContextMode::rule_fields;
        auto analysis = sa::extract(input);
        if (mode == sa::ContextMode::calibrated) {
            const auto& d = analysis.diagnostics;
            FUZZ_CHECK(d.calibrated_matches + d.fallback_matches == analysis.matches.size(), d.summary());
        }
        analysis.diagnostics.skipped += skipped;
        (void)analysis.diagnostics.summary();
        const std::string request_id = sa::to_lower_ascii(analysis.sha256);
        for (const auto form : forms) {
            auto copy = analysis; // render may add diagnostics
            const auto answer =
                sa::render(form, copy, {"https://www.virustotal.com", request_id, page, &rules, &*file_doc});
            FUZZ_CHECK(fuzz::parse(answer.body, 1000).has_value(), answer.body);
        }
    }
    return 0;
}
