#include "sigma_analysis/match_context.hpp"

#include "sigma_analysis/json_writer.hpp"

#include <algorithm>

namespace sigma_analysis {

void append_match_context(std::string& out, const boost::json::object& values,
                          const std::vector<std::string>* only,
                          std::vector<const boost::json::key_value_pair*>& scratch) {
    scratch.clear();
    std::size_t size = 0;
    for (const auto& kv : values) {
        if (only && !std::binary_search(only->begin(), only->end(), kv.key())) continue;
        scratch.push_back(&kv);
        const auto* s = kv.value().if_string();
        size += kv.key().size() + (s ? s->size() : 16) + 7; // `$K: 'V', `
    }
    std::sort(scratch.begin(), scratch.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
    out.reserve(out.size() + size);

    bool first = true;
    for (const auto* kv : scratch) {
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

} // namespace sigma_analysis
