#include "serve/http_answer.hpp"

#include "sigma_analysis/errors.hpp"

namespace shim::serve {

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

HttpAnswer error_answer(std::string_view code, std::string_view message) {
    HttpAnswer a;
    a.status = status_of_error_code(code);
    a.body = sigma_analysis::error_body(code, message);
    a.set("Content-Type", "application/json; charset=utf-8");
    return a;
}

} // namespace shim::serve
