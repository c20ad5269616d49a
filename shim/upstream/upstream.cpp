#include "upstream/upstream.hpp"

namespace shim::upstream {

std::string_view cache_status_name(CacheStatus status) {
    switch (status) {
    case CacheStatus::bypass:
        return "bypass";
    case CacheStatus::hit:
        return "hit";
    case CacheStatus::coalesced:
        return "coalesced";
    case CacheStatus::miss:
        return "miss";
    case CacheStatus::stale:
        return "stale";
    }
    return "bypass";
}

bool is_not_found_error(const UpstreamResponse& r) {
    return r.status == 404 && r.body.find("\"NotFoundError\"") != std::string::npos;
}

} // namespace shim::upstream
