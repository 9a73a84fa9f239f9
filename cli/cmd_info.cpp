#include "app.h"
#include "exit_codes.h"
#include "prometheus.h"
#include "util/parse.h"

namespace tbucket::cli {
namespace {

struct InfoOptions {
    std::vector<std::string> names;
    std::string format;  // "", "text", "json" or "prometheus"
};

// Shows each state; reports each error; exits with the first error's code.
int show_each(Context& ctx, const std::vector<StateOrError>& results,
              void (Output::*show)(const State&), std::string_view command) {
    std::vector<State> states;
    for (const StateOrError& result : results) {
        if (const State* state = std::get_if<State>(&result)) states.push_back(*state);
    }
    ctx.out.align(states);
    int status = exit_ok;
    for (const StateOrError& result : results) {
        if (const State* state = std::get_if<State>(&result)) {
            (ctx.out.*show)(*state);
            continue;
        }
        Error error = bucket_hint(std::get<Error>(result), command);
        int code = exit_code(error.kind());
        ctx.out.error(error, code);
        if (status == exit_ok) status = code;
    }
    return status;
}

// The buckets as one exposition; each missing one reported as info does.
int show_prometheus(Context& ctx, const std::vector<StateOrError>& results) {
    std::vector<State> states;
    std::vector<StateOrError> errors;
    for (const StateOrError& r : results) {
        if (const State* s = std::get_if<State>(&r))
            states.push_back(*s);
        else
            errors.push_back(r);
    }
    ctx.out.block(prometheus_text(states, ctx.client().nodes().primaries().size() > 1));
    return show_each(ctx, errors, &Output::state, "info");
}

int run(Context& ctx, const InfoOptions& o) {
    std::vector<std::string> names = parse_names(o.names);
    std::vector<StateOrError> results = ctx.client().info(names);
    if (!o.format.empty() && o.format != "prometheus") ctx.out.set_json(o.format == "json");
    if (o.format == "prometheus") return show_prometheus(ctx, results);
    return show_each(ctx, results, &Output::state, "info");
}

}  // namespace

int show_states(Context& ctx, const std::vector<StateOrError>& results, bool deleted) {
    return show_each(ctx, results, deleted ? &Output::deleted : &Output::state,
                     deleted ? "delete" : "info");
}

Subcommand setup_info(CLI::App& app) {
    auto o = std::make_shared<InfoOptions>();
    CLI::App* cmd =
        app.add_subcommand("info", "Show buckets' state (refill applied, nothing written)");
    cmd->add_option("NAME", o->names, "bucket names, each also a list NAME,NAME,...")
        ->required()
        ->type_name("");
    cmd->add_option("--format", o->format, "text, json or prometheus (metrics for a scraper)")
        ->check(CLI::IsMember({"text", "json", "prometheus"}))
        ->type_name("FORMAT");
    return {cmd, [o](Context& ctx) { return run(ctx, *o); }};
}

}  // namespace tbucket::cli
