#pragma once
// The legacy answers (contract 1 and 2), written straight to bytes with keys in byte order.
#include "sigma_analysis/analysis.hpp"
#include "sigma_analysis/rule_fields.hpp"

#include <boost/json/value.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sigma_analysis {

// The legacy shapes, one per route of contract section 1.
enum class Form {
    object,            // GET /api/v3/sigma_analyses/{id}
    relationship,      // GET /api/v3/files/{id}/sigma_analysis
    descriptor,        // GET /api/v3/files/{id}/relationships/sigma_analysis
    embedded,          // GET /api/v3/files/{id}?relationships=sigma_analysis
    rules,             // GET /api/v3/sigma_analyses/{id}/rules
    rules_descriptors, // GET /api/v3/sigma_analyses/{id}/relationships/rules
};

std::optional<Form> parse_form(std::string_view name);
std::string_view form_name(Form form);
bool needs_rule_objects(Form form); // the form embeds sigma_rule objects

// A window on a list route, as VirusTotal's `limit` and `cursor` give it.
struct Page {
    std::size_t offset = 0;
    std::size_t limit = 10;
};

// The cursor is the offset of the next item in decimal: opaque to clients, as VirusTotal's are.
std::optional<std::size_t> parse_cursor(std::string_view cursor);

// What the embedded form puts under the File object's relationships.sigma_analysis.
enum class Embedded {
    descriptor,           // ?relationships=sigma_analysis: {"data", "links"}
    descriptor_and_count, // the same with relationship_counters=true: {"data", "links", "meta": {"count"}}
    count,                // relationship_counters=true without it: {"meta": {"count"}}, as VirusTotal gives
                          // every other relationship's counter
};

struct RenderContext {
    std::string_view public_base = "https://www.virustotal.com";
    std::string_view request_id;        // the id as the client sent it, lower-cased; used in links.self
    std::optional<Page> page;           // list routes: the window asked for; none gives every item
    const RuleCatalog* rules = nullptr; // Form::rules: the sigma_rule objects by id
    const boost::json::value* file_document = nullptr; // Form::embedded: the upstream File answer as it came
    Embedded embedded = Embedded::descriptor;          // Form::embedded: what it adds
    // When set, a 200 answer's text is handed to it in pieces as it is written (between rule matches), and
    // Answer::body holds only the rest: a large answer is then never whole in memory.
    std::function<void(std::string_view)> sink = {};
};

struct Answer {
    unsigned status = 200;
    std::string body;
    bool partial = false; // X-Sigma-Shim-Fidelity: partial
};

// Renders `analysis` in `form`. A file without Sigma data gives the NotFoundError answer or "data": null, as
// contract section 1 says for each form. Rendering may note missing rule objects in the analysis diagnostics.
Answer render(Form form, Analysis& analysis, const RenderContext& ctx);

} // namespace sigma_analysis
