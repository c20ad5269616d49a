#include "upstream/record_layout.hpp"

#include "sigma_analysis/file_id.hpp"

#include <boost/url/parse.hpp>
#include <vector>

namespace shim::upstream {
namespace {

bool plain_id(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    for (char c : id) {
        const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        c == '-' || c == '_';
        if (!ok) return false;
    }
    return true;
}

std::string hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 0xF]);
    }
    return out;
}

} // namespace

std::string record_path_for(std::string_view target) {
    const auto url = boost::urls::parse_origin_form(target);
    if (!url) return {};
    std::vector<std::string> seg;
    for (const auto& s : url->segments())
        seg.push_back(s);
    if (seg.size() < 4 || seg[0] != "api" || seg[1] != "v3" || !plain_id(seg[3])) return {};
    const std::string id = sigma_analysis::to_lower_ascii(seg[3]);
    if (seg[2] == "sigma_rules" && seg.size() == 4 && !url->has_query()) return "sigma_rules/" + id + ".json";
    if (seg[2] != "files") return {};
    if (seg.size() == 4 && !url->has_query()) return "files/" + id + ".json";
    if (seg.size() != 5 || seg[4] != "behaviours") return {};
    std::string cursor;
    for (const auto& p : url->params()) {
        if (p.key == "cursor")
            cursor = p.value;
        else
            return {}; // other parameters (limit, ...) change the page: not recorded
    }
    return cursor.empty() ? "behaviours/" + id + ".json"
                          : "behaviours/" + id + ".cursor-" + hex(cursor) + ".json";
}

} // namespace shim::upstream
