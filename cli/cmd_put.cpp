#include "app.h"
#include "exit_codes.h"
#include "util/parse.h"

namespace tbucket::cli {
namespace {

struct PutOptions {
    std::string name;
    std::string count = "1";
    bool force = false;
    SettingsText settings;
};

int run(Context& ctx, const PutOptions& o) {
    std::string name = parse_name(o.name);
    int64_t n = parse_count("count", o.count);
    return put_now(ctx, name, n, o.force, settings_for(name, o.settings));
}

}  // namespace

int put_now(Context& ctx, const std::string& name, int64_t n, bool force,
            const std::optional<Settings>& settings) {
    ctx.out.put(ctx.client().put(name, n, force, settings));
    return exit_ok;
}

Subcommand setup_put(CLI::App& app) {
    auto o = std::make_shared<PutOptions>();
    CLI::App* cmd = app.add_subcommand("put", "Give N tokens back; what does not fit is overflow");
    cmd->add_option("NAME", o->name, "bucket name")->required()->type_name("");
    cmd->add_option("N", o->count, "tokens to give back")->type_name("")->capture_default_str();
    cmd->add_flag("--force", o->force, "let the level exceed capacity (a credit, used up first)");
    add_settings_options(cmd, o->settings, false);
    return {cmd, [o](Context& ctx) { return run(ctx, *o); }};
}

}  // namespace tbucket::cli
