#pragma once
// Explaining one legacy match-context string by today's events (issue 16): which of a rule's events, and
// which ordered list of that event's keys, written as contract 3.3 writes them (`$K: 'V'` joined by ", ", the
// keys in the listed order), gives back the legacy string byte for byte.
//
// The string cannot simply be split: values are written verbatim, so a value may itself hold "', $" or look
// like a further pair. Instead each event is tried as it is: at each position, every key of the event not yet
// used whose whole pair `$K: 'V'` is there and is followed by ", $" or by the end; a dead end backtracks. So
// a reading only ever uses values an event really has.
#include <boost/json/object.hpp>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shim::calibrate {

// One event (a match context's `values` map) as contract 3.3 writes it: each key with its text, a string
// verbatim, any other value as its compact JSON text (the project's JSON writer: 4672, true, null, {"a":1}).
struct EventText {
    std::vector<std::pair<std::string, std::string>> pairs = {}; // in the order of `values`
};

EventText event_text(const boost::json::object& values);

enum class Outcome {
    explained,   // some event reproduces the string
    empty,       // the legacy string is "": it names no field, whatever the events (nothing to learn)
    unexplained, // no event reproduces it
};

using FieldList = std::vector<std::string>;

struct Explanation {
    Outcome outcome = Outcome::unexplained;
    // Every distinct field list that some event reproduces the string with, in preference order (see
    // prefer_selection); non-empty exactly when explained.
    std::vector<FieldList> selections = {};
    // The search stopped at a limit (steps per event, or 16 readings; only keys built to nest inside each
    // other's pairs get there): the string may have readings not listed. With no selection it counts as
    // unexplained; it is never guessed.
    bool gave_up = false;
};

// The order in which two field lists that explain the same bytes are preferred: more fields first, then the
// lists in byte order, field by field. More fields, because a shorter list explains the same bytes only when
// one of its values happens to contain another field's whole `', $K: 'V` text, a coincidence the longer
// reading does not need. Byte order only makes the choice not depend on the order events came in.
bool prefer_selection(const FieldList& a, const FieldList& b);

// Tries every event; an empty `legacy` is Outcome::empty.
Explanation explain(std::string_view legacy, std::span<const EventText> events);

} // namespace shim::calibrate
