#include "replay/replay_catalog.hpp"

#include "sigma_analysis/errors.hpp"
#include "sigma_analysis/file_id.hpp"
#include "upstream/record_layout.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>
#include <stdexcept>

namespace shim::replay {
namespace {

namespace json = boost::json;

constexpr std::string_view files_dir = "files/";
constexpr std::string_view json_suffix = ".json";

// files/ABC.json -> "abc" (the name a File object is stored under).
std::string stored_name(std::string_view path) {
    auto name = path.substr(files_dir.size());
    if (name.ends_with(json_suffix)) name.remove_suffix(json_suffix.size());
    return sigma_analysis::to_lower_ascii(name);
}

bool is_sha256(std::string_view s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
           });
}

// The object itself: data of {"data": {...}}, or the whole value when stored without envelope.
const json::object* file_object(const json::value& doc) {
    const auto* top = doc.if_object();
    if (!top) return nullptr;
    if (const auto* data = top->if_contains("data"); data && data->is_object()) return &data->get_object();
    return top;
}

// The hashes: the object's attributes, or the object itself when it holds them at the top.
const json::object* file_attributes(const json::object& object) {
    if (const auto* a = object.if_contains("attributes"); a && a->is_object()) return &a->get_object();
    return &object;
}

std::string string_member(const json::object* o, std::string_view key) {
    if (!o) return {};
    const auto* v = o->if_contains(key);
    return v && v->is_string() ? sigma_analysis::to_lower_ascii(v->get_string()) : std::string();
}

// An id that can stand in a path segment as is (the stored hashes are user data).
bool plain(std::string_view id) {
    return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
               c == '_';
    });
}

// The path comes from the request: echo only a short, printable-ASCII rendering of it (the body stays valid
// JSON).
std::pair<unsigned, std::string> not_found(std::string_view path) {
    constexpr std::size_t shown = 200;
    std::string safe;
    for (char c : path.substr(0, shown))
        safe.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    if (path.size() > shown) safe += "...";
    return {404, sigma_analysis::error_body("NotFoundError",
                                            "\"" + safe + "\" is not among the replayed objects")};
}

} // namespace

void ReplayCatalog::add(std::string_view relative_path, std::string json_text) {
    std::string path = sigma_analysis::to_lower_ascii(relative_path);
    if (!path.starts_with(files_dir)) {
        objects_[std::move(path)] = std::move(json_text);
        return;
    }

    boost::system::error_code ec;
    const json::value doc = json::parse(json_text, ec);
    if (ec) {
        throw std::runtime_error("the File object " + std::string(relative_path) +
                                 " is not JSON: " + ec.message());
    }
    FileEntry entry;
    const std::string name = stored_name(path);
    const auto* object = file_object(doc);
    const auto* attributes = object ? file_attributes(*object) : nullptr;
    for (const char* key : {"md5", "sha1", "sha256"}) {
        if (auto hash = string_member(attributes, key); !hash.empty())
            entry.aliases.push_back(std::move(hash));
    }
    entry.aliases.push_back(name);
    std::sort(entry.aliases.begin(), entry.aliases.end());
    entry.aliases.erase(std::unique(entry.aliases.begin(), entry.aliases.end()), entry.aliases.end());

    entry.sha256 = string_member(attributes, "sha256");
    if (entry.sha256.empty()) {
        if (auto id = string_member(object, "id"); is_sha256(id))
            entry.sha256 = std::move(id);
        else
            entry.sha256 = name;
    }

    const bool replaced = files_.contains(path);
    objects_[path] = std::move(json_text);
    if (replaced) {
        files_[path] = std::move(entry);
        reindex_aliases();
        return;
    }
    // Where two stored objects claim the same hash, the one with the smaller path answers, whatever the order
    // of add.
    for (const auto& alias : entry.aliases) {
        auto [it, inserted] = alias_.try_emplace(alias, path);
        if (!inserted && path < it->second) it->second = path;
    }
    files_.emplace(std::move(path), std::move(entry));
}

void ReplayCatalog::reindex_aliases() {
    alias_.clear();
    for (const auto& [path, entry] : files_) { // in path order: the first claim of a hash stays
        for (const auto& alias : entry.aliases)
            alias_.try_emplace(alias, path);
    }
}

const ReplayCatalog::FileEntry* ReplayCatalog::find_file(const std::string& id, std::string* path) const {
    std::string p = std::string(files_dir) + id + std::string(json_suffix);
    auto it = files_.find(p);
    if (it == files_.end()) {
        const auto alias = alias_.find(id);
        if (alias == alias_.end()) return nullptr;
        it = files_.find(alias->second);
        if (it == files_.end()) return nullptr;
    }
    if (path) *path = it->first;
    return &it->second;
}

std::pair<unsigned, std::string> ReplayCatalog::answer(std::string_view target) const {
    const auto url = boost::urls::parse_origin_form(target);
    if (!url) return not_found(target.substr(0, target.find('?')));
    const std::string_view shown = url->encoded_path();
    std::vector<std::string> seg;
    for (const auto& s : url->segments())
        seg.push_back(s);
    if (seg.size() < 4 || seg[0] != "api" || seg[1] != "v3" || seg[3].empty()) return not_found(shown);
    const std::string id = sigma_analysis::to_lower_ascii(seg[3]);

    if (seg[2] == "sigma_rules" && seg.size() == 4) {
        if (const auto it = objects_.find("sigma_rules/" + id + std::string(json_suffix));
            it != objects_.end()) {
            return {200, it->second};
        }
        return not_found(shown);
    }
    if (seg[2] != "files") return not_found(shown);

    if (seg.size() == 4) {
        std::string path;
        if (find_file(id, &path)) return {200, objects_.find(path)->second};
        return not_found(shown);
    }
    if (seg.size() != 5 || seg[4] != "behaviours") return not_found(shown);

    auto stored_page = [&](const std::string& as_id) -> const std::string* {
        if (!plain(as_id)) return nullptr;
        std::string t = "/api/v3/files/" + as_id + "/behaviours";
        if (url->has_query()) t += "?" + std::string(url->encoded_query());
        const std::string p = upstream::record_path_for(t);
        if (p.empty()) return nullptr;
        const auto it = objects_.find(p);
        return it == objects_.end() ? nullptr : &it->second;
    };
    if (const auto* page = stored_page(id)) return {200, *page};
    const FileEntry* file = find_file(id);
    if (file) {
        for (const auto& alias : file->aliases) {
            if (alias == id) continue;
            if (const auto* page = stored_page(alias)) return {200, *page};
        }
    }
    bool has_cursor = false;
    for (const auto& p : url->params())
        has_cursor = has_cursor || (p.key == "cursor" && !p.value.empty());
    if (file && !has_cursor) {
        return {200, R"({"data":[],"links":{"self":"https://www.virustotal.com/api/v3/files/)" +
                         file->sha256 + R"(/behaviours"},"meta":{"count":0}})"};
    }
    return not_found(shown);
}

} // namespace shim::replay
