#include "migrate/comparison_store.hpp"

namespace shim::migrate {

void ComparisonStore::add(compare::ReportEntry entry) {
    const std::lock_guard lock(mutex_);
    ++total_;
    switch (entry.result.verdict) {
    case compare::Verdict::exact:
        ++exact_;
        break;
    case compare::Verdict::compatible:
        ++compatible_;
        break;
    case compare::Verdict::different:
        ++different_;
        break;
    }
    if (entry.result.verdict != compare::Verdict::different || keep_ == 0) return;
    if (kept_.size() == keep_) kept_.pop_back();
    kept_.push_front(std::move(entry));
}

compare::Report ComparisonStore::snapshot() const {
    const std::lock_guard lock(mutex_);
    compare::Report r;
    r.entries.assign(kept_.begin(), kept_.end());
    r.total = total_;
    r.exact = exact_;
    r.compatible = compatible_;
    r.different = different_;
    return r;
}

std::string ComparisonStore::path_label(const std::string& normalized_path) {
    const std::lock_guard lock(mutex_);
    if (path_labels_.contains(normalized_path)) return normalized_path;
    if (path_labels_.size() >= max_path_labels_) return "other";
    path_labels_.insert(normalized_path);
    return normalized_path;
}

} // namespace shim::migrate
