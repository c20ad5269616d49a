#pragma once
// What the in-process upstream (`--upstream demo`, `--upstream dir:DIR`) answers: a set of stored VirusTotal
// objects in the record layout (shim/upstream/record_layout.hpp) and the rules for finding them by request
// target. Pure: no sockets, so every rule is one call in the unit tests.
//
//   GET /api/v3/files/{id}                  the File object; {id} is any of its md5/sha1/sha256 (from
//                                           data.attributes, or the object's own attributes when stored
//                                           without envelope) or the name it is stored under, any case. A
//                                           query is ignored.
//   GET /api/v3/files/{id}/behaviours[?cursor=C]
//                                           behaviours/{id}[.cursor-{hex}].json for {id} as requested
//                                           (lower-cased), else for any alias of the file; without a stored
//                                           first page, an existing file answers an empty list. Otherwise
//                                           404.
//   GET /api/v3/sigma_rules/{id}            the stored object (a query is ignored).
//   anything else                           404 NotFoundError.
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shim::replay {

class ReplayCatalog {
public:
    // Stores `json` (kept byte for byte) under `relative_path` (files/..., behaviours/..., sigma_rules/...;
    // compared case-insensitively). A File object must be JSON: throws std::runtime_error otherwise. Other
    // objects are not parsed. Adding a path again replaces the earlier object.
    void add(std::string_view relative_path, std::string json);

    // {status, body} for an origin-form target (path and query) of a GET request.
    std::pair<unsigned, std::string> answer(std::string_view target) const;

    std::size_t size() const { return objects_.size(); }

private:
    struct FileEntry {
        std::string sha256;               // for the empty behaviour list's self link
        std::vector<std::string> aliases; // md5, sha1, sha256, the stored name: lower case, no duplicates
    };

    const FileEntry* find_file(const std::string& id, std::string* path = nullptr) const;
    void reindex_aliases();

    std::map<std::string, std::string, std::less<>> objects_; // lower-cased relative path -> JSON text
    std::map<std::string, FileEntry, std::less<>> files_;     // lower-cased files/ path -> its keys
    std::map<std::string, std::string, std::less<>> alias_;   // lower-cased hash -> files/ path
};

} // namespace shim::replay
