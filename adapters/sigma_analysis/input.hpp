#pragma once
// Recognising the upstream documents the transform reads: a File object, File behaviour objects (a list page,
// a single object, with or without the {"data": ...} envelope) and sigma_rule objects.
#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace sigma_analysis {

// Either the recognised object or a sentence saying what was found instead.
template <typename T>
struct Recognised {
    T value{};
    std::string error; // empty when recognised
    explicit operator bool() const { return error.empty(); }
};

// The File object inside `doc` (enveloped or bare). It must be an object of "type": "file" with a string
// "id".
Recognised<const boost::json::object*> find_file_object(const boost::json::value& doc);

// The File behaviour objects inside `doc`: a list page {"data": [...]}, {"data": {...}} or a bare object.
// Items of a page that are not objects with an "attributes" object are left out and counted in `skipped`.
struct BehaviourObjects {
    std::vector<const boost::json::object*> objects;
    std::size_t skipped = 0;
};
Recognised<BehaviourObjects> find_behaviour_objects(const boost::json::value& doc);

// The cursor of the next page of a list page (its meta.cursor); empty on the last page or when it has none.
std::string next_cursor(const boost::json::value& page);

// The sigma_rule objects inside `doc`: {"data": {...}}, a bare object, or a list {"data": [...]}.
Recognised<std::vector<const boost::json::object*>> find_rule_objects(const boost::json::value& doc);

// A short description of a JSON value for error messages: `an array`, `an object of type "file_behaviour"`.
// "null", "a boolean", "a number", "a string", "an array" or "an object": for messages that say what a value
// is instead of what it should be.
const char* kind_name(const boost::json::value& v);
std::string describe(const boost::json::value& v);

} // namespace sigma_analysis
