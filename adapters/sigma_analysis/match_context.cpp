#include "sigma_analysis/match_context.hpp"

#include "sigma_analysis/json_writer.hpp"

#include <algorithm>

namespace sigma_analysis {
namespace {

void append_pairs(std::string& out, const std::vector<const boost::json::key_value_pair*>& pairs) {
    bool first = true;
    for (const auto* kv : pairs) {
        if (!first) out.append(", ");
        first = false;
        out.push_back('$');
        out.append(kv->key());
        out.append(": '");
        if (const auto* s = kv->value().if_string())
            out.append(*s);
        else
            json_out::append_value(out, kv->value(), json_out::KeyOrder::as_given);
        out.push_back('\'');
    }
}

std::size_t size_of(const boost::json::key_value_pair& kv) {
    const auto* s = kv.value().if_string();
    return kv.key().size() + (s ? s->size() : 16) + 7; // `$K: 'V', `
}

} // namespace

void append_match_context(std::string& out, const boost::json::object& values,
                          const std::vector<std::string>* only,
                          std::vector<const boost::json::key_value_pair*>& scratch, FieldOrder order) {
    scratch.clear();
    std::size_t size = 0;
    if (only && order == FieldOrder::listed) {
        // The listed keys are few and have no repeats (a calibration's): looked up, not searched for.
        for (const auto& field : *only) {
            const auto it = values.find(field);
            if (it == values.end()) continue;
            scratch.push_back(&*it);
            size += size_of(*it);
        }
    } else {
        for (const auto& kv : values) {
            if (only && !std::binary_search(only->begin(), only->end(), kv.key())) continue;
            scratch.push_back(&kv);
            size += size_of(kv);
        }
        std::sort(scratch.begin(), scratch.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
    }
    out.reserve(out.size() + size);
    append_pairs(out, scratch);
}

} // namespace sigma_analysis
