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

} // namespace shim::upstream
