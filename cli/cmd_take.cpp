#include "app.h"
#include "exit_codes.h"
#include "util/name_list.h"
#include "util/parse.h"
#include "wait/multi_wait.h"
#include "waiting.h"

namespace tbucket::cli {
namespace {

struct TakeOptions {
    std::string name;
    std::string count = "1";
    bool partial = false;
    SettingsText settings;
    CLI::Option* wait_option = nullptr;
    std::string wait;
};

// `take NAME all`: every whole token there is, credits above capacity too
// (the original library's TakeAll); `requested` then reports what was there.
int take_all(Context& ctx, const std::string& name, const std::optional<Settings>& settings) {
    ctx.signals();
    TakeResult result = ctx.client().take(name, max_count, TakeMode::partial, settings);
    ctx.commit(result);
    result.requested = result.taken;
    ctx.out.took(result, 0);
    return result.ok() ? exit_ok : ctx.denied_exit(exit_denied);
}

// take NAME[=N],...: all or none (SPEC §11). Inline create would have to
// guess which buckets it is for: refused.
int run_many(Context& ctx, const TakeOptions& o) {
    if (o.count == "all") throw Error(ErrorKind::usage, "take all takes one bucket, not a list");
    std::vector<NamedCount> list = parse_name_list(o.name, parse_count("count", o.count));
    ctx.named_a_list = true;
    if (parse_settings(o.settings)) {
        throw Error(ErrorKind::usage,
                    "--capacity/--rate/--expire create one bucket; create each of a list first");
    }
    if (o.partial) throw Error(ErrorKind::usage, "--partial takes one bucket, not a list");
    WaitSpec wait = parse_wait(o.wait_option->count() > 0, o.wait, "--wait");
    if (!wait.wait) return take_many_now(ctx, list);
    MultiWaitResult waited = wait_many(ctx.client(), list, wait.timeout_ms, ctx.signals().fd());
    ctx.commit(waited.result);
    ctx.out.took_many(waited.result, waited.waited_ms);
    return exit_ok;
}

int run(Context& ctx, const TakeOptions& o) {
    if (is_name_list(o.name)) return run_many(ctx, o);
    std::string name = parse_name(o.name);
    bool all = o.count == "all";
    int64_t n = all ? max_count : parse_count("count", o.count);
    std::optional<Settings> settings = parse_settings(o.settings);
    WaitSpec wait = parse_wait(o.wait_option->count() > 0, o.wait, "--wait");
    if (all && o.wait_option->count() > 0)
        throw Error(ErrorKind::usage, "take all takes what is there now; it does not --wait");
    if (all) return take_all(ctx, name, settings);
    if (!wait.wait)
        return take_now(ctx, name, n, o.partial ? TakeMode::partial : TakeMode::all, settings);
    WaitResult waited =
        wait_with_terminal(ctx, WaitRequest{name, n, true, settings, wait.timeout_ms});
    ctx.commit(waited.result);
    ctx.out.took(waited.result, waited.waited_ms);
    return exit_ok;
}

}  // namespace

int take_now(Context& ctx, const std::string& name, int64_t n, TakeMode mode,
             const std::optional<Settings>& settings) {
    ctx.signals();
    TakeResult result = ctx.client().take(name, n, mode, settings);
    ctx.commit(result);
    ctx.out.took(result, 0);
    return result.ok() ? exit_ok : ctx.denied_exit(exit_denied);
}

int take_many_now(Context& ctx, const std::vector<NamedCount>& list) {
    ctx.named_a_list = true;
    ctx.signals();
    MultiTakeResult result = take_many(ctx.client(), list, TakeMode::all);
    ctx.commit(result);
    ctx.out.took_many(result, 0);
    return result.ok() ? exit_ok : ctx.denied_exit(exit_denied);
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
    add_settings_options(cmd, o->settings, false);
    return {cmd, [o](Context& ctx) { return run(ctx, *o); }};
}

}  // namespace tbucket::cli
