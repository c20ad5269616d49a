#include "sigma_analysis/file_id.hpp"

#include <algorithm>

namespace sigma_analysis {

bool is_file_id(std::string_view id) {
    if (id.size() != 32 && id.size() != 40 && id.size() != 64) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    });
}

std::string to_lower_ascii(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

} // namespace sigma_analysis
