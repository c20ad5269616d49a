#include "util/match_context_option.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

namespace shim::util {

namespace sa = sigma_analysis;

std::string parse_match_context(std::string_view value, MatchContextChoice& out) {
    if (value == "all" || value == "rule-fields") {
        out = {value == "all" ? sa::ContextMode::all : sa::ContextMode::rule_fields, nullptr};
        return {};
    }
    constexpr std::string_view prefix = "calibrated:";
    if (!value.starts_with(prefix)) return "expected all, rule-fields or calibrated:FIELDS.json";
    const std::string path(value.substr(prefix.size()));
    if (path.empty()) return "calibrated: needs the path of a FIELDS.json (sigma-shim calibrate writes one)";
    std::error_code ec;
    std::ifstream in(path, std::ios::binary);
    if (!std::filesystem::is_regular_file(path, ec) || !in) return path + " cannot be read";
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return path + " cannot be read";
    auto calibration = std::make_shared<sa::Calibration>();
    std::string error;
    if (!sa::parse_calibration(text, *calibration, error)) return path + ": " + error;
    out = {sa::ContextMode::calibrated, std::move(calibration)};
    return {};
}

std::string parse_match_context_fallback(std::string_view value, sa::ContextMode& out) {
    if (value == "rule-fields")
        out = sa::ContextMode::rule_fields;
    else if (value == "all")
        out = sa::ContextMode::all;
    else
        return "expected rule-fields or all";
    return {};
}

} // namespace shim::util
