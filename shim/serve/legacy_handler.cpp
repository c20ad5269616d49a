#include "serve/legacy_handler.hpp"

#include "sigma_analysis/errors.hpp"
#include "sigma_analysis/extract.hpp"
#include "sigma_analysis/file_id.hpp"
#include "sigma_analysis/input.hpp"
#include "sigma_analysis/pruned_parse.hpp"
#include "sigma_analysis/render.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <deque>

namespace shim::serve {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace sa = sigma_analysis;
using namespace asio::experimental::awaitable_operators;
using upstream::Failure;
using upstream::UpstreamRequest;
using upstream::UpstreamResponse;

json::value parse_body(const std::string& body, json::error_code& ec) {
    return json::parse(body, ec, json::make_shared_resource<json::monotonic_resource>(body.size() + 1024));
}

// Only the members the transform reads are built; the rest of the body is validated and skipped.
json::value parse_body(const std::string& body, const sa::KeepTree& keep, json::error_code& ec) {
    auto doc = sa::parse_pruned(body, keep);
    ec = doc.error;
    return std::move(doc.value);
}

std::string behaviours_target(const std::string& file_target_path, const std::string& cursor) {
    std::string t = file_target_path + "/behaviours";
    if (!cursor.empty()) t += "?cursor=" + boost::urls::encode(cursor, boost::urls::unreserved_chars);
    return t;
}

} // namespace

asio::awaitable<HttpAnswer> LegacyHandler::handle(const LegacyRequest& request) {
    const Route& route = request.route;
    if (!sa::is_file_id(route.id)) {
        HttpAnswer a = error_answer("InvalidArgumentError", "");
        a.body = sa::invalid_file_id_body(route.id);
        co_return labelled(std::move(a), route);
    }
    if (!route.error.empty()) co_return labelled(error_answer("InvalidArgumentError", route.error), route);
    // Kept with its labels, as it is to be sent again.
    if (auto kept = memo_.find(request.api_key, request.target)) co_return std::move(*kept);

    Reconstruction r = co_await reconstruct(request);
    HttpAnswer answer = labelled(std::move(r.answer), route);
    if (r.keep_until) {
        HttpAnswer again = answer;
        again.set("X-Sigma-Shim-Cache", std::string(upstream::cache_status_name(upstream::CacheStatus::hit)));
        memo_.keep(request.api_key, request.target, again, r.sources, *r.keep_until);
    }
    co_return answer;
}

HttpAnswer LegacyHandler::labelled(HttpAnswer answer, const Route& route) {
    // An error the shim made itself keeps its `local`.
    if (!answer.has("X-Sigma-Shim")) answer.set("X-Sigma-Shim", "reconstructed");
    // A File object with its counters is no deprecated route: it is the successor itself.
    if (route.embedded != sa::Embedded::count) answer.set("Deprecation", "true");
    return answer;
}

asio::awaitable<void> LegacyHandler::fetch_sources(const LegacyRequest& request, LegacySources& out) {
    const Route& route = request.route;
    const std::string file_path = "/api/v3/files/" + sa::to_lower_ascii(route.id);
    auto fetch = [&](const std::string& target) {
        return upstream_.get(UpstreamRequest{target, request.api_key, request.request_id, request.client});
    };
    auto note_cache = [&](const UpstreamResponse& r) {
        out.worst = std::max(out.worst, r.cache);
        if (r.cache == upstream::CacheStatus::miss || r.cache == upstream::CacheStatus::stale) ++out.calls;
        ++out.sources;
        if (!r.fresh_until)
            out.keepable = false;
        else if (!out.fresh_until || *r.fresh_until < *out.fresh_until)
            out.fresh_until = r.fresh_until;
    };
    auto fail = [&](const UpstreamResponse& r, std::string_view what) {
        HttpAnswer a = upstream_error(r, what);
        a.upstream_calls = out.calls;
        a.set("X-Sigma-Shim-Cache", std::string(upstream::cache_status_name(out.worst)));
        out.failure = std::move(a);
    };
    auto fail_unreadable = [&](const UpstreamResponse& r, std::string_view what, std::string detail) {
        UpstreamResponse broken = r;
        broken.failure = Failure::transient;
        broken.failure_detail = std::move(detail);
        fail(broken, what);
    };

    // The File object and the first behaviour page at the same time; for a counter, the File object first,
    // since it alone most often settles the count.
    const bool count_only = route.embedded == sa::Embedded::count;
    UpstreamResponse file_response, first_page;
    if (config_.behaviour_pages > 0 && !count_only) {
        // Named arguments, no temporaries: GCC 12 mishandles temporaries inside a co_await expression.
        const std::string first_page_target = behaviours_target(file_path, {});
        std::tie(file_response, first_page) = co_await (fetch(route.file_target) && fetch(first_page_target));
    } else {
        file_response = co_await fetch(route.file_target);
    }
    note_cache(file_response);
    if (config_.behaviour_pages > 0 && !count_only) note_cache(first_page);
    if (file_response.failure != Failure::none || file_response.status != 200) {
        fail(file_response, "file");
        co_return;
    }
    json::error_code ec;
    // The embedded form writes the whole File object back; every other form reads a few of its members.
    out.file_doc = route.form == sa::Form::embedded
                       ? parse_body(file_response.body, ec)
                       : parse_body(file_response.body, sa::keep_file_document, ec);
    const auto file =
        ec ? sa::Recognised<const json::object*>{nullptr, "not JSON"} : sa::find_file_object(out.file_doc);
    if (!file) {
        fail_unreadable(file_response, "file", "the File answer is not a File object: " + file.error);
        co_return;
    }
    out.file = file.value;

    unsigned behaviour_pages = config_.behaviour_pages;
    if (count_only && behaviour_pages > 0) {
        // Behaviours can only add to what the File object has (contract 3.1): when it has Sigma data, the
        // count is 1 without them, and they cost quota. Only a File object without any are they fetched for.
        if (sa::extract({*out.file, {}, nullptr, sa::ContextMode::all}).present) {
            behaviour_pages = 0;
        } else {
            const std::string first_page_target = behaviours_target(file_path, {});
            first_page = co_await fetch(first_page_target);
            note_cache(first_page);
        }
    }

    // Behaviour pages, by cursor, up to the cap.
    UpstreamResponse page_response = std::move(first_page);
    for (unsigned n = 0; n < behaviour_pages; ++n) {
        if (page_response.failure != Failure::none || page_response.status != 200) {
            fail(page_response, "behaviours");
            co_return;
        }
        // Behaviour objects are never written back, whatever the form.
        const auto& page =
            out.pages.emplace_back(parse_body(page_response.body, sa::keep_behaviour_page, ec));
        auto found =
            ec ? sa::Recognised<sa::BehaviourObjects>{{}, "not JSON"} : sa::find_behaviour_objects(page);
        if (!found) {
            fail_unreadable(page_response, "behaviours",
                            "the behaviour answer is not a list of behaviours: " + found.error);
            co_return;
        }
        out.behaviours.insert(out.behaviours.end(), found.value.objects.begin(), found.value.objects.end());
        out.skipped_items += found.value.skipped;
        const std::string cursor = sa::next_cursor(page);
        if (cursor.empty()) break;
        if (n + 1 == behaviour_pages) {
            out.truncated = true;
            break;
        }
        const std::string next_target = behaviours_target(file_path, cursor);
        page_response = co_await fetch(next_target);
        note_cache(page_response);
    }

    // sigma_rule objects, when the form or the match-context mode needs them; a rule that cannot be had
    // makes the answer partial, not failed. A calibration's rules need none for their contexts.
    const bool calibrated = config_.match_context == sa::ContextMode::calibrated;
    const bool fields_from_rules =
        config_.match_context == sa::ContextMode::rule_fields ||
        (calibrated && config_.match_context_fallback == sa::ContextMode::rule_fields);
    const bool rules_written = sa::needs_rule_objects(route.form);
    if (count_only || !(rules_written || fields_from_rules)) co_return;
    auto ids = sa::distinct_rule_ids(*out.file, out.behaviours);
    if (calibrated && !rules_written)
        std::erase_if(ids, [&](std::string_view id) { return config_.calibration->find(id) != nullptr; });
    std::vector<UpstreamResponse> responses(ids.size());
    std::size_t next = 0;
    auto worker = [&]() -> asio::awaitable<void> {
        while (next < ids.size()) {
            const std::size_t i = next++;
            const std::string target = "/api/v3/sigma_rules/" + std::string(ids[i]);
            responses[i] = co_await fetch(target);
        }
    };
    const auto executor = co_await asio::this_coro::executor;
    using Op = decltype(asio::co_spawn(executor, worker(), asio::deferred));
    std::vector<Op> workers;
    const std::size_t n = std::min<std::size_t>(config_.rule_fetch_concurrency, ids.size());
    for (std::size_t i = 0; i < n; ++i)
        workers.push_back(asio::co_spawn(executor, worker(), asio::deferred));
    if (!workers.empty()) {
        auto group = asio::experimental::make_parallel_group(std::move(workers));
        co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    }
    for (const auto& r : responses) {
        note_cache(r);
        if (r.failure != Failure::none || r.status != 200) continue;
        const auto& doc = out.rule_docs.emplace_back(parse_body(r.body, ec));
        if (ec) continue;
        if (const auto found = sa::find_rule_objects(doc)) {
            for (const auto* rule : found.value)
                out.rules.add(*rule);
        }
    }
}

asio::awaitable<LegacyHandler::Reconstruction> LegacyHandler::reconstruct(const LegacyRequest& request) {
    const Route& route = request.route;
    LegacySources in;
    co_await fetch_sources(request, in);
    if (in.failure) co_return Reconstruction{std::move(*in.failure), std::nullopt, 0};

    auto analysis = sa::extract({*in.file, in.behaviours, &in.rules, config_.match_context,
                                 config_.calibration.get(), config_.match_context_fallback});
    analysis.diagnostics.skipped += in.skipped_items;
    if (const auto& d = analysis.diagnostics; d.calibrated_matches || d.fallback_matches) {
        metrics_.inc("sigma_shim_calibrated_contexts_total", {"calibrated"}, double(d.calibrated_matches));
        metrics_.inc("sigma_shim_calibrated_contexts_total", {"fallback"}, double(d.fallback_matches));
    }
    analysis.diagnostics.behaviours_truncated = in.truncated;
    const std::string id = sa::to_lower_ascii(route.id);
    auto rendered = sa::render(
        route.form, analysis, {config_.public_base, id, route.page, &in.rules, &in.file_doc, route.embedded});

    HttpAnswer a;
    a.status = rendered.status;
    a.body = std::move(rendered.body);
    a.upstream_calls = in.calls;
    a.note = analysis.diagnostics.summary();
    a.set("Content-Type", "application/json; charset=utf-8");
    if (route.embedded != sa::Embedded::count) {
        a.set("Link", "<" + config_.public_base + "/api/v3/files/" + std::string(analysis.sha256) +
                          ">; rel=\"successor-version\"");
    }
    a.set("X-Sigma-Shim-Fidelity", rendered.partial ? "partial" : "full");
    // Why, in the log's words (e.g. "uncalibrated_rules=2"): a client deciding whether to trust the answer
    // needs more than the one word.
    if (rendered.partial && !a.note.empty()) a.set("X-Sigma-Shim-Fidelity-Reason", a.note);
    a.set("X-Sigma-Shim-Cache", std::string(upstream::cache_status_name(in.worst)));
    if (in.keepable && in.fresh_until) co_return Reconstruction{std::move(a), in.fresh_until, in.sources};
    co_return Reconstruction{std::move(a), std::nullopt, 0};
}

} // namespace shim::serve
