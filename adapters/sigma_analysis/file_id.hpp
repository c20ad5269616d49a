#pragma once
// File ids on the legacy routes: an MD5, SHA-1 or SHA-256 in hex, any case.
#include <string>
#include <string_view>

namespace sigma_analysis {

bool is_file_id(std::string_view id);

std::string to_lower_ascii(std::string_view s);

} // namespace sigma_analysis
