#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "app.h"
#include "exit_codes.h"
#include "util/name_list.h"
#include "util/parse.h"
#include "waiting.h"

namespace tbucket::cli {
namespace {

struct WatchOptions {
    std::string name;
    std::string count = "1";
    std::string timeout;
    bool take = false;
    bool follow = false;
    bool fail_open = false;
    SettingsText settings;
};

// A reader that goes away ends a follow at once, not at the bucket's next
// change (which on an idle bucket may never come): a pipe's write end
// reports POLLERR as soon as its read end is closed, and tbucket then dies
// by SIGPIPE, as its next write would have made it.
void end_when_reader_leaves() {
    struct stat st {};
    if (fstat(STDOUT_FILENO, &st) != 0 || !S_ISFIFO(st.st_mode)) return;
    std::thread([] {
        pollfd out{STDOUT_FILENO, 0, 0};
        while (poll(&out, 1, -1) < 0 && errno == EINTR) {
        }
        if (!(out.revents & POLLERR)) return;
        signal(SIGPIPE, SIG_DFL);
        raise(SIGPIPE);
    }).detach();
}

int follow(Context& ctx, const std::string& name, std::optional<int64_t> timeout_ms) {
    end_when_reader_leaves();
    Countdown quiet_countdown(ctx.out, "",
                              name);  // no progress while following; reconnect warnings only
    tbucket::follow(
        ctx.client(), name, timeout_ms, ctx.catch_signals().fd(),
        [&ctx](const State& s) { ctx.out.followed(s); }, quiet_countdown);
    return exit_ok;
}

int run(Context& ctx, const WatchOptions& o) {
    std::optional<int64_t> timeout_ms;
    if (!o.timeout.empty()) timeout_ms = parse_duration_ms("--wait", o.timeout);
    Target target = parse_target(ctx, o.name, o.count, o.settings);
    // A list is all or none, holding nothing while it waits: --take only.
    if (ctx.named_a_list && (o.follow || !o.take))
        throw Error(ErrorKind::usage, "a bucket list is watched with --take only (no --follow)");
    const NamedCount& one = target.list.front();
    if (o.follow) {
        if (o.count != "1" || !o.settings.capacity.empty())
            throw Error(ErrorKind::usage, "--follow takes no N, --capacity, --rate or --expire");
        return follow(ctx, one.name, timeout_ms);
    }
    if (o.take) {
        return failing_open(ctx, o.fail_open, "going on as if granted", [&] {
            return take_now(ctx, target, TakeMode::all, WaitSpec{true, timeout_ms});
        });
    }
    if (o.fail_open) throw Error(ErrorKind::usage, "--fail-open goes with --take");
    WaitResult waited = wait_with_terminal(
        ctx, WaitRequest{one.name, one.count, false, target.settings, timeout_ms});
    ctx.commit(MultiTakeResult{});  // took nothing: a signal now only ends it
    ctx.out.watched(waited.result.state, waited.waited_ms);
    return exit_ok;
}

}  // namespace

Subcommand setup_watch(CLI::App& app) {
    auto o = std::make_shared<WatchOptions>();
    CLI::App* cmd =
        app.add_subcommand("watch", "Block until N tokens are there (--take: and take them)");
    cmd->add_option("NAME", o->name, "bucket name, or a list NAME[=N],... (with --take)")
        ->required()
        ->type_name("");
    cmd->add_option("N", o->count, "tokens to wait for")->type_name("")->capture_default_str();
    cmd->add_option("--wait,--timeout", o->timeout,
                    "give up after this long (exit 124); 0: look once (--timeout: the same)")
        ->type_name("DURATION");
    CLI::Option* take = cmd->add_flag("--take", o->take, "take the tokens in the same atomic step");
    CLI::Option* follow = cmd->add_flag(
        "--follow", o->follow,
        "print the state now and after every change, until ^C, the timeout or deletion");
    follow->excludes(take);
    add_fail_open_option(cmd, o->fail_open, "go on as if granted (with --take)");
    add_settings_options(cmd, o->settings, false);
    return {cmd, [o](Context& ctx) { return run(ctx, *o); }};
}

}  // namespace tbucket::cli
