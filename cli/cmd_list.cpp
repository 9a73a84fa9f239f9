#include "app.h"
#include "exit_codes.h"
#include "parse.h"

namespace tbucket::cli {

namespace {

struct ListOptions {
    std::string pattern = "*";
};

// Buckets deleted between SCAN and the read are simply gone; a key under
// the prefix that is not a bucket is named in a warning. Neither fails a
// listing, as plain `list` (names only) cannot see either.
std::vector<StateOrError> buckets_only(Context& ctx, std::vector<StateOrError> results) {
    std::erase_if(results, [&ctx](const StateOrError& r) {
        const Error* e = std::get_if<Error>(&r);
        if (e && e->kind() == ErrorKind::data) ctx.out.warning(e->what());
        return e && (e->kind() == ErrorKind::not_found || e->kind() == ErrorKind::data);
    });
    return results;
}

int run(Context& ctx, const ListOptions& o) {
    std::string pattern = parse_pattern(o.pattern);
    std::vector<std::string> names = ctx.client().list(pattern);
    if (!ctx.out.json()) {
        for (const std::string& name : names) ctx.out.name(name);
        return exit_ok;
    }
    constexpr std::size_t batch = 500;  // one pipeline per batch
    int status = exit_ok;
    for (std::size_t i = 0; i < names.size(); i += batch) {
        std::vector<std::string> part(names.begin() + i,
                                      names.begin() + std::min(names.size(), i + batch));
        int code = show_states(ctx, buckets_only(ctx, ctx.client().info(part)), false);
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
