#include "app.h"
#include "exit_codes.h"
#include "util/parse.h"

namespace tbucket::cli {
namespace {

struct ResetOptions {
    std::string name;
    std::string tokens;
};

int run(Context& ctx, const ResetOptions& o) {
    std::string name = parse_name(o.name);
    std::optional<int64_t> tokens;
    if (!o.tokens.empty()) tokens = parse_count("--tokens", o.tokens, true);
    State state = ctx.client().reset(name, tokens);
    ctx.out.reset(state);
    return exit_ok;
}

}  // namespace

Subcommand setup_reset(CLI::App& app) {
    auto o = std::make_shared<ResetOptions>();
    CLI::App* cmd = app.add_subcommand("reset", "Set a bucket's level (default: full)");
    cmd->add_option("NAME", o->name, "bucket name")->required()->type_name("");
    cmd->add_option("--tokens", o->tokens, "the new level, 0..capacity")->type_name("N");
    return {cmd, [o](Context& ctx) { return run(ctx, *o); }};
}

}  // namespace tbucket::cli
