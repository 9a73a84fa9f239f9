#include "app.h"
#include "exit_codes.h"
#include "parse.h"

namespace tbucket::cli {
namespace {

struct TakeOptions {
    std::string name;
    std::string count = "1";
    bool partial = false;
    SettingsText settings;
};

int run(Context& ctx, const TakeOptions& o) {
    std::string name = parse_name(o.name);
    int64_t n = parse_count("count", o.count);
    std::optional<Settings> settings = parse_settings(o.settings);
    TakeResult result = ctx.client().take(name, n, o.partial, settings);
    ctx.out.took(result, 0);
    return result.ok() ? exit_ok : ctx.denied_exit(exit_denied);
}

}  // namespace

Subcommand setup_take(CLI::App& app) {
    auto o = std::make_shared<TakeOptions>();
    CLI::App* cmd = app.add_subcommand("take", "Take N tokens at once, or none (exit 1)");
    cmd->add_option("name", o->name, "bucket name")->required();
    cmd->add_option("count", o->count, "tokens to take")->capture_default_str();
    cmd->add_flag("--partial", o->partial, "take as many whole tokens as there are, up to N");
    add_settings_options(cmd, o->settings, false);
    return {cmd, [o](Context& ctx) { return run(ctx, *o); }};
}

}  // namespace tbucket::cli
