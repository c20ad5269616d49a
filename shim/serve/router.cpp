#include "serve/router.hpp"

#include "sigma_analysis/file_id.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <charconv>
#include <vector>

namespace shim::serve {
namespace {

namespace urls = boost::urls;
using sigma_analysis::Form;

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

// The File request for ?relationships=...,sigma_analysis,...: the list without sigma_analysis, dropped if
// empty.
std::string file_target_without_sigma(const urls::url_view& url) {
    urls::url copy(url);
    auto params = copy.params();
    for (auto it = params.begin(); it != params.end();) {
        if ((*it).key != "relationships") {
            ++it;
            continue;
        }
        std::string kept;
        const std::string value = (*it).value; // *it is a temporary: copy before viewing
        std::string_view list = value;
        while (!list.empty()) {
            const auto comma = list.find(',');
            const auto item = list.substr(0, comma);
            if (!item.empty() && item != "sigma_analysis")
                kept += (kept.empty() ? "" : ",") + std::string(item);
            list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        }
        if (kept.empty()) {
            it = params.erase(it);
        } else {
            it = params.replace(it, {"relationships", kept});
            ++it;
        }
    }
    if (copy.params().empty()) copy.remove_query();
    return std::string(copy.encoded_target());
}

bool asks_for_sigma_relationship(const urls::url_view& url) {
    for (const auto& p : url.params()) {
        if (p.key != "relationships") continue;
        std::string_view list = p.value;
        while (!list.empty()) {
            const auto comma = list.find(',');
            if (list.substr(0, comma) == "sigma_analysis") return true;
            list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        }
    }
    return false;
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
    // hand: Boost.URL's segment view hides a leading "." segment.
    std::vector<std::string_view> seg;
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

    const auto legacy = [&](Form form, std::string_view id) {
        r.route_class = RouteClass::legacy;
        r.form = form;
        r.id = id;
        r.file_target = "/api/v3/files/" + sigma_analysis::to_lower_ascii(id);
        if (form == Form::rules || form == Form::rules_descriptors) {
            sigma_analysis::Page page;
            r.error = read_page(url, page);
            r.page = page;
        }
    };
    const auto n = seg.size();
    if (n >= 4 && seg[2] == "sigma_analyses") {
        if (n == 4)
            legacy(Form::object, seg[3]);
        else if (n == 5 && seg[4] == "rules")
            legacy(Form::rules, seg[3]);
        else if (n == 6 && seg[4] == "relationships" && seg[5] == "rules")
            legacy(Form::rules_descriptors, seg[3]);
    } else if (n >= 4 && seg[2] == "files") {
        if (n == 5 && seg[4] == "sigma_analysis")
            legacy(Form::relationship, seg[3]);
        else if (n == 6 && seg[4] == "relationships" && seg[5] == "sigma_analysis")
            legacy(Form::descriptor, seg[3]);
        else if (n == 4 && asks_for_sigma_relationship(url)) {
            legacy(Form::embedded, seg[3]);
            const std::string without = file_target_without_sigma(url);
            if (const auto query = without.find('?'); query != std::string::npos)
                r.file_target += without.substr(query);
        }
    }
    return r;
}

} // namespace shim::serve
