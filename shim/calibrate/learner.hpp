#pragma once
// Learning a calibration (issue 16): which fields the legacy service wrote into each rule's match-context
// string, from a team's recorded legacy answers and today's objects of the same files. This is the API
// `sigma-shim calibrate` drives; pure (JSON values in, a Calibration and a Report out: no files, no clock).
//
//     shim::calibrate::Learner learner;
//     for (each recording) learner.add(name, legacy_answer, file_object, behaviour_pages);
//     auto [calibration, report] = learner.finish();
//     write_calibration(calibration); report_text(report); report_json(report);
//
// Each legacy match is explained (explain.hpp) by the events today's objects hold for its rule. Per rule,
// each distinct field list that explains matches has a support: the number of matches it explains. A match is
// counted once: when several field lists explain it (values that contain "', $" can make that happen), it
// goes to the one with the most support among the rule's matches that only one list explains, then to the
// first in prefer_selection order (more fields, then byte order). So a one-off coincidence follows the rule's
// evidence and does not turn into a conflict.
//
// The chosen selection of a rule is the one with the most support: the legacy service wrote one field list
// per rule, so the list most recordings show is the best estimate of it, and a minority one usually means a
// recording paired with the wrong objects or changed data. On equal support: more fields, because writing a
// field a legacy client does not read costs less than leaving out one it does, and it is the default `all`
// mode's side to err on; then the lists in byte order, field by field, so that the choice never depends on
// the order the recordings were added. The other selections are kept (most support first, same ties) and the
// rule is reported as a conflict.
//
// Nothing is guessed: a rule is learnt only from matches an event reproduces byte for byte. Matches no event
// explains, empty legacy strings and recordings that cannot be read are only reported.
#include "calibrate/explain.hpp"
#include "calibrate/report.hpp"
#include "sigma_analysis/calibration.hpp"

#include <boost/json/value.hpp>
#include <cstddef>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shim::calibrate {

struct Learnt {
    sigma_analysis::Calibration calibration = {};
    Report report = {};
};

class Learner {
public:
    // One recording: `legacy` is the recorded legacy answer's body (any form: legacy_matches.hpp); `file` the
    // File object of the same file as VirusTotal answers it today (enveloped or bare; null when there is
    // none, and then only the behaviours explain); `behaviours` its File behaviour pages or objects
    // (enveloped or bare), in upstream order. Returns false, with the reason in the report, when the
    // recording cannot be read: the legacy answer carries no matches, or `file` or a behaviour document is
    // not what it should be. Pairing a recording with the right objects is the caller's job.
    bool add(std::string_view recording, const boost::json::value& legacy, const boost::json::value& file,
             std::span<const boost::json::value> behaviours);

    // A recording the caller could not pair with objects (no file id in it or its name): counted, and listed
    // as unreadable with `reason`.
    void add_unpaired(std::string_view recording, std::string reason);

    // The calibration and the report of everything added so far; the learner can go on adding.
    Learnt finish() const;

private:
    struct RuleEvidence {
        std::map<FieldList, std::size_t> single; // matches only this list explains
        // Per match that several lists explain: those lists, preferred first.
        std::vector<std::vector<FieldList>> ambiguous;
    };

    void unreadable(std::string_view recording, std::string reason);

    std::map<std::string, RuleEvidence, std::less<>> rules_;
    Report report_; // the counts and the lists filled while adding; finish() adds rules and conflicts
};

} // namespace shim::calibrate
