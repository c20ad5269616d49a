#include "sigma_analysis/render.hpp"

#include "sigma_analysis/errors.hpp"
#include "sigma_analysis/input.hpp"
#include "sigma_analysis/json_writer.hpp"
#include "sigma_analysis/match_context.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

namespace sigma_analysis {
namespace {

namespace json = boost::json;
using json_out::append_int;
using json_out::append_key;
using json_out::append_string;

void append_stats(std::string& out, const Stats& s) {
    out += "{\"critical\":";
    append_int(out, s.critical);
    out += ",\"high\":";
    append_int(out, s.high);
    out += ",\"low\":";
    append_int(out, s.low);
    out += ",\"medium\":";
    append_int(out, s.medium);
    out += '}';
}

// Writes each match's context string (3.3) when its match is written, reusing one buffer for all of them.
class ContextWriter {
public:
    void append(std::string& out, const Match& m) {
        text_.clear();
        if (m.context_values) {
            append_match_context(text_, *m.context_values, m.context_fields.get(), pairs_,
                                 m.context_fields_listed ? FieldOrder::listed : FieldOrder::byte);
        }
        append_string(out, text_);
    }

private:
    std::string text_;
    std::vector<const json::key_value_pair*> pairs_;
};

// Hands the text written so far to ctx.sink, at item boundaries, once there is enough of it: an answer with a
// sink is never whole in memory.
constexpr std::size_t sink_chunk = 64 * 1024;

void drain(std::string& out, const RenderContext& ctx) {
    if (!ctx.sink || out.size() < sink_chunk) return;
    ctx.sink(out);
    out.clear();
}

void append_match(std::string& out, const Match& m, ContextWriter& contexts) {
    out += "{\"match_context\":";
    contexts.append(out, m);
    if (m.rule_author) {
        out += ",\"rule_author\":";
        append_string(out, *m.rule_author);
    }
    out += ",\"rule_description\":";
    append_string(out, m.rule_description);
    out += ",\"rule_id\":";
    append_string(out, m.rule_id);
    out += ",\"rule_level\":";
    append_string(out, m.rule_level);
    out += ",\"rule_source\":";
    append_string(out, m.rule_source);
    out += ",\"rule_title\":";
    append_string(out, m.rule_title);
    out += '}';
}

// Links are built from parts that are either configuration or validated ids: no escaping is needed beyond
// JSON's.
std::string link(std::string_view base, std::string_view path) {
    std::string s(base);
    s += path;
    return s;
}

void append_object(std::string& out, const Analysis& a, const RenderContext& ctx) {
    out.reserve(out.size() + (ctx.sink ? sink_chunk : a.matches.size() * 512) + 512);
    ContextWriter contexts;

    out += "{\"attributes\":{\"analysis_date\":";
    append_int(out, a.analysis_date);
    out += ",\"last_modification_date\":";
    append_int(out, a.last_modification_date);
    out += ",\"rule_matches\":[";
    for (std::size_t i = 0; i < a.matches.size(); ++i) {
        if (i) out += ',';
        append_match(out, a.matches[i], contexts);
        drain(out, ctx);
    }
    out += "],\"severity_stats\":";
    append_stats(out, a.severity_stats);
    out += ",\"source_severity_stats\":{";
    bool first = true;
    for (const auto& [source, stats] : a.source_severity_stats) {
        if (!first) out += ',';
        first = false;
        append_key(out, source);
        append_stats(out, stats);
    }
    out += "}},\"id\":";
    append_string(out, a.sha256);
    out += ",\"links\":{\"self\":";
    append_string(out, link(ctx.public_base, "/api/v3/sigma_analyses/" + std::string(a.sha256)));
    out += "},\"type\":\"sigma_analysis\"}";
}

// {"data": {"id", "type"} | null, "links": {"related", "self"}}: the body of a to-one relationship.
void append_relationship_body(std::string& out, const Analysis& a, const RenderContext& ctx) {
    const std::string files = "/api/v3/files/" + std::string(ctx.request_id);
    out += "\"data\":";
    if (a.present) {
        out += "{\"id\":";
        append_string(out, a.sha256);
        out += ",\"type\":\"sigma_analysis\"}";
    } else {
        out += "null";
    }
    out += ",\"links\":{\"related\":";
    append_string(out, link(ctx.public_base, files + "/sigma_analysis"));
    out += ",\"self\":";
    append_string(out, link(ctx.public_base, files + "/relationships/sigma_analysis"));
    out += '}';
}

// The File object with data.relationships.sigma_analysis set, everything else in the order it came.
void append_file_with_relationship(std::string& out, const json::object& file, const Analysis& a,
                                   const RenderContext& ctx) {
    // Keys in byte order, as in the descriptor route: data, links, meta.
    auto append_relationship = [&] {
        out += "\"sigma_analysis\":{";
        if (ctx.embedded != Embedded::count) append_relationship_body(out, a, ctx);
        if (ctx.embedded != Embedded::descriptor) {
            if (ctx.embedded != Embedded::count) out += ',';
            out += a.present ? "\"meta\":{\"count\":1}" : "\"meta\":{\"count\":0}";
        }
        out += '}';
    };
    out += '{';
    bool first = true;
    bool injected = false;
    for (const auto& kv : file) {
        if (!first) out += ',';
        first = false;
        append_key(out, kv.key());
        if (kv.key() != "relationships") {
            json_out::append_value(out, kv.value(), json_out::KeyOrder::as_given);
            continue;
        }
        // A "relationships" that is not an object (null, say) is replaced: one key, never two.
        out += '{';
        if (const auto* relationships = kv.value().if_object()) {
            for (const auto& rel : *relationships) {
                if (rel.key() == "sigma_analysis") continue;
                append_key(out, rel.key());
                json_out::append_value(out, rel.value(), json_out::KeyOrder::as_given);
                out += ',';
            }
        }
        append_relationship();
        out += '}';
        injected = true;
    }
    if (!injected) {
        if (!first) out += ',';
        out += "\"relationships\":{";
        append_relationship();
        out += '}';
    }
    out += '}';
}

Answer render_embedded(const Analysis& a, const RenderContext& ctx) {
    const auto file = ctx.file_document ? find_file_object(*ctx.file_document)
                                        : Recognised<const json::object*>{nullptr, "no File document"};
    if (!file) return {500, error_body("InternalError", "embedded form without a File object"), false};
    std::string out;
    out.reserve(64 * 1024);
    const auto* envelope = ctx.file_document->if_object();
    if (envelope && file.value != envelope) {
        // Keep the answer's other members (links, meta) around the File object.
        out += '{';
        bool first = true;
        for (const auto& kv : *envelope) {
            if (!first) out += ',';
            first = false;
            append_key(out, kv.key());
            if (kv.value().if_object() == file.value)
                append_file_with_relationship(out, *file.value, a, ctx);
            else
                json_out::append_value(out, kv.value(), json_out::KeyOrder::as_given);
        }
        out += '}';
    } else {
        out += "{\"data\":";
        append_file_with_relationship(out, *file.value, a, ctx);
        out += '}';
    }
    // A count says only whether an analysis exists: it is in doubt only when it says none and some input
    // went unread.
    const bool partial = ctx.embedded == Embedded::count
                             ? !a.present && (a.diagnostics.behaviours_truncated || a.diagnostics.skipped > 0)
                             : a.diagnostics.partial();
    return {200, std::move(out), partial};
}

// A sigma_rule object with its keys in byte order and "context_attributes": {"match": ...} set.
void append_rule_with_match(std::string& out, const json::object& rule, const Match& m,
                            ContextWriter& contexts) {
    std::vector<const json::key_value_pair*> pairs;
    pairs.reserve(rule.size());
    for (const auto& kv : rule) {
        if (kv.key() != "context_attributes") pairs.push_back(&kv);
    }
    std::sort(pairs.begin(), pairs.end(), [](auto* x, auto* y) { return x->key() < y->key(); });
    const auto context_at =
        std::lower_bound(pairs.begin(), pairs.end(), std::string_view("context_attributes"),
                         [](auto* kv, std::string_view k) { return kv->key() < k; });
    out += '{';
    bool first = true;
    auto append_context = [&] {
        if (!first) out += ',';
        first = false;
        out += "\"context_attributes\":{\"match\":";
        contexts.append(out, m);
        out += '}';
    };
    for (auto it = pairs.begin(); it != pairs.end(); ++it) {
        if (it == context_at) append_context();
        if (!first) out += ',';
        first = false;
        append_key(out, (*it)->key());
        json_out::append_value(out, (*it)->value(), json_out::KeyOrder::sorted);
    }
    if (context_at == pairs.end()) append_context();
    out += '}';
}

// Stands in for a sigma_rule object that could not be had: what the match itself says of the rule.
void append_rule_from_match(std::string& out, const Match& m, std::string_view base,
                            ContextWriter& contexts) {
    out += "{\"attributes\":{";
    if (m.rule_author) {
        out += "\"author\":";
        append_string(out, *m.rule_author);
        out += ',';
    }
    out += "\"description\":";
    append_string(out, m.rule_description);
    out += ",\"level\":";
    append_string(out, m.rule_level);
    out += ",\"source\":";
    append_string(out, m.rule_source);
    out += ",\"title\":";
    append_string(out, m.rule_title);
    out += "},\"context_attributes\":{\"match\":";
    contexts.append(out, m);
    out += "},\"id\":";
    append_string(out, m.rule_id);
    out += ",\"links\":{\"self\":";
    append_string(out, link(base, "/api/v3/sigma_rules/" + std::string(m.rule_id)));
    out += "},\"type\":\"sigma_rule\"}";
}

void append_rule_descriptor(std::string& out, const Match& m, ContextWriter& contexts) {
    out += "{\"context_attributes\":{\"match\":";
    contexts.append(out, m);
    out += "},\"id\":";
    append_string(out, m.rule_id);
    out += ",\"type\":\"sigma_rule\"}";
}

std::string page_query(std::size_t offset, std::size_t limit) {
    std::string q = "?";
    if (offset) q += "cursor=" + std::to_string(offset) + "&";
    q += "limit=" + std::to_string(limit);
    return q;
}

Answer render_rules(Analysis& a, const RenderContext& ctx, bool descriptors) {
    const std::size_t total = a.matches.size();
    const std::size_t begin = ctx.page ? std::min(ctx.page->offset, total) : 0;
    const std::size_t end = ctx.page ? begin + std::min(ctx.page->limit, total - begin) : total;

    std::string out = "{\"data\":[";
    ContextWriter contexts;
    for (std::size_t i = begin; i < end; ++i) {
        if (i != begin) out += ',';
        const Match& m = a.matches[i];
        if (descriptors) {
            append_rule_descriptor(out, m, contexts);
        } else if (const auto* rule = ctx.rules ? ctx.rules->find(m.rule_id) : nullptr) {
            append_rule_with_match(out, *rule, m, contexts);
        } else {
            ++a.diagnostics.missing_rule_objects;
            append_rule_from_match(out, m, ctx.public_base, contexts);
        }
        drain(out, ctx);
    }
    const std::string analyses = "/api/v3/sigma_analyses/" + std::string(ctx.request_id);
    const std::string path = analyses + (descriptors ? "/relationships/rules" : "/rules");
    const bool more = ctx.page && end < total;
    out += "],\"links\":{";
    if (more) {
        out += "\"next\":";
        append_string(out, link(ctx.public_base, path + page_query(end, ctx.page->limit)));
        out += ',';
    }
    if (descriptors) {
        out += "\"related\":";
        append_string(out, link(ctx.public_base, analyses + "/rules"));
        out += ',';
    }
    out += "\"self\":";
    append_string(out, link(ctx.public_base, path + (ctx.page ? page_query(begin, ctx.page->limit) : "")));
    out += "},\"meta\":{\"count\":";
    append_int(out, static_cast<std::int64_t>(total));
    if (more) {
        out += ",\"cursor\":";
        append_string(out, std::to_string(end));
    }
    out += "}}";
    return {200, std::move(out), a.diagnostics.partial()};
}

} // namespace

std::optional<Form> parse_form(std::string_view name) {
    for (auto f : {Form::object, Form::relationship, Form::descriptor, Form::embedded, Form::rules,
                   Form::rules_descriptors}) {
        if (form_name(f) == name) return f;
    }
    return std::nullopt;
}

std::string_view form_name(Form form) {
    switch (form) {
    case Form::object:
        return "object";
    case Form::relationship:
        return "relationship";
    case Form::descriptor:
        return "descriptor";
    case Form::embedded:
        return "embedded";
    case Form::rules:
        return "rules";
    case Form::rules_descriptors:
        return "rules-descriptors";
    }
    return {};
}

bool needs_rule_objects(Form form) {
    return form == Form::rules;
}

std::optional<std::size_t> parse_cursor(std::string_view cursor) {
    std::size_t offset = 0;
    const auto res = std::from_chars(cursor.data(), cursor.data() + cursor.size(), offset);
    if (res.ec != std::errc{} || res.ptr != cursor.data() + cursor.size()) return std::nullopt;
    return offset;
}

Answer render(Form form, Analysis& a, const RenderContext& ctx) {
    const bool has_null_form = form == Form::descriptor || form == Form::embedded;
    if (!a.present && !has_null_form) return {404, sigma_not_found_body(ctx.request_id), false};

    switch (form) {
    case Form::object: {
        std::string out = "{\"data\":";
        append_object(out, a, ctx);
        out += '}';
        return {200, std::move(out), a.diagnostics.partial()};
    }
    case Form::relationship: {
        std::string out = "{\"data\":";
        append_object(out, a, ctx);
        out += ",\"links\":{\"self\":";
        append_string(
            out, link(ctx.public_base, "/api/v3/files/" + std::string(ctx.request_id) + "/sigma_analysis"));
        out += "},\"meta\":{\"count\":1}}";
        return {200, std::move(out), a.diagnostics.partial()};
    }
    case Form::descriptor: {
        std::string out = "{";
        append_relationship_body(out, a, ctx);
        out += a.present ? ",\"meta\":{\"count\":1}}" : ",\"meta\":{\"count\":0}}";
        return {200, std::move(out), a.diagnostics.partial()};
    }
    case Form::embedded:
        return render_embedded(a, ctx);
    case Form::rules:
        return render_rules(a, ctx, false);
    case Form::rules_descriptors:
        return render_rules(a, ctx, true);
    }
    return {500, error_body("InternalError", "unknown form"), false};
}

} // namespace sigma_analysis
