#include "transform_support.hpp"

#include "cli/json_document.hpp"
#include "sigma_analysis/extract.hpp"
#include "sigma_analysis/input.hpp"
#include "sigma_analysis/json_writer.hpp"
#include "sigma_analysis/pruned_parse.hpp"
#include "sigma_analysis/render.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <deque>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace test_support {

namespace sa = sigma_analysis;
namespace json = boost::json;

namespace {

// The documents the analysis borrows from, parsed as convert parses them (pruned where it prunes).
class Documents {
public:
    const json::value& load(const std::string& path, const sa::KeepTree* keep = nullptr) {
        std::ostringstream err;
        auto doc = shim::cli::load_json_input(path, {}, "convert", err, keep);
        if (!doc) throw std::runtime_error(err.str());
        return docs_.emplace_back(std::move(*doc));
    }

private:
    std::deque<json::value> docs_; // stable addresses
};

template <typename T>
T recognised(sa::Recognised<T>&& r, const std::string& path) {
    if (!r) throw std::runtime_error(path + ": " + r.error);
    return std::move(r.value);
}

} // namespace

TransformResult run_transform(const TransformRun& run) {
    const auto form = sa::parse_form(run.form);
    if (!form) throw std::runtime_error("unknown form " + run.form);
    Documents docs;
    const auto& file_doc =
        docs.load(run.file, *form == sa::Form::embedded ? nullptr : &sa::keep_file_document);
    const auto* file = recognised(sa::find_file_object(file_doc), run.file);

    std::vector<const json::object*> behaviours;
    std::size_t skipped = 0;
    for (const auto& path : run.behaviours) {
        const auto& found =
            recognised(sa::find_behaviour_objects(docs.load(path, &sa::keep_behaviour_page)), path);
        behaviours.insert(behaviours.end(), found.objects.begin(), found.objects.end());
        skipped += found.skipped;
    }

    sa::RuleCatalog rules;
    if (!run.rules.empty()) {
        std::vector<std::filesystem::path> paths;
        for (const auto& entry : std::filesystem::directory_iterator(run.rules))
            if (entry.path().extension() == ".json") paths.push_back(entry.path());
        std::sort(paths.begin(), paths.end());
        for (const auto& path : paths)
            for (const auto* rule :
                 recognised(sa::find_rule_objects(docs.load(path.string())), path.string()))
                rules.add(*rule);
    }

    sa::ExtractInput input{*file, behaviours, &rules, run.mode};
    input.calibration = run.calibration;
    input.fallback = run.fallback;
    auto analysis = sa::extract(input);
    analysis.diagnostics.skipped += skipped;
    const std::string id(analysis.sha256);
    sa::RenderContext ctx;
    ctx.request_id = id;
    ctx.rules = &rules;
    ctx.file_document = &file_doc;
    auto answer = sa::render(*form, analysis, ctx);

    TransformResult r;
    r.out = std::move(answer.body) + "\n";
    r.partial = answer.partial;
    r.diagnostics = analysis.diagnostics;
    r.matches = analysis.matches.size();
    return r;
}

std::string transform_bytes_of(std::string_view json_text) {
    std::string out;
    sa::json_out::append_value(out, json::parse(json_text), sa::json_out::KeyOrder::sorted);
    return out + "\n";
}

} // namespace test_support
