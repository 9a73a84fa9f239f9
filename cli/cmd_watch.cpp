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
#include "wait/multi_wait.h"
#include "waiting.h"

namespace tbucket::cli {
namespace {

struct WatchOptions {
    std::string name;
    std::string count = "1";
    std::string timeout;
    bool take = false;
    bool follow = false;
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
        ctx.client(), name, timeout_ms, ctx.signals().fd(),
        [&ctx](const State& s) { ctx.out.followed(s); }, quiet_countdown);
    return exit_ok;
}

// watch NAME[=N],... --take: all or none, holding nothing while it waits.
int run_many(Context& ctx, const WatchOptions& o) {
    std::vector<NamedCount> list = parse_name_list(o.name, parse_count("count", o.count));
    ctx.named_a_list = true;
    if (o.follow || !o.take) {
        throw Error(ErrorKind::usage, "a bucket list is watched with --take only (no --follow)");
    }
    if (parse_settings(o.settings)) {
        throw Error(ErrorKind::usage,
                    "--capacity/--rate/--expire create one bucket; create each of a list first");
    }
    std::optional<int64_t> timeout_ms;
    if (!o.timeout.empty()) timeout_ms = parse_duration_ms("--timeout", o.timeout);
    MultiWaitResult waited = wait_many(ctx.client(), list, timeout_ms, ctx.signals().fd());
    ctx.commit(waited.result);
    ctx.out.took_many(waited.result, waited.waited_ms);
    return exit_ok;
}

int run(Context& ctx, const WatchOptions& o) {
    if (is_name_list(o.name)) return run_many(ctx, o);
    std::string name = parse_name(o.name);
    int64_t n = parse_count("count", o.count);
    std::optional<Settings> settings = parse_settings(o.settings);
    std::optional<int64_t> timeout_ms;
    if (!o.timeout.empty()) timeout_ms = parse_duration_ms("--timeout", o.timeout);
    if (o.follow) {
        if (o.count != "1" || settings)
            throw Error(ErrorKind::usage, "--follow takes no N, --capacity, --rate or --expire");
        return follow(ctx, name, timeout_ms);
    }
    WaitResult waited = wait_with_terminal(ctx, WaitRequest{name, n, o.take, settings, timeout_ms});
    ctx.commit(waited.result);
    if (o.take) {
        ctx.out.took(waited.result, waited.waited_ms);
    } else {
        ctx.out.watched(waited.result.state, waited.waited_ms);
    }
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
    cmd->add_option("--timeout", o->timeout, "give up after this long (exit 124); 0: look once")
        ->type_name("DURATION");
    CLI::Option* take = cmd->add_flag("--take", o->take, "take the tokens in the same atomic step");
    CLI::Option* follow = cmd->add_flag(
        "--follow", o->follow,
        "print the state now and after every change, until ^C, the timeout or deletion");
    follow->excludes(take);
    add_settings_options(cmd, o->settings, false);
    return {cmd, [o](Context& ctx) { return run(ctx, *o); }};
}

}  // namespace tbucket::cli
