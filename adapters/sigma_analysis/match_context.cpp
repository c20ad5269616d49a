#include "sigma_analysis/match_context.hpp"

#include "sigma_analysis/json_writer.hpp"

#include <algorithm>

namespace sigma_analysis {

void append_match_context(std::string& out, const boost::json::object& values,
                          const std::vector<std::string>* only) {
    std::vector<const boost::json::key_value_pair*> chosen;
    chosen.reserve(values.size());
    for (const auto& kv : values) {
        if (!only || std::binary_search(only->begin(), only->end(), kv.key())) chosen.push_back(&kv);
    }
    std::sort(chosen.begin(), chosen.end(), [](auto* a, auto* b) { return a->key() < b->key(); });

    bool first = true;
    for (const auto* kv : chosen) {
        if (!first) out.append(", ");
        first = false;
        out.push_back('$');
        out.append(kv->key());
        out.append(": '");
        if (const auto* s = kv->value().if_string()) out.append(*s);
        else json_out::append_value(out, kv->value(), json_out::KeyOrder::as_given);
        out.push_back('\'');
    }
}

} // namespace sigma_analysis
