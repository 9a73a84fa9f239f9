#include "app.h"
#include "exit_codes.h"
#include "util/parse.h"

namespace tbucket::cli {

namespace {

struct DeleteOptions {
    std::vector<std::string> names;
};

int run(Context& ctx, const DeleteOptions& o) {
    std::vector<std::string> names = parse_names(o.names);
    return show_states(ctx, ctx.client().remove(names), true);
}

}  // namespace

Subcommand setup_delete(CLI::App& app) {
    auto o = std::make_shared<DeleteOptions>();
    CLI::App* cmd = app.add_subcommand("delete", "Remove buckets; their waiters exit 3");
    cmd->add_option("NAME", o->names, "bucket names, each also a list NAME,NAME,...")
        ->required()
        ->type_name("");
    return {cmd, [o](Context& ctx) { return run(ctx, *o); }};
}

}  // namespace tbucket::cli
