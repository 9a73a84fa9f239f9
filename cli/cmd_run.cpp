#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>

#include "app.h"
#include "bucket/lease.h"
#include "exit_codes.h"
#include "suggest.h"
#include "supervise.h"
#include "util/name_list.h"
#include "util/parse.h"
#include "wait/multi_wait.h"
#include "waiting.h"

namespace tbucket::cli {
namespace {

struct RunOptions {
    std::string name;
    std::string count = "1";
    SettingsText settings;
    CLI::Option* wait_option = nullptr;
    std::string wait;
    bool fail_open = false;
    CLI::Option* lease_option = nullptr;
    std::string lease = "30s";
    std::string on_lost = "term";
    bool consume = false;
    const std::vector<std::string>* command = nullptr;
    const CLI::App* app = nullptr;
};

// --fail-open, or TBUCKET_FAIL_OPEN=1 for every run of a crontab.
bool fail_open(const RunOptions& o) {
    return o.fail_open || env_flag("TBUCKET_FAIL_OPEN").value_or(false);
}

// What --fail-open runs the command through: every exit 69, Redis out of
// reach or refusing writes. Not a denial, a usage error or a refused AUTH,
// which an outage does not explain.
bool is_outage(ErrorKind kind) {
    return kind == ErrorKind::unavailable || kind == ErrorKind::unwritable;
}

bool executable_file(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

// The command's path, found before any token is taken, so that a typo
// costs nothing; else why not: exit 127 (not found) or 126 (not
// executable), as sh.
struct Resolved {
    std::string path;
    int failure = 0;  // exit_not_found or exit_not_runnable when path is empty
};

Resolved resolve(const std::string& command) {
    if (command.find('/') != std::string::npos) {
        if (executable_file(command)) return {command};
        bool exists = access(command.c_str(), F_OK) == 0;
        return {"", exists ? exit_not_runnable : exit_not_found};
    }
    const char* path_env = std::getenv("PATH");
    std::string path = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
    std::size_t start = 0;
    for (;;) {
        std::size_t end = path.find(':', start);
        std::string dir =
            path.substr(start, end == std::string::npos ? std::string::npos : end - start);
        std::string candidate = (dir.empty() ? "." : dir) + "/" + command;
        if (executable_file(candidate)) return {candidate};
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return {"", exit_not_found};
}

int cannot_run(Context& ctx, const std::string& command, int code) {
    std::string why =
        code == exit_not_found ? "command not found" : "permission denied or not a program";
    ctx.out.error(Error(ErrorKind::usage, "cannot run '" + command + "': " + why), code);
    return code;
}

// Signals are held since the commit. Released just before execv, so one
// that came meanwhile is caught and the tokens go back, rather than killing
// tbucket with them taken. One in the last instant, between that look and
// execv, is caught and dropped: the command runs, as if it came just after.
// `if_signalled`: gives back what was taken when a signal came, and throws.
[[noreturn]] void exec(Context& ctx, const std::function<void()>& if_signalled,
                       const std::string& path, const std::vector<std::string>& command) {
    std::vector<char*> argv;
    for (const std::string& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ctx.close();  // no Redis socket leaks into the command
    std::fflush(nullptr);
    ctx.signals().prepare_exec();  // the command gets signals as tbucket got them
    ctx.signals().release();
    if_signalled();
    execv(path.c_str(), argv.data());
    std::_Exit(errno == ENOENT ? exit_not_found : exit_not_runnable);
}

TakeResult take(Context& ctx, const std::string& name, int64_t n,
                const std::optional<Settings>& settings, const WaitSpec& wait,
                const std::optional<LeaseSpec>& lease, int64_t& waited_ms) {
    if (!wait.wait) {
        return ctx.client().take(name, n, TakeMode::all, settings, lease ? &*lease : nullptr);
    }
    WaitRequest request{name, n, true, settings, wait.timeout_ms};
    request.lease = lease;
    WaitResult waited = wait_with_terminal(ctx, std::move(request));
    waited_ms = waited.waited_ms;
    return waited.result;
}

// The lease run asks for (SPEC §9), unless --consume. Only an explicit
// --lease makes a refilling bucket an error: without it such a bucket is
// simply taken from, as before leases.
std::optional<LeaseSpec> lease_spec(const RunOptions& o) {
    bool explicit_lease = o.lease_option->count() > 0;
    if (o.consume && explicit_lease)
        throw Error(ErrorKind::usage, "--consume and --lease exclude each other");
    int64_t ttl = parse_lease_ms("--lease", o.lease);
    if (o.on_lost != "term" && o.on_lost != "keep") {
        throw Error(ErrorKind::usage,
                    "--on-lost must be term or keep, not '" + printable(o.on_lost) + "'");
    }
    if (o.consume) return std::nullopt;
    return LeaseSpec{new_lease_id(), ttl, lease_holder(getpid()), explicit_lease};
}

MultiTakeResult take_list(Context& ctx, const std::vector<NamedCount>& list, const WaitSpec& wait,
                          const LeaseSpec* lease, int64_t& waited_ms) {
    if (!wait.wait) {
        ctx.signals();
        return take_many(ctx.client(), list, TakeMode::all, lease);
    }
    MultiWaitResult w = wait_many(ctx.client(), list, wait.timeout_ms, ctx.signals().fd(), lease);
    waited_ms = w.waited_ms;
    return std::move(w.result);
}

// What both forms of run check before any token is taken: the wait, the
// lease, and the command (looked up now, so that a typo costs nothing).
struct Prepared {
    WaitSpec wait;
    bool open = false;
    std::optional<LeaseSpec> lease;
    std::string path;
};

// -1 when all is well; else the exit status (the command cannot run).
int prepare(Context& ctx, const RunOptions& o, Prepared& p) {
    p.wait = parse_wait(o.wait_option->count() > 0, o.wait, "--wait");
    p.open = fail_open(o);
    p.lease = lease_spec(o);
    if (o.command->empty()) throw Error(ErrorKind::usage, "run needs a command after --");
    Resolved found = resolve(o.command->front());
    if (found.failure) return cannot_run(ctx, o.command->front(), found.failure);
    p.path = std::move(found.path);
    return -1;
}

void warn_fail_open(Context& ctx, const Error& e) {
    ctx.out.warning("Redis unavailable (" + std::string(e.what()) +
                    "); running the command anyway (--fail-open)");
}

// run NAME[=N],... -- CMD: all or none; refilling buckets consumed, those
// without refill leased (one id, a fence each) and given back after CMD.
int run_many(Context& ctx, const RunOptions& o, const std::vector<NamedCount>& list) {
    ctx.named_a_list = true;
    if (parse_settings(o.settings)) {
        throw Error(ErrorKind::usage,
                    "--capacity/--rate/--expire create one bucket; create each of a list first");
    }
    Prepared p;
    if (int code = prepare(ctx, o, p); code >= 0) return code;
    const auto& [wait, open, lease, path] = p;
    const LeaseSpec* spec = lease ? &*lease : nullptr;
    int64_t waited_ms = 0;
    MultiTakeResult result;
    try {
        result = take_list(ctx, list, wait, spec, waited_ms);
    } catch (const Error& e) {
        if (!open || !is_outage(e.kind())) throw;
        warn_fail_open(ctx, e);
        exec(
            ctx, [&] { ctx.give_back_if_signalled(MultiTakeResult{}); }, path, *o.command);
    }
    ctx.commit(result, spec);
    if (!result.ok()) {
        ctx.out.took_many(result, waited_ms, true);
        return ctx.denied_exit(exit_run_denied);
    }
    std::vector<Lease> held;
    for (const TakeResult& t : result.buckets) {
        if (!t.leased()) continue;
        held.push_back({t.state.name, lease->id, t.fence, t.taken, lease->ttl_ms,
                        o.on_lost == "keep", t.asked_at});
    }
    if (!held.empty()) supervise(ctx, held, path, *o.command);
    exec(
        ctx, [&] { ctx.give_back_if_signalled(result, spec); }, path, *o.command);
}

int run(Context& ctx, const RunOptions& o) {
    if (o.command->empty()) {
        // `run api echo`: the command went to N.
        std::string line = run_with_dashes(*o.app, {});
        if (!line.empty()) throw Error(ErrorKind::usage, "put the command after --: " + line);
    }
    if (is_name_list(o.name))
        return run_many(ctx, o, parse_name_list(o.name, parse_count("count", o.count)));
    std::string name = parse_name(o.name);
    int64_t n = parse_count("count", o.count);
    std::optional<Settings> settings = parse_settings(o.settings);
    Prepared p;
    if (int code = prepare(ctx, o, p); code >= 0) return code;
    const auto& [wait, open, lease, path] = p;
    int64_t waited_ms = 0;
    ctx.signals();
    TakeResult result;
    try {
        result = take(ctx, name, n, settings, wait, lease, waited_ms);
    } catch (const Error& e) {
        if (!open || !is_outage(e.kind())) throw;
        // Also when the take's outcome is unknown: the caller chose running
        // over skipping, and a token that was taken after all is only spent.
        warn_fail_open(ctx, e);
        exec(
            ctx, [&] { ctx.give_back_if_signalled(MultiTakeResult{}); }, path, *o.command);
    }
    ctx.commit(result, lease ? &*lease : nullptr);
    if (!result.ok()) {
        ctx.out.run_denied(result, waited_ms);
        return ctx.denied_exit(exit_run_denied);
    }
    if (result.leased()) {
        Lease held{name,          lease->id,           result.fence,   result.taken,
                   lease->ttl_ms, o.on_lost == "keep", result.asked_at};
        supervise(ctx, held, path, *o.command);
    }
    exec(
        ctx,
        [&] {
            ctx.give_back_if_signalled(MultiTakeResult{{result}, 0});
        },
        path, *o.command);
}

}  // namespace

Subcommand setup_run(CLI::App& app, const std::vector<std::string>& command) {
    auto o = std::make_shared<RunOptions>();
    o->command = &command;
    CLI::App* cmd = app.add_subcommand(
        "run",
        "Take N tokens and run a command (-- CMD ARGS...); on a semaphore they come back after it; "
        "denied: exit 75");
    o->app = cmd;
    cmd->add_option("NAME", o->name, "bucket name, or a list NAME[=N],... taken all or none")
        ->required()
        ->type_name("");
    cmd->add_option("N", o->count, "tokens to take")->type_name("")->capture_default_str();
    o->wait_option = cmd->add_option("--wait", o->wait,
                                     "wait in line (first come, first served) until the tokens can "
                                     "be taken: forever, or up to DURATION (exit 124)")
                         ->expected(0, 1)
                         ->type_name("[DURATION]");
    cmd->add_flag("--fail-open", o->fail_open,
                  "Redis unavailable (exit 69): warn and run the command anyway, untaken "
                  "(env TBUCKET_FAIL_OPEN=1)");
    o->lease_option =
        cmd->add_option("--lease", o->lease,
                        "on a bucket without refill: how long the tokens stay held if tbucket "
                        "dies (renewed while the command runs; 1s..1d)")
            ->type_name("DURATION")
            ->capture_default_str();
    cmd->add_option("--on-lost", o->on_lost,
                    "when the lease could not be renewed in time: term (SIGTERM the command) or "
                    "keep")
        ->type_name("term|keep")
        ->capture_default_str();
    cmd->add_flag("--consume", o->consume,
                  "take the tokens for good and exec the command (no lease, nothing given back)");
    add_settings_options(cmd, o->settings, false);
    cmd->footer(
        "The command is looked up before any token is taken (not found: 127, not executable: "
        "126).\n"
        "On a bucket without refill the tokens are a lease: tbucket stays the command's parent,\n"
        "passes signals on, gives the tokens back when it ends and exits as it did (killed by a\n"
        "signal: dies of the same signal). The command sees TBUCKET_LEASE and TBUCKET_FENCE.\n"
        "On a bucket with refill (or with --consume) the command replaces tbucket.");
    return {cmd, [o](Context& ctx) { return run(ctx, *o); }};
}

}  // namespace tbucket::cli
