// The comparison engine and its parts: compare() on two answers, parse_match_context on raw text, PathGlob on
// a pattern and a path.
//
// Input: one selector byte, then the rest. Selector bits 0-1:
//   0, 1  compare: the rest is the legacy body, 0x1E, the reconstructed body, 0x1E, ignore globs one a line.
//         A body that is not JSON is a JSON string of its text, as for a non-JSON upstream answer. Bits 2-4
//         pick the date tolerance, bit 5 makes the statuses differ, bit 6 keeps at most 3 findings.
//   2     parse_match_context on the rest.
//   3     PathGlob: the first line of the rest is the pattern, each further line a path element.
//
// Invariants: nothing crashes; compare(x, x) is exact without findings for either body; in both directions
// no finding is exact or at an ignored path, the verdict is the worst finding's (at least that when the
// findings were cut), and the findings are cut only at max_findings. A match context that parses writes back
// to the same text, and is a subset of itself. PathGlob agrees with a plain dynamic-programming matcher.
#include "compare/comparison.hpp"
#include "compare/match_context_pairs.hpp"
#include "compare/path_glob.hpp"
#include "fuzz_support.hpp"

#include <algorithm>
#include <array>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

namespace cmp = shim::compare;
namespace json = boost::json;

namespace {

constexpr std::int64_t big = std::numeric_limits<std::int64_t>::max();
constexpr std::array<std::int64_t, 8> tolerances{0, 1, 60, 86400, -1, big, -big - 1, 3600};

json::value body_of(std::string_view text) {
    if (auto v = fuzz::parse(text)) return std::move(*v);
    return json::string(text);
}

std::string describe(const cmp::Comparison& c) {
    std::string out =
        "verdict " + std::string(cmp::verdict_name(c.verdict)) + (c.truncated ? " (truncated)" : "");
    for (const auto& f : c.findings)
        out += "\n  " + cmp::path_text(f.path) + " [" + cmp::normalized_path(f.path) + "] " + f.kind + " " +
               std::string(cmp::verdict_name(f.verdict));
    return out;
}

void check_one_way(const cmp::Answer& a, const cmp::Answer& b, const cmp::CompareOptions& options,
                   const std::vector<cmp::PathGlob>& globs) {
    const auto c = cmp::compare(a, b, options);
    const std::string what = describe(c);
    cmp::Verdict worst = cmp::Verdict::exact;
    for (const auto& f : c.findings) {
        FUZZ_CHECK(f.verdict != cmp::Verdict::exact, what);
        FUZZ_CHECK(!cmp::any_matches(globs, f.path), what);
        FUZZ_CHECK(!f.kind.empty(), what);
        worst = std::max(worst, f.verdict);
    }
    FUZZ_CHECK(c.findings.size() <= options.max_findings, what);
    FUZZ_CHECK(!c.truncated || c.findings.size() == options.max_findings, what);
    if (c.truncated)
        FUZZ_CHECK(c.verdict >= worst && c.verdict != cmp::Verdict::exact, what);
    else
        FUZZ_CHECK(c.verdict == worst, what);
    const bool status_found = std::any_of(c.findings.begin(), c.findings.end(),
                                          [](const cmp::Finding& f) { return f.kind == "status"; });
    if (!c.truncated && !cmp::any_matches(globs, {"@status"}))
        FUZZ_CHECK(status_found == (a.status != b.status), what);
}

void check_exact_with_itself(const cmp::Answer& a, const cmp::CompareOptions& options) {
    const auto c = cmp::compare(a, a, options);
    FUZZ_CHECK(c.verdict == cmp::Verdict::exact && c.findings.empty() && !c.truncated,
               describe(c) + "\nbody: " + json::serialize(a.body));
}

void fuzz_compare(std::uint8_t selector, std::string_view rest) {
    const auto parts = fuzz::split(rest);
    cmp::Answer legacy{200, body_of(parts[0])};
    cmp::Answer rebuilt{(selector & 0x20) ? 404u : 200u, body_of(parts.size() > 1 ? parts[1] : "")};
    cmp::CompareOptions options;
    options.date_tolerance_seconds = tolerances[(selector >> 2) & 7];
    options.max_findings = (selector & 0x40) ? 3 : 1000;
    if (parts.size() > 2)
        for (const auto line : fuzz::split(parts[2], '\n'))
            options.ignore.emplace_back(line);
    std::vector<cmp::PathGlob> globs(options.ignore.begin(), options.ignore.end());

    check_exact_with_itself(legacy, options);
    check_exact_with_itself(rebuilt, options);
    check_one_way(legacy, rebuilt, options, globs);
    check_one_way(rebuilt, legacy, options, globs);
}

void fuzz_match_context(std::string_view text) {
    const auto pairs = cmp::parse_match_context(text);
    if (!pairs) return;
    std::string written;
    for (const auto& [key, value] : *pairs) {
        if (!written.empty()) written += ", ";
        written += "$" + key + ": '" + value + "'";
    }
    FUZZ_CHECK(written == text, written);
    FUZZ_CHECK(cmp::is_subset(*pairs, *pairs), text);
    const cmp::ContextPairs half(pairs->begin(),
                                 pairs->begin() + static_cast<std::ptrdiff_t>(pairs->size() / 2));
    FUZZ_CHECK(cmp::is_subset(half, *pairs), text);
}

// The reference: glob elements against path elements, '*' one, '**' any number, by dynamic programming.
bool reference_matches(const std::vector<std::string_view>& glob, const cmp::Path& path) {
    const std::size_t n = glob.size(), m = path.size();
    // ok[i][j]: glob[i..] matches path[j..]
    std::vector<std::vector<char>> ok(n + 1, std::vector<char>(m + 1, 0));
    ok[n][m] = 1;
    for (std::size_t i = n; i-- > 0;) {
        for (std::size_t j = m + 1; j-- > 0;) {
            if (glob[i] == "**")
                ok[i][j] = ok[i + 1][j] || (j < m && ok[i][j + 1]);
            else
                ok[i][j] = j < m && (glob[i] == "*" || glob[i] == path[j]) && ok[i + 1][j + 1];
        }
    }
    return ok[0][0];
}

void fuzz_glob(std::string_view rest) {
    const auto lines = fuzz::split(rest, '\n');
    if (lines.size() > 200) return; // the reference is quadratic
    const std::string_view pattern = lines[0];
    const auto glob = fuzz::split(pattern, '.');
    if (glob.size() > 200) return;
    const cmp::Path path(lines.begin() + 1, lines.end());
    const cmp::PathGlob g(pattern);
    FUZZ_CHECK(g.pattern() == pattern, pattern);
    FUZZ_CHECK(g.matches(path) == reference_matches(glob, path),
               std::string(pattern) + " against " + cmp::path_text(path));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t selector = data[0];
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (selector & 3) {
    case 0:
    case 1:
        fuzz_compare(selector, rest);
        break;
    case 2:
        fuzz_match_context(rest);
        break;
    default:
        fuzz_glob(rest);
        break;
    }
    return 0;
}
