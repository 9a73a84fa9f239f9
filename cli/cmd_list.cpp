#include "app.h"
#include "exit_codes.h"
#include "prometheus.h"
#include "util/parse.h"

namespace tbucket::cli {

namespace {

struct ListOptions {
    std::string pattern = "*";
    std::string format;  // "", "text", "json" or "prometheus"
    bool scan = false;
};

// Buckets deleted between SCAN and the read are simply gone; a key under
// the prefix that is not a bucket (SCAN sees every type) is named in a
// warning, once. Neither fails a listing.
// Names found gone are dropped from the index of names (an idle expiry
// leaves them there).
std::vector<StateOrError> buckets_only(Context& ctx, const std::vector<std::string>& names,
                                       std::vector<StateOrError> results) {
    std::vector<std::string> gone;
    for (std::size_t i = 0; i < results.size(); ++i) {
        const Error* e = std::get_if<Error>(&results[i]);
        if (e && e->kind() == ErrorKind::not_found) gone.push_back(names[i]);
    }
    if (!gone.empty()) ctx.client().unlist(gone);
    std::erase_if(results, [&ctx](const StateOrError& r) {
        const Error* e = std::get_if<Error>(&r);
        if (e && e->kind() == ErrorKind::data) ctx.out.warning(e->what());
        return e && (e->kind() == ErrorKind::not_found || e->kind() == ErrorKind::data);
    });
    return results;
}

// Plain list: the names of the buckets; other errors reported, the first
// one's code returned.
int show_names(Context& ctx, const std::vector<StateOrError>& results) {
    int status = exit_ok;
    for (const StateOrError& result : results) {
        if (const State* state = std::get_if<State>(&result)) {
            ctx.out.name(state->name);
            continue;
        }
        const Error& error = std::get<Error>(result);
        int code = exit_code(error.kind());
        ctx.out.error(error, code);
        if (status == exit_ok) status = code;
    }
    return status;
}

// The names to read: a pattern without glob characters is one name, and
// reading it (info, one command) says whether it is there, where SCAN would
// walk the whole keyspace.
std::vector<std::string> candidates(Context& ctx, const std::string& pattern, bool scan) {
    if (is_glob_free(pattern) && !scan) return {pattern};
    return ctx.client().list(pattern, scan);
}

// Reads the buckets among `names`, one pipeline per batch, and hands each
// batch's buckets to `show`; returns the first failure's code.
template <typename Show>
int read_batches(Context& ctx, const std::vector<std::string>& names, Show show) {
    constexpr std::size_t batch = 500;
    int status = exit_ok;
    for (std::size_t i = 0; i < names.size(); i += batch) {
        std::vector<std::string> part(names.begin() + i,
                                      names.begin() + std::min(names.size(), i + batch));
        int code = show(buckets_only(ctx, part, ctx.client().info(part)));
        if (status == exit_ok) status = code;
    }
    return status;
}

// All buckets first, then one exposition: a metric family's samples must
// come together, across batches.
int show_prometheus(Context& ctx, const std::vector<std::string>& names) {
    std::vector<State> states;
    int status = read_batches(ctx, names, [&](const std::vector<StateOrError>& found) {
        std::vector<StateOrError> errors;
        for (const StateOrError& r : found) {
            if (const State* s = std::get_if<State>(&r))
                states.push_back(*s);
            else
                errors.push_back(r);
        }
        return show_names(ctx, errors);  // the errors only
    });
    ctx.out.block(prometheus_text(states, ctx.client().nodes().primaries().size() > 1));
    return status;
}

// Plain list reads each key too: only a read tells a bucket from another
// hash under the prefix, and the man page promises names of buckets.
int run(Context& ctx, const ListOptions& o) {
    std::string pattern = parse_pattern(o.pattern);
    std::vector<std::string> names = candidates(ctx, pattern, o.scan);
    if (!o.format.empty() && o.format != "prometheus") ctx.out.set_json(o.format == "json");
    if (o.format == "prometheus") return show_prometheus(ctx, names);
    return read_batches(ctx, names, [&](const std::vector<StateOrError>& found) {
        return ctx.out.json() ? show_states(ctx, found, false) : show_names(ctx, found);
    });
}

}  // namespace

Subcommand setup_list(CLI::App& app) {
    auto o = std::make_shared<ListOptions>();
    CLI::App* cmd = app.add_subcommand(
        "list", "Names of buckets matching a glob (from the index of names, never KEYS)");
    cmd->add_option("PATTERN", o->pattern, "glob over bucket names")
        ->type_name("")
        ->capture_default_str();
    cmd->add_flag("--scan", o->scan,
                  "find buckets with SCAN, not the index of names, and add them to it");
    cmd->add_option("--format", o->format, "text, json or prometheus (metrics for a scraper)")
        ->check(CLI::IsMember({"text", "json", "prometheus"}))
        ->type_name("FORMAT");
    return {cmd, [o](Context& ctx) { return run(ctx, *o); }};
}

}  // namespace tbucket::cli
