#include "compare/legacy_shape.hpp"

#include "sigma_analysis/errors.hpp"

#include <algorithm>
#include <array>
#include <boost/json/value.hpp>
#include <cctype>

namespace shim::compare {

namespace json = boost::json;

namespace {

bool is_hex(char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}

bool is_file_id(std::string_view id) {
    return (id.size() == 32 || id.size() == 40 || id.size() == 64) &&
           std::all_of(id.begin(), id.end(), is_hex);
}

bool is_sha256(std::string_view id) {
    return id.size() == 64 && is_file_id(id);
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

struct Route {
    std::string_view kind;
    std::string_view id;
};

// Splits an origin-form target's path into the route it names, if it names one of the legacy routes.
std::optional<Route> parse_route(std::string_view target) {
    std::string_view path = target.substr(0, target.find_first_of("?#"));
    constexpr std::string_view files = "/api/v3/files/";
    constexpr std::string_view analyses = "/api/v3/sigma_analyses/";
    std::string_view rest;
    bool under_files = false;
    if (path.starts_with(files)) {
        rest = path.substr(files.size());
        under_files = true;
    } else if (path.starts_with(analyses)) {
        rest = path.substr(analyses.size());
    } else {
        return std::nullopt;
    }
    const auto slash = rest.find('/');
    const std::string_view id = rest.substr(0, slash);
    const std::string_view tail = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    if (!is_file_id(id)) return std::nullopt;
    if (under_files) {
        if (tail == "/sigma_analysis") return Route{"relationship", id};
        if (tail == "/relationships/sigma_analysis") return Route{"descriptor", id};
        return std::nullopt;
    }
    if (tail.empty()) return Route{"object", id};
    if (tail == "/rules") return Route{"rules", id};
    if (tail == "/relationships/rules") return Route{"rules-descriptors", id};
    return std::nullopt;
}

// The origin-form part of a link, whatever its scheme and host: links in recorded answers carry VirusTotal's
// public base (or an operator's --public-base), which says nothing about the route.
std::optional<std::string> legacy_target_of_link(const json::value* link) {
    if (!link || !link->is_string()) return std::nullopt;
    const std::string_view text = link->get_string();
    const auto at = text.find("/api/v3/");
    if (at == std::string_view::npos) return std::nullopt;
    std::string_view target = text.substr(at);
    target = target.substr(0, target.find('#'));
    if (!parse_route(target)) return std::nullopt;
    return std::string(target);
}

const json::value* member(const json::value* v, std::string_view key) {
    if (!v || !v->is_object()) return nullptr;
    return v->as_object().if_contains(key);
}

// A whole run of hex digits in the name, preferring SHA-256, then SHA-1, then MD5. Only whole runs count, so
// a longer hex word never yields an id cut out of it.
std::string id_in_file_name(std::string_view file_name) {
    const auto slash = file_name.find_last_of("/\\");
    if (slash != std::string_view::npos) file_name = file_name.substr(slash + 1);
    std::array<std::string_view, 3> found; // 64, 40, 32
    for (std::size_t i = 0; i < file_name.size();) {
        if (!is_hex(file_name[i])) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < file_name.size() && is_hex(file_name[j]))
            ++j;
        const auto run = file_name.substr(i, j - i);
        if (run.size() == 64 && found[0].empty()) found[0] = run;
        if (run.size() == 40 && found[1].empty()) found[1] = run;
        if (run.size() == 32 && found[2].empty()) found[2] = run;
        i = j;
    }
    for (const auto& id : found)
        if (!id.empty()) return lower(id);
    return {};
}

} // namespace

std::string_view legacy_route_kind(std::string_view target) {
    const auto route = parse_route(target);
    return route ? route->kind : std::string_view{};
}

std::optional<LegacyShape> legacy_shape(const json::value& body, std::string_view file_name) {
    LegacyShape shape;
    const auto* data = member(&body, "data");
    if (auto t = legacy_target_of_link(member(member(&body, "links"), "self"))) {
        shape.target = std::move(*t);
    } else if (auto u = legacy_target_of_link(member(member(data, "links"), "self"))) {
        shape.target = std::move(*u);
    } else if (const auto id = id_in_file_name(file_name); !id.empty()) {
        shape.target = "/api/v3/sigma_analyses/" + id;
    } else {
        return std::nullopt;
    }

    // data.id only names the file on the single-object routes; on the rules routes data is a list of rules.
    if (const auto* id = member(data, "id"); id && id->is_string() && is_sha256(id->get_string())) {
        shape.sha256 = lower(id->get_string());
    } else if (const auto route = parse_route(shape.target); route && is_sha256(route->id)) {
        // The rules routes name the analysis, which is the file's SHA-256, only in their links.
        shape.sha256 = lower(route->id);
    } else if (const auto named = id_in_file_name(file_name); is_sha256(named)) {
        shape.sha256 = named;
    }
    return shape;
}

unsigned recorded_status(const boost::json::value& body) {
    const auto* o = body.if_object();
    const auto* error = o ? o->if_contains("error") : nullptr;
    if (!error || !error->is_object()) return 200;
    const auto* code = error->get_object().if_contains("code");
    return sigma_analysis::status_of_error_code(code && code->is_string() ? std::string_view(code->get_string())
                                                                          : std::string_view());
}

} // namespace shim::compare
