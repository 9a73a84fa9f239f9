#include "app.h"
#include "exit_codes.h"
#include "parse.h"

namespace tbucket::cli {

namespace {

struct ListOptions {
    std::string pattern = "*";
};

// Buckets deleted between SCAN and the read are simply gone; a key under
// the prefix that is not a bucket (SCAN sees every type) is named in a
// warning, once. Neither fails a listing.
std::vector<StateOrError> buckets_only(Context& ctx, std::vector<StateOrError> results) {
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

// Plain list reads each key too: only a read tells a bucket from another
// hash under the prefix, and the man page promises names of buckets.
int run(Context& ctx, const ListOptions& o) {
    std::string pattern = parse_pattern(o.pattern);
    std::vector<std::string> names = ctx.client().list(pattern);
    constexpr std::size_t batch = 500;  // one pipeline per batch
    int status = exit_ok;
    for (std::size_t i = 0; i < names.size(); i += batch) {
        std::vector<std::string> part(names.begin() + i,
                                      names.begin() + std::min(names.size(), i + batch));
        std::vector<StateOrError> found = buckets_only(ctx, ctx.client().info(part));
        int code = ctx.out.json() ? show_states(ctx, found, false) : show_names(ctx, found);
        if (status == exit_ok) status = code;
    }
    return status;
}

}  // namespace

Subcommand setup_list(CLI::App& app) {
    auto o = std::make_shared<ListOptions>();
    CLI::App* cmd =
        app.add_subcommand("list", "Names of buckets matching a glob (SCAN, never KEYS)");
    cmd->add_option("PATTERN", o->pattern, "glob over bucket names")
        ->type_name("")
        ->capture_default_str();
    return {cmd, [o](Context& ctx) { return run(ctx, *o); }};
}

}  // namespace tbucket::cli
