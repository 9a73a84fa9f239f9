#include "app.h"
#include "exit_codes.h"
#include "util/parse.h"

namespace tbucket::cli {
namespace {

struct CreateOptions {
    std::string name;
    SettingsText settings;
    std::string tokens;
    bool update = false;
    bool replace = false;
};

int run(Context& ctx, const CreateOptions& o) {
    std::string name = parse_name(o.name);
    Settings settings = *parse_settings(o.settings);
    std::optional<int64_t> tokens;
    if (!o.tokens.empty()) {
        tokens = parse_count("--tokens", o.tokens, true);
        if (*tokens > settings.capacity) {
            throw Error(ErrorKind::usage,
                        "--tokens " + o.tokens + " is above --capacity " + o.settings.capacity);
        }
    }
    CreateMode mode = o.update    ? CreateMode::update
                      : o.replace ? CreateMode::replace
                                  : CreateMode::ensure;
    ctx.out.created(ctx.client().create(name, settings, tokens, mode));
    return exit_ok;
}

}  // namespace

Subcommand setup_create(CLI::App& app) {
    auto o = std::make_shared<CreateOptions>();
    CLI::App* cmd = app.add_subcommand("create", "Ensure a bucket exists with these settings");
    cmd->add_option("NAME", o->name, "bucket name")->required()->type_name("");
    add_settings_options(cmd, o->settings, true);
    cmd->add_option("--tokens", o->tokens, "starting level, 0..capacity (default: full)")
        ->type_name("N");
    CLI::Option* update = cmd->add_flag(
        "--update", o->update, "change the settings of an existing bucket, keeping its level");
    cmd->add_flag("--replace", o->replace, "replace an existing bucket with a fresh one")
        ->excludes(update);
    return {cmd, [o](Context& ctx) { return run(ctx, *o); }};
}

}  // namespace tbucket::cli
