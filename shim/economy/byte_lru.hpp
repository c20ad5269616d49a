#pragma once
// An LRU cache bounded by bytes, holding shared immutable upstream answers. Pure and clock-injected: the
// caller passes the time to every call that needs it. Thread-safe: every member locks one mutex.
#include <chrono>
#include <cstddef>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace shim::economy {

using SteadyTime = std::chrono::steady_clock::time_point;

struct CachedObject {      // immutable once stored
    unsigned status = 200; // 200, or 404 for a cached NotFoundError
    std::string body;
    std::string content_type;
    std::string kind; // "file", "behaviours", "sigma_rule", "other": for stats
    SteadyTime stored_at;
    SteadyTime fresh_until; // a hit before this; after it, usable only as a stale copy
    SteadyTime stale_until; // after this the entry is useless and may be dropped at any time
    // A rendered legacy answer (kind "answer") also keeps the headers it is sent with, its log note and how
    // many upstream objects it was built from.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string note;
    std::size_t sources = 0;
    // And, ready to write, those headers as the lines of a header block and the body gzipped, both made once.
    std::string header_lines;
    std::string gzip_body;
};

// A hit has `object` set; `fresh` is true when now < fresh_until. A miss has a null `object`.
struct Lookup {
    std::shared_ptr<const CachedObject> object;
    bool fresh = false;
};

struct KindStats {
    std::size_t entries = 0;
    std::size_t bytes = 0;
};

// Fixed per-entry overhead counted by ByteLru::bytes(), standing in for the list node, the map node and the
// shared object's control block.
inline constexpr std::size_t byte_lru_entry_overhead = 128;

// The size ByteLru charges for `object` stored under `key`.
std::size_t byte_lru_entry_size(const std::string& key, const CachedObject& object);

class ByteLru {
public:
    explicit ByteLru(std::size_t budget_bytes);

    // A hit marks the entry most recently used. An entry with now >= stale_until is dropped and misses.
    Lookup find(const std::string& key, SteadyTime now);
    // Stores (replacing any entry under key) and evicts least recently used entries until bytes() <= budget.
    // Returns how many entries were evicted (the replaced entry, if any, is not counted). An object larger
    // than the whole budget, a null object, or one already past its stale_until at `now` is not stored
    // (returns 0), and any older entry under key is erased, so a superseded answer is never served.
    std::size_t put(const std::string& key, std::shared_ptr<const CachedObject> object, SteadyTime now);
    void erase(const std::string& key);

    // Sum of entry sizes: key.size() + body.size() + content_type.size() + kind.size() + note.size() + the
    // headers' names and values + 128 per entry.
    std::size_t bytes() const;
    std::size_t entries() const;
    std::size_t budget() const;
    // Entries and bytes per CachedObject::kind, including entries past stale_until not yet dropped.
    std::map<std::string, KindStats> stats_by_kind() const;

private:
    struct Entry {
        std::string key;
        std::shared_ptr<const CachedObject> object;
        std::size_t size = 0;
    };
    using List = std::list<Entry>;

    void erase_locked(List::iterator it);

    const std::size_t budget_;
    mutable std::mutex mutex_;
    List recency_; // most recently used first
    std::unordered_map<std::string, List::iterator> index_;
    std::size_t bytes_ = 0;
};

} // namespace shim::economy
