#pragma once
// VirusTotal-shaped error bodies: {"error": {"code": CODE, "message": TEXT}}.
#include <string>
#include <string_view>

namespace sigma_analysis {

// The status VirusTotal answers with for an error code (500 for codes it does not document).
unsigned status_of_error_code(std::string_view code);

std::string error_body(std::string_view code, std::string_view message);

// 404 body for a file that exists but carries no Sigma data. `id` as the client sent it.
std::string sigma_not_found_body(std::string_view id);

// 400 body for a path id that is not an MD5, SHA-1 or SHA-256.
std::string invalid_file_id_body(std::string_view id);

} // namespace sigma_analysis
