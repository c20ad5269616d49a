#include "economy/byte_lru.hpp"

#include <iterator>
#include <utility>

namespace shim::economy {

std::size_t byte_lru_entry_size(const std::string& key, const CachedObject& object) {
    std::size_t size = key.size() + object.body.size() + object.content_type.size() + object.kind.size() +
                       object.note.size() + object.header_lines.size() + object.gzip_body.size() +
                       byte_lru_entry_overhead;
    for (const auto& [name, value] : object.headers)
        size += name.size() + value.size();
    return size;
}

ByteLru::ByteLru(std::size_t budget_bytes) : budget_(budget_bytes) {}

Lookup ByteLru::find(const std::string& key, SteadyTime now) {
    std::lock_guard lock(mutex_);
    const auto found = index_.find(key);
    if (found == index_.end()) return {};
    const auto it = found->second;
    if (now >= it->object->stale_until) {
        erase_locked(it);
        return {};
    }
    recency_.splice(recency_.begin(), recency_, it);
    return Lookup{it->object, now < it->object->fresh_until};
}

std::size_t ByteLru::put(const std::string& key, std::shared_ptr<const CachedObject> object, SteadyTime now) {
    std::lock_guard lock(mutex_);
    if (const auto found = index_.find(key); found != index_.end()) erase_locked(found->second);
    if (!object || now >= object->stale_until) return 0;
    const std::size_t size = byte_lru_entry_size(key, *object);
    if (size > budget_) return 0;

    recency_.push_front(Entry{key, std::move(object), size});
    try {
        index_.emplace(key, recency_.begin());
    } catch (...) {
        recency_.pop_front();
        throw;
    }
    bytes_ += size;

    // The new entry is at the front and fits the budget on its own, so it is never the one evicted.
    std::size_t evicted = 0;
    while (bytes_ > budget_) {
        erase_locked(std::prev(recency_.end()));
        ++evicted;
    }
    return evicted;
}

void ByteLru::erase(const std::string& key) {
    std::lock_guard lock(mutex_);
    if (const auto found = index_.find(key); found != index_.end()) erase_locked(found->second);
}

void ByteLru::erase_locked(List::iterator it) {
    bytes_ -= it->size;
    index_.erase(it->key);
    recency_.erase(it);
}

std::size_t ByteLru::bytes() const {
    std::lock_guard lock(mutex_);
    return bytes_;
}

std::size_t ByteLru::entries() const {
    std::lock_guard lock(mutex_);
    return index_.size();
}

std::size_t ByteLru::budget() const {
    return budget_;
}

std::map<std::string, KindStats> ByteLru::stats_by_kind() const {
    std::lock_guard lock(mutex_);
    std::map<std::string, KindStats> stats;
    for (const Entry& entry : recency_) {
        KindStats& kind = stats[entry.object->kind];
        ++kind.entries;
        kind.bytes += entry.size;
    }
    return stats;
}

} // namespace shim::economy
