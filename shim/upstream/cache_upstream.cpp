#include "upstream/cache_upstream.hpp"

#include "sigma_analysis/file_id.hpp"
#include "sigma_analysis/pruned_parse.hpp"
#include "util/key_hash.hpp"

namespace shim::upstream {
namespace {

constexpr std::size_t max_aliases = 200'000; // a bound on the alias table; it is rebuilt as files come back

// The id segment of /api/v3/{collection}/{id}[/...]: where it starts and how long it is.
std::pair<std::size_t, std::size_t> id_span(std::string_view target) {
    constexpr std::string_view prefix = "/api/v3/";
    if (!target.starts_with(prefix)) return {0, 0};
    const auto collection_end = target.find('/', prefix.size());
    if (collection_end == std::string_view::npos) return {0, 0};
    const auto start = collection_end + 1;
    const auto end = target.find_first_of("/?", start);
    return {start, (end == std::string_view::npos ? target.size() : end) - start};
}

bool upstream_failed(const UpstreamResponse& r) {
    return r.failure != Failure::none || r.status == 429 || r.status == 503 || r.status == 504;
}

} // namespace

std::string_view object_kind(std::string_view target) {
    const auto path = target.substr(0, target.find('?'));
    if (path.starts_with("/api/v3/sigma_rules/")) return "sigma_rule";
    if (path.starts_with("/api/v3/files/")) return path.ends_with("/behaviours") ? "behaviours" : "file";
    return "other";
}

std::string CacheUpstream::cache_key(const std::string& partition, std::string_view target,
                                     std::string_view kind) {
    std::string normal(target);
    const auto [start, length] = id_span(target);
    if (length) {
        std::string id = sigma_analysis::to_lower_ascii(target.substr(start, length));
        if (kind != "sigma_rule") {
            std::lock_guard lock(alias_mutex_);
            if (const auto it = sha256_of_.find(partition + " " + id); it != sha256_of_.end())
                id = it->second;
        }
        normal.replace(start, length, id);
    }
    return partition + " " + normal;
}

std::vector<std::string> CacheUpstream::learn_aliases(const std::string& partition, const std::string& body) {
    std::vector<std::string> aliases;
    // Only data.attributes.{sha256, md5, sha1} are built: a File object is mostly other attributes.
    const auto doc = sigma_analysis::parse_pruned(body, sigma_analysis::keep_file_hashes);
    if (doc.error || !doc.value.is_object()) return aliases;
    const auto* data = doc.value.get_object().if_contains("data");
    const auto* attributes =
        data && data->is_object() ? data->get_object().if_contains("attributes") : nullptr;
    if (!attributes || !attributes->is_object()) return aliases;
    const auto* sha256 = attributes->get_object().if_contains("sha256");
    if (!sha256 || !sha256->is_string()) return aliases;
    std::lock_guard lock(alias_mutex_);
    if (sha256_of_.size() > max_aliases) sha256_of_.clear();
    for (const char* hash : {"md5", "sha1"}) {
        if (const auto* v = attributes->get_object().if_contains(hash); v && v->is_string()) {
            aliases.push_back(sigma_analysis::to_lower_ascii(v->get_string()));
            sha256_of_[partition + " " + aliases.back()] =
                sigma_analysis::to_lower_ascii(sha256->get_string());
        }
    }
    return aliases;
}

std::optional<Clock::SteadyTime>
CacheUpstream::store(const std::string& key, const UpstreamResponse& response, std::string_view kind) {
    const auto now = clock_.steady_now();
    auto object = std::make_shared<economy::CachedObject>();
    object->status = response.status;
    object->body = response.body;
    object->content_type = response.content_type;
    object->kind = kind;
    object->stored_at = now;
    if (response.status == 200) {
        object->fresh_until = now + (kind == "sigma_rule" ? options_.rule_ttl : options_.ttl);
        object->stale_until = object->fresh_until + options_.stale_if_error;
    } else {
        object->fresh_until = now + options_.negative_ttl;
        object->stale_until = object->fresh_until; // a missing object is never served stale
    }
    const auto fresh_until = object->fresh_until;
    const bool fits = economy::byte_lru_entry_size(key, *object) <= lru_.budget();
    const auto evicted = lru_.put(key, std::move(object), now);
    if (evicted) metrics_.inc("sigma_shim_cache_evictions_total", {}, static_cast<double>(evicted));
    publish_sizes();
    return fits ? std::optional(fresh_until) : std::nullopt;
}

void CacheUpstream::publish_sizes() {
    metrics_.set("sigma_shim_cache_bytes", static_cast<double>(lru_.bytes()));
    metrics_.set("sigma_shim_cache_entries", static_cast<double>(lru_.entries()));
}

boost::asio::awaitable<UpstreamResponse> CacheUpstream::get(UpstreamRequest request) {
    const std::string kind(object_kind(request.target));
    // sigma_rule objects are the same for every key; everything else is kept apart per key.
    const std::string partition = kind == "sigma_rule" ? std::string("*") : util::key_digest(request.api_key);
    const std::string key = cache_key(partition, request.target, kind);
    const auto found = lru_.find(key, clock_.steady_now());
    auto from_cache = [&](CacheStatus status) {
        UpstreamResponse r;
        r.status = found.object->status;
        r.body = found.object->body;
        r.content_type = found.object->content_type;
        r.cache = status;
        if (status == CacheStatus::hit) r.fresh_until = found.object->fresh_until;
        metrics_.inc("sigma_shim_upstream_calls_saved_total");
        return r;
    };
    if (found.object && found.fresh) {
        metrics_.inc("sigma_shim_cache_requests_total", {kind, "hit"});
        co_return from_cache(CacheStatus::hit);
    }

    auto response = co_await next_.get(request);
    if (upstream_failed(response) && found.object && found.object->status == 200) {
        metrics_.inc("sigma_shim_cache_requests_total", {kind, "stale"});
        co_return from_cache(CacheStatus::stale);
    }
    metrics_.inc("sigma_shim_cache_requests_total", {kind, "miss"});
    if (response.failure != Failure::none || options_.cache_bytes == 0) co_return response;
    if (response.status == 200) {
        const auto aliases =
            kind == "file" ? learn_aliases(partition, response.body) : std::vector<std::string>{};
        response.fresh_until = store(key, response, kind);
        // The File and its first behaviour page are fetched together, so an MD5 or SHA-1 request may learn
        // the SHA-256 only after the page came back: both end up under the SHA-256 too, whichever arrives
        // last.
        const std::string canonical = cache_key(partition, request.target, kind);
        if (canonical != key) store(canonical, response, kind);
        const auto now = clock_.steady_now();
        for (const auto& alias : aliases) {
            const std::string page_target = "/api/v3/files/" + alias + "/behaviours";
            const auto page = lru_.find(partition + " " + page_target, now);
            const auto page_key = cache_key(partition, page_target, "behaviours");
            if (page.object && !lru_.find(page_key, now).object) lru_.put(page_key, page.object, now);
        }
    } else if (is_not_found_error(response)) {
        store(key, response, kind);
    }
    co_return response;
}

} // namespace shim::upstream
