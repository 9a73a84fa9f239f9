#include "app.h"
#include "exit_codes.h"
#include "util/name_list.h"
#include "util/parse.h"
#include "waiting.h"

namespace tbucket::cli {
namespace {

struct TakeOptions {
    std::string name;
    std::string count = "1";
    bool partial = false;
    bool fail_open = false;
    bool dry_run = false;
    SettingsText settings;
    CLI::Option* wait_option = nullptr;
    std::string wait;
};

int run(Context& ctx, const TakeOptions& o) {
    WaitSpec wait =
        parse_wait(o.wait_option->count() > 0, o.wait, "--wait", ctx.global.typed, "take", o.name);
    if (o.count == "all") {
        // Every whole token there is, credits above capacity too (the
        // original library's TakeAll).
        if (is_name_list(o.name))
            throw Error(ErrorKind::usage, "take all takes one bucket, not a list");
        if (wait.wait || o.wait_option->count() > 0)
            throw Error(ErrorKind::usage, "take all takes what is there now; it does not --wait");
        if (o.dry_run)
            throw Error(ErrorKind::usage, "take all --dry-run: info shows what is there");
        std::string one = parse_name(o.name);
        Target t{{{one, max_count}}, settings_for(one, o.settings)};
        return take_now(ctx, t, TakeMode::partial, {}, true);
    }
    Target target = parse_target(ctx, o.name, o.count, o.settings);
    if (o.partial && ctx.named_a_list)
        throw Error(ErrorKind::usage, "--partial takes one bucket, not a list");
    if (o.dry_run) {
        if (wait.wait || o.wait_option->count() > 0)
            throw Error(ErrorKind::usage, "--dry-run answers for now; it does not --wait");
        return dry_run(ctx, target, o.partial, ctx.denied_exit(exit_denied));
    }
    return failing_open(ctx, o.fail_open, "going on as if granted", [&] {
        return take_now(ctx, target, o.partial ? TakeMode::partial : TakeMode::all, wait);
    });
}

}  // namespace

int take_now(Context& ctx, const Target& target, TakeMode mode, const WaitSpec& wait, bool all) {
    MultiWaitResult r = take_target(ctx, target, wait, mode);
    ctx.commit(r.result);
    if (all) r.result.buckets.front().requested = r.result.buckets.front().taken;
    ctx.out.took(r.result, r.waited_ms, ctx.named_a_list);
    return r.result.ok() ? exit_ok : ctx.denied_exit(exit_denied);
}

Subcommand setup_take(CLI::App& app) {
    auto o = std::make_shared<TakeOptions>();
    CLI::App* cmd = app.add_subcommand("take", "Take N tokens at once, or none (exit 1)");
    cmd->add_option("NAME", o->name, "bucket name, or a list NAME[=N],... taken all or none")
        ->required()
        ->type_name("");
    cmd->add_option("N", o->count, "tokens to take, or 'all': every whole token there is")
        ->type_name("")
        ->capture_default_str();
    CLI::Option* partial =
        cmd->add_flag("--partial", o->partial, "take as many whole tokens as there are, up to N");
    o->wait_option = cmd->add_option("--wait", o->wait,
                                     "wait in line (first come, first served) until the tokens can "
                                     "be taken: forever, or up to DURATION (exit 124)")
                         ->expected(0, 1)
                         ->type_name("[DURATION]")
                         ->excludes(partial);
    add_fail_open_option(cmd, o->fail_open, "go on as if granted");
    cmd->add_flag("--dry-run", o->dry_run,
                  "would the tokens be granted now? exit 0 or 1; nothing taken, nothing counted");
    add_settings_options(cmd, o->settings, false);
    return {cmd, [o](Context& ctx) { return run(ctx, *o); }};
}

}  // namespace tbucket::cli
