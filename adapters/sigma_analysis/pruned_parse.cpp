#include "sigma_analysis/pruned_parse.hpp"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value_stack.hpp>
#include <string>
#include <vector>

namespace sigma_analysis {
namespace {

namespace json = boost::json;

// The keep trees: every member input.cpp, extract.cpp and the page walk read, and no other. The sigma_*
// members are kept whole: the transform reads most of what is in them, and they are what the answer is made
// of.

constexpr KeepMember file_attribute_members[] = {
    {"last_analysis_date", nullptr},     {"last_modification_date", nullptr},
    {"sigma_analysis_results", nullptr}, {"sigma_analysis_stats", nullptr},
    {"sigma_analysis_summary", nullptr},
};
constexpr KeepTree file_attributes{file_attribute_members};

// "error" is read only as present or not (describe), "type" and "id" to recognise the object.
constexpr KeepMember file_members[] = {
    {"attributes", &file_attributes},
    {"error", nullptr},
    {"id", nullptr},
    {"type", nullptr},
};
constexpr KeepTree file_object{file_members};

// The root is an envelope when it has "data" and no "attributes" (input.cpp's payload), so it keeps both.
constexpr KeepMember file_document_members[] = {
    {"attributes", &file_attributes},
    {"data", &file_object},
    {"error", nullptr},
    {"id", nullptr},
    {"type", nullptr},
};

constexpr KeepMember behaviour_attribute_members[] = {
    {"analysis_date", nullptr},
    {"last_modification_date", nullptr},
    {"sigma_analysis_results", nullptr},
};
constexpr KeepTree behaviour_attributes{behaviour_attribute_members};

// A behaviour's "id" is not read: only File objects and sigma_rule objects are recognised by theirs.
constexpr KeepMember behaviour_members[] = {
    {"attributes", &behaviour_attributes},
    {"error", nullptr},
    {"type", nullptr},
};
constexpr KeepTree behaviour_object{behaviour_members};

constexpr KeepMember meta_members[] = {{"cursor", nullptr}};
constexpr KeepTree page_meta{meta_members};

constexpr KeepMember behaviour_page_members[] = {
    {"attributes", &behaviour_attributes},
    {"data", &behaviour_object},
    {"error", nullptr},
    {"meta", &page_meta},
    {"type", nullptr},
};

constexpr KeepMember hash_members[] = {{"md5", nullptr}, {"sha1", nullptr}, {"sha256", nullptr}};
constexpr KeepTree hashes{hash_members};
constexpr KeepMember hashes_data_members[] = {{"attributes", &hashes}};
constexpr KeepTree hashes_data{hashes_data_members};
constexpr KeepMember hashes_document_members[] = {{"data", &hashes_data}};

// Receives basic_parser's events and forwards to a value_stack only those of kept values, so the value built
// is exactly what json::parse builds with the dropped members taken out (duplicate keys included: the same
// value_stack settles them).
class Handler {
public:
    // The limits of Boost.JSON's own handler, so that the same inputs are refused.
    static constexpr std::size_t max_object_size = json::object::max_size();
    static constexpr std::size_t max_array_size = json::array::max_size();
    static constexpr std::size_t max_key_size = json::string::max_size();
    static constexpr std::size_t max_string_size = json::string::max_size();

    Handler(const KeepTree& keep, json::storage_ptr storage) : root_(&keep) {
        stack_.reset(std::move(storage));
    }

    json::value release() { return stack_.release(); }

    bool on_document_begin(json::error_code&) { return true; }
    bool on_document_end(json::error_code&) { return true; }

    bool on_object_begin(json::error_code&) { return begin(false); }
    bool on_object_end(std::size_t, json::error_code&) {
        if (skipping_) return end_skipped();
        stack_.push_object(close());
        return counted();
    }
    bool on_array_begin(json::error_code&) { return begin(true); }
    bool on_array_end(std::size_t, json::error_code&) {
        if (skipping_) return end_skipped();
        stack_.push_array(close());
        return counted();
    }

    bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
        if (skipping_) return true;
        if (!frames_.back().filter) {
            stack_.push_chars(s);
            return true;
        }
        collect_key(s);
        return true;
    }
    bool on_key(json::string_view s, std::size_t, json::error_code&) {
        if (skipping_) return true;
        const KeepTree* filter = frames_.back().filter;
        if (!filter) {
            stack_.push_key(s);
            return true;
        }
        std::string_view key(s.data(), s.size());
        if (!key_.empty() || key_too_long_) {
            collect_key(s);
            key = key_;
        }
        const KeepMember* member = key_too_long_ ? nullptr : filter->find(key);
        if (member) {
            stack_.push_key(key);
            member_ = member->filter ? Place{Mode::filtered, member->filter} : Place{Mode::whole, nullptr};
        } else {
            member_ = Place{Mode::drop, nullptr};
        }
        key_.clear();
        key_too_long_ = false;
        return true;
    }

    bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
        if (kept()) stack_.push_chars(s);
        return true;
    }
    bool on_string(json::string_view s, std::size_t, json::error_code&) {
        if (!kept()) return true;
        stack_.push_string(s);
        return counted();
    }
    bool on_number_part(json::string_view, json::error_code&) { return true; }
    bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
        if (!kept()) return true;
        stack_.push_int64(i);
        return counted();
    }
    bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
        if (!kept()) return true;
        stack_.push_uint64(u);
        return counted();
    }
    bool on_double(double d, json::string_view, json::error_code&) {
        if (!kept()) return true;
        stack_.push_double(d);
        return counted();
    }
    bool on_bool(bool b, json::error_code&) {
        if (!kept()) return true;
        stack_.push_bool(b);
        return counted();
    }
    bool on_null(json::error_code&) {
        if (!kept()) return true;
        stack_.push_null();
        return counted();
    }
    bool on_comment_part(json::string_view, json::error_code&) { return true; }
    bool on_comment(json::string_view, json::error_code&) { return true; }

private:
    enum class Mode { drop, whole, filtered };
    struct Place {
        Mode mode;
        const KeepTree* filter;
    };
    // An open container being kept. Dropped containers have no frame: `skipping_` counts their depth.
    struct Frame {
        const KeepTree* filter; // null: kept whole
        bool array;
        std::size_t kept; // members or elements pushed so far
    };

    // What becomes of the value that starts now.
    Place place() const {
        if (frames_.empty()) return {Mode::filtered, root_};
        const Frame& f = frames_.back();
        if (!f.filter) return {Mode::whole, nullptr};
        if (f.array) return {Mode::filtered, f.filter};
        return member_; // set by the member's key
    }

    bool kept() const { return !skipping_ && place().mode != Mode::drop; }

    bool begin(bool array) {
        if (skipping_) {
            ++skipping_;
            return true;
        }
        const Place p = place();
        if (p.mode == Mode::drop) {
            skipping_ = 1;
            return true;
        }
        frames_.push_back({p.mode == Mode::whole ? nullptr : p.filter, array, 0});
        return true;
    }

    bool end_skipped() {
        --skipping_;
        return true;
    }

    std::size_t close() {
        const std::size_t n = frames_.back().kept;
        frames_.pop_back();
        return n;
    }

    bool counted() {
        if (!frames_.empty()) ++frames_.back().kept;
        return true;
    }

    // A key of a filtered object that came in parts: kept only while it may still be one of the tree's keys.
    void collect_key(json::string_view s) {
        if (key_too_long_) return;
        if (key_.size() + s.size() > frames_.back().filter->longest_key()) {
            key_too_long_ = true;
            key_.clear();
            return;
        }
        key_.append(s.data(), s.size());
    }

    const KeepTree* root_;
    json::value_stack stack_;
    std::vector<Frame> frames_; // no deeper than the parser's max_depth
    std::size_t skipping_ = 0;  // depth inside a dropped container
    Place member_{Mode::drop, nullptr};
    std::string key_;
    bool key_too_long_ = false;
};

bool is_white_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

} // namespace

const KeepMember* KeepTree::find(std::string_view key) const {
    for (const auto& m : members) {
        if (m.key == key) return &m;
    }
    return nullptr;
}

std::size_t KeepTree::longest_key() const {
    std::size_t n = 0;
    for (const auto& m : members)
        n = std::max(n, m.key.size());
    return n;
}

const KeepTree keep_file_document{file_document_members};
const KeepTree keep_behaviour_page{behaviour_page_members};
const KeepTree keep_file_hashes{hashes_document_members};

struct PrunedParser::Impl {
    Impl(const KeepTree& keep, json::storage_ptr storage)
        : parser(json::parse_options{}, keep, std::move(storage)) {}

    bool fail(json::error_code ec, std::size_t at) {
        error = ec;
        offset = at;
        return false;
    }

    json::basic_parser<Handler> parser;
    json::error_code error;
    std::size_t offset = 0;
    std::size_t written = 0; // bytes before the current chunk
    bool complete = false;   // the value ended inside a chunk: the parser takes no more bytes
    bool finished = false;
};

PrunedParser::PrunedParser(const KeepTree& keep, json::storage_ptr storage)
    : impl_(std::make_unique<Impl>(keep, std::move(storage))) {}

PrunedParser::~PrunedParser() = default;

bool PrunedParser::write(std::string_view chunk) {
    auto& d = *impl_;
    if (d.error) return false;
    std::size_t n = 0;
    if (!d.complete && !d.finished) {
        json::error_code ec;
        n = d.parser.write_some(true, chunk.data(), chunk.size(), ec);
        if (ec) return d.fail(ec, d.written + n);
        // write_some stops after one complete value; from then on only white space may come.
        d.complete = n < chunk.size();
    }
    const auto garbage =
        std::find_if_not(chunk.begin() + static_cast<std::ptrdiff_t>(n), chunk.end(), is_white_space);
    if (garbage != chunk.end()) {
        return d.fail(json::make_error_code(json::error::extra_data),
                      d.written + static_cast<std::size_t>(garbage - chunk.begin()));
    }
    d.written += chunk.size();
    return true;
}

bool PrunedParser::finish() {
    auto& d = *impl_;
    if (d.error) return false;
    if (!d.complete && !d.finished) {
        json::error_code ec;
        d.parser.write_some(false, nullptr, 0, ec);
        if (ec) return d.fail(ec, d.written);
    }
    d.finished = true;
    return true;
}

json::value PrunedParser::release() {
    auto& d = *impl_;
    if (d.error || !d.finished || !d.parser.done()) return nullptr;
    return d.parser.handler().release();
}

const json::error_code& PrunedParser::error() const {
    return impl_->error;
}

std::size_t PrunedParser::offset() const {
    return impl_->offset;
}

PrunedDocument parse_pruned(std::string_view bytes, const KeepTree& keep) {
    PrunedParser parser(keep, json::make_shared_resource<json::monotonic_resource>());
    if (!parser.write(bytes) || !parser.finish()) return {nullptr, parser.error(), parser.offset()};
    return {parser.release(), {}, 0};
}

} // namespace sigma_analysis
