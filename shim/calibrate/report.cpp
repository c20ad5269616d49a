#include "calibrate/report.hpp"

namespace shim::calibrate {

std::string_view win_reason_name(WinReason reason) {
    switch (reason) {
    case WinReason::more_support:
        return "more_support";
    case WinReason::more_fields:
        return "more_fields";
    case WinReason::byte_order:
        return "byte_order";
    }
    return "more_support";
}

std::string shorten(std::string_view text, std::size_t limit) {
    constexpr std::string_view ellipsis = "...";
    if (text.size() <= limit) return std::string(text);
    std::size_t cut = limit > ellipsis.size() ? limit - ellipsis.size() : 0;
    // Never between a lead byte and its continuation bytes: the kept part stays whole characters.
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
        --cut;
    return std::string(text.substr(0, cut)) + std::string(ellipsis);
}

} // namespace shim::calibrate
