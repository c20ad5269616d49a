#pragma once
// Parsing an upstream document into a DOM of only the members the transform reads (issue 15).
//
// File objects and behaviour pages run from hundreds of KB to many MB, and the transform reads a few of their
// attributes. The pruned parse validates the whole input as Boost.JSON's own parser does (same errors, same
// depth limit) but builds values only for the members a keep tree names: everything else is skipped as it is
// read, its strings and numbers never stored.
#include <boost/json/error.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

namespace sigma_analysis {

struct KeepTree;

// A member of an object that is kept: whole (`filter` null) or filtered by `filter`.
struct KeepMember {
    std::string_view key;
    const KeepTree* filter = nullptr;
};

// What is kept of a value at one place of a document. At an object, the members listed are kept (whole or
// filtered) and every other is dropped. Arrays are transparent: every element is kept, each filtered by the
// tree of the array's place, so lengths and item kinds stay as they were. Any other value is kept as it is.
struct KeepTree {
    std::span<const KeepMember> members;
    const KeepMember* find(std::string_view key) const;
    std::size_t longest_key() const;
};

// File answers, enveloped ({"data": FILE, ...}) or bare: what input.cpp's find_file_object and describe, and
// extract, read of them. Not for Form::embedded, which writes the whole File object back.
extern const KeepTree keep_file_document;
// Behaviour answers: a list page {"data": [...], "meta": {"cursor"}}, one object enveloped or bare, or a bare
// array: what find_behaviour_objects, describe, extract and the page walk (meta.cursor) read of them.
extern const KeepTree keep_behaviour_page;
// File answers, read only for data.attributes.{sha256, md5, sha1} (the cache's hash aliases).
extern const KeepTree keep_file_hashes;

// A pruned parse fed in pieces: write() each chunk in order, then finish(), then release() the value.
// After an error every call fails again with the same error; error() says what and offset() where: the number
// of bytes, counted from the start of the input, before the place where parsing stopped. White space may
// follow the value; anything else is error::extra_data at its first byte.
//
// Boost.JSON places a few errors (a broken literal or \u escape) differently when the bad token is cut
// between two writes; a caller that needs the place a one-shot parse gives must parse the whole input in one
// write.
class PrunedParser {
public:
    // The value is built in `storage` (a monotonic_resource suits it: the value is freed all at once).
    PrunedParser(const KeepTree& keep, boost::json::storage_ptr storage);
    ~PrunedParser();
    PrunedParser(const PrunedParser&) = delete;
    PrunedParser& operator=(const PrunedParser&) = delete;

    bool write(std::string_view chunk);
    bool finish();
    // The pruned value; only after finish() returned true.
    boost::json::value release();

    const boost::json::error_code& error() const;
    std::size_t offset() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct PrunedDocument {
    boost::json::value value; // null on error
    boost::json::error_code error;
    std::size_t offset = 0; // where parsing stopped, on error
};

// The whole input in one write, so errors are placed exactly as boost::json::parse places them. The value
// lives in a monotonic_resource of its own.
PrunedDocument parse_pruned(std::string_view bytes, const KeepTree& keep);

} // namespace sigma_analysis
