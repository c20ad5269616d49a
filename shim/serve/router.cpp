#include "serve/router.hpp"

#include "sigma_analysis/file_id.hpp"
#include "sigma_analysis/legacy_routes.hpp"

#include <algorithm>
#include <boost/container/small_vector.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <charconv>
#include <span>
#include <vector>

namespace shim::serve {
namespace {

namespace urls = boost::urls;

Route invalid(std::string why) {
    Route r;
    r.error = std::move(why);
    return r;
}

// The list window from `limit` and `cursor`; an error sentence when either is malformed.
std::string read_page(const urls::url_view& url, sigma_analysis::Page& page) {
    page = {0, default_page_limit};
    for (const auto& p : url.params()) {
        if (p.key == "limit") {
            std::size_t n = 0;
            const auto res = std::from_chars(p.value.data(), p.value.data() + p.value.size(), n);
            if (res.ec != std::errc{} || res.ptr != p.value.data() + p.value.size() || n == 0) {
                return "limit must be a positive whole number";
            }
            page.limit = std::min(n, max_page_limit);
        } else if (p.key == "cursor" && !p.value.empty()) { // an empty cursor asks for the first page
            const auto offset = sigma_analysis::parse_cursor(p.value);
            if (!offset) return "cursor is not valid";
            page.offset = *offset;
        }
    }
    return {};
}

// Whether the comma-separated list in some `name` parameter names `item`.
bool list_param_names(const urls::url_view& url, std::string_view name, std::string_view item) {
    for (const auto& p : url.params()) {
        if (p.key != name) continue;
        std::string_view list = p.value;
        while (!list.empty()) {
            const auto comma = list.find(',');
            if (list.substr(0, comma) == item) return true;
            list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        }
    }
    return false;
}

// relationship_counters=true (msticpy's spelling; VirusTotal's own documentation has no other).
bool asks_counters(const urls::url_view& url) {
    for (const auto& p : url.params()) {
        if (p.key == "relationship_counters" && p.has_value && p.value.size() == 4 &&
            std::equal(p.value.begin(), p.value.end(), "true", [](char x, char y) {
                return (x >= 'A' && x <= 'Z' ? static_cast<char>(x - 'A' + 'a') : x) == y;
            }))
            return true;
    }
    return false;
}

// The File request for ?relationships=...,sigma_analysis,...: the list without `item`, dropped if empty.
std::string file_target_without(const urls::url_view& url, std::string_view name, std::string_view item) {
    urls::url copy(url);
    auto params = copy.params();
    for (auto it = params.begin(); it != params.end();) {
        if ((*it).key != name) {
            ++it;
            continue;
        }
        std::string kept;
        const std::string value = (*it).value; // *it is a temporary: copy before viewing
        std::string_view list = value;
        while (!list.empty()) {
            const auto comma = list.find(',');
            const auto entry = list.substr(0, comma);
            if (!entry.empty() && entry != item) kept += (kept.empty() ? "" : ",") + std::string(entry);
            list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        }
        if (kept.empty()) {
            it = params.erase(it);
        } else {
            it = params.replace(it, {name, kept});
            ++it;
        }
    }
    if (copy.params().empty()) copy.remove_query();
    return std::string(copy.encoded_target());
}

// A row of the legacy route table, split once: its path segments ("{id}" matches any one segment) and its
// optional query condition.
struct RoutePattern {
    const sigma_analysis::LegacyRoute* route = nullptr;
    std::vector<std::string_view> segments;
    std::size_t id_at = 0;
    std::string_view query_name, query_item; // empty: no condition
};

std::vector<RoutePattern> compile_patterns() {
    std::vector<RoutePattern> patterns;
    for (const auto& route : sigma_analysis::legacy_routes()) {
        RoutePattern p;
        p.route = &route;
        std::string_view path = route.path;
        if (const auto q = path.find('?'); q != std::string_view::npos) {
            const auto condition = path.substr(q + 1);
            const auto eq = condition.find('=');
            p.query_name = condition.substr(0, eq);
            p.query_item = condition.substr(eq + 1);
            path = path.substr(0, q);
        }
        for (path.remove_prefix(1);;) {
            const auto slash = path.find('/');
            if (path.substr(0, slash) == "{id}") p.id_at = p.segments.size();
            p.segments.push_back(path.substr(0, slash));
            if (slash == std::string_view::npos) break;
            path.remove_prefix(slash + 1);
        }
        patterns.push_back(std::move(p));
    }
    return patterns;
}

const RoutePattern* match_legacy(std::span<const std::string_view> seg, const urls::url_view& url) {
    static const std::vector<RoutePattern> patterns = compile_patterns();
    for (const auto& p : patterns) {
        if (p.segments.size() != seg.size()) continue;
        bool same = true;
        for (std::size_t i = 0; i < seg.size() && same; ++i)
            same = i == p.id_at || p.segments[i] == seg[i];
        if (!same) continue;
        if (!p.query_name.empty() && !list_param_names(url, p.query_name, p.query_item)) continue;
        return &p;
    }
    return nullptr;
}

// "." or "..", with any dot spelled %2e in either case (RFC 3986 2.1: "%2e%2E" is ".." too): an upstream that
// decodes before it normalises would otherwise climb out of /api/v3/.
bool is_dot_segment(std::string_view s) {
    std::size_t dots = 0;
    while (!s.empty() && dots < 3) {
        if (s.front() == '.') {
            s.remove_prefix(1);
        } else if (s.size() >= 3 && s[0] == '%' && s[1] == '2' && (s[2] == 'e' || s[2] == 'E')) {
            s.remove_prefix(3);
        } else {
            return false;
        }
        ++dots;
    }
    return s.empty() && (dots == 1 || dots == 2);
}

} // namespace

std::string_view route_class_name(RouteClass c) {
    switch (c) {
    case RouteClass::legacy:
        return "legacy";
    case RouteClass::passthrough:
        return "passthrough";
    case RouteClass::shim:
        return "shim";
    case RouteClass::invalid:
        return "invalid";
    }
    return "invalid";
}

Route route_request(std::string_view method, std::string_view target) {
    if (method == "CONNECT") return invalid("CONNECT is not served");
    if (target.empty() || target.front() != '/')
        return invalid("only origin-form request targets are served");
    const auto parsed = urls::parse_origin_form(target);
    if (!parsed) return invalid("the request target is not a valid URL path");
    const urls::url_view url = *parsed;

    // Segments as sent, still percent-encoded: an id spelled with %2F or %00 must not match a route. Split by
    // hand: Boost.URL's segment view hides a leading "." segment. Held inline: a route has at most 6.
    boost::container::small_vector<std::string_view, 8> seg;
    std::string_view path = url.encoded_path();
    for (path.remove_prefix(1);;) {
        const auto slash = path.find('/');
        const auto s = path.substr(0, slash);
        if (is_dot_segment(s)) return invalid("dot segments are not allowed in the path");
        seg.push_back(s);
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    if (seg.size() == 1 && seg[0].empty()) seg.clear(); // the path "/"

    if (!seg.empty() && seg[0] == "_shim") {
        Route r;
        r.route_class = RouteClass::shim;
        r.shim_endpoint = seg.size() == 2 ? std::string(seg[1]) : std::string();
        r.shim_query = url.encoded_query();
        return r;
    }
    if (seg.size() < 2 || seg[0] != "api" || seg[1] != "v3") {
        return invalid("only /api/v3/ and /_shim/ paths are served");
    }

    Route r;
    r.route_class = RouteClass::passthrough;
    if (method != "GET") return r;

    const RoutePattern* match = match_legacy(seg, url);
    if (match == nullptr) {
        // GET /api/v3/files/{id}?relationship_counters=true: the upstream's File object, asked for with the
        // query as sent (VirusTotal counts the other relationships), with the sigma_analysis counter added.
        // Only for a file id: anything else stays VirusTotal's to answer, as before.
        if (seg.size() == 4 && seg[2] == "files" && sigma_analysis::is_file_id(seg[3]) &&
            asks_counters(url)) {
            r.route_class = RouteClass::legacy;
            r.form = sigma_analysis::Form::embedded;
            r.embedded = sigma_analysis::Embedded::count;
            r.id = seg[3];
            r.file_target = "/api/v3/files/" + sigma_analysis::to_lower_ascii(seg[3]) + "?";
            r.file_target += url.encoded_query();
        }
        return r;
    }
    const auto id = seg[match->id_at];
    r.route_class = RouteClass::legacy;
    r.form = match->route->form;
    r.id = id;
    r.file_target = "/api/v3/files/" + sigma_analysis::to_lower_ascii(id);
    if (match->route->paged) {
        sigma_analysis::Page page;
        r.error = read_page(url, page);
        r.page = page;
    }
    if (r.form == sigma_analysis::Form::embedded && asks_counters(url))
        r.embedded = sigma_analysis::Embedded::descriptor_and_count;
    if (!match->query_name.empty()) { // the File request keeps the rest of the query
        const std::string without = file_target_without(url, match->query_name, match->query_item);
        if (const auto query = without.find('?'); query != std::string::npos)
            r.file_target += without.substr(query);
    }
    return r;
}

} // namespace shim::serve
