#pragma once
// The field names a Sigma rule's detection names, for the `rule-fields` match-context mode (contract 3.3).
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sigma_analysis {

// `EventID` plus the keys of the JSON objects in attributes.detection.details (each detail is an object, a
// list, or a string holding JSON text, as VirusTotal serves it), with any `|modifier` suffix dropped; sorted
// in byte order, without repeats. Empty optional when the rule has no usable detection.
std::optional<std::vector<std::string>> detection_fields(const boost::json::object& rule);

// sigma_rule objects by rule id. Borrows the objects; they must outlive the catalog.
class RuleCatalog {
public:
    void add(const boost::json::object& rule); // ignored without a string "id"
    const boost::json::object* find(std::string_view rule_id) const;
    std::size_t size() const { return rules_.size(); }

private:
    std::unordered_map<std::string_view, const boost::json::object*> rules_;
};

} // namespace sigma_analysis
