#include "sigma_analysis/errors.hpp"

#include "sigma_analysis/json_writer.hpp"

namespace sigma_analysis {

unsigned status_of_error_code(std::string_view code) {
    if (code == "InvalidArgumentError" || code == "BadRequestError") return 400;
    if (code == "AuthenticationRequiredError") return 401;
    if (code == "ForbiddenError") return 403;
    if (code == "NotFoundError") return 404;
    if (code == "PayloadTooLargeError") return 413;
    if (code == "RequestHeaderFieldsTooLargeError") return 431;
    if (code == "QuotaExceededError") return 429;
    if (code == "TransientError") return 503;
    if (code == "DeadlineExceededError") return 504;
    return 500;
}

std::string error_body(std::string_view code, std::string_view message) {
    std::string out = "{\"error\":{\"code\":";
    json_out::append_string(out, code);
    out += ",\"message\":";
    json_out::append_string(out, message);
    out += "}}";
    return out;
}

std::string sigma_not_found_body(std::string_view id) {
    return error_body("NotFoundError", "Sigma analysis for \"" + std::string(id) + "\" not found");
}

std::string invalid_file_id_body(std::string_view id) {
    // The id comes from a hostile path: echo only a short, printable-ASCII rendering of it.
    constexpr std::size_t shown = 80;
    std::string safe;
    for (char c : id.substr(0, shown))
        safe.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    if (id.size() > shown) safe += "...";
    return error_body("InvalidArgumentError",
                      "\"" + safe + "\" is not a valid file id (an MD5, SHA-1 or SHA-256 in hex)");
}

} // namespace sigma_analysis
