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
#include "util/parse.h"
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
    std::string kill_after = "5s";
    bool consume = false;
    bool dry_run = false;
    std::string note;
    const std::vector<std::string>* command = nullptr;
    const CLI::App* app = nullptr;
};

// --fail-open, or TBUCKET_FAIL_OPEN=1 or fail_open = true in a config
// file for every run of a crontab.
bool fail_open(const Context& ctx, const RunOptions& o) {
    return o.fail_open || ctx.global.fail_open;
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
    ctx.catch_signals().prepare_exec();  // the command gets signals as tbucket got them
    ctx.catch_signals().release();
    if_signalled();
    execv(path.c_str(), argv.data());
    std::_Exit(errno == ENOENT ? exit_not_found : exit_not_runnable);
}

// The lease run asks for (SPEC §9), unless --consume. Only an explicit
// --lease on one bucket makes a refilling bucket an error: without it, or
// in a list, such a bucket is simply taken from, as before leases.
std::optional<LeaseSpec> lease_spec(const RunOptions& o, bool list) {
    bool explicit_lease = o.lease_option->count() > 0;
    if (o.consume && explicit_lease)
        throw Error(ErrorKind::usage, "--consume and --ttl exclude each other");
    int64_t ttl = parse_lease_ms("--ttl", o.lease);
    if (o.on_lost != "term" && o.on_lost != "keep") {
        throw Error(ErrorKind::usage,
                    "--on-lost must be term or keep, not '" + printable(o.on_lost) + "'");
    }
    if (o.consume) return std::nullopt;
    return LeaseSpec{new_lease_id(), ttl, lease_holder(getpid(), note_text(o.note)),
                     explicit_lease && !list};
}

// What run checks before any token is taken: the wait, the lease, and the
// command (looked up now, so that a typo costs nothing).
struct Prepared {
    WaitSpec wait;
    bool open = false;
    std::optional<LeaseSpec> lease;
    std::string path;
    int64_t kill_after_ms = 5000;
};

// -1 when all is well; else the exit status (the command cannot run).
int prepare(Context& ctx, const RunOptions& o, Prepared& p) {
    p.wait =
        parse_wait(o.wait_option->count() > 0, o.wait, "--wait", ctx.global.typed, "run", o.name);
    p.open = fail_open(ctx, o);
    p.lease = lease_spec(o, ctx.named_a_list);
    if (p.lease) p.lease->restart_grace_ms = ctx.global.restart_grace_ms;
    p.kill_after_ms = parse_exact_duration_ms("--kill-after", o.kill_after);
    if (o.command->empty()) throw Error(ErrorKind::usage, "run needs a command after --");
    Resolved found = resolve(o.command->front());
    if (found.failure) return cannot_run(ctx, o.command->front(), found.failure);
    p.path = std::move(found.path);
    return -1;
}

int run(Context& ctx, const RunOptions& o) {
    if (o.command->empty()) {
        // `run api echo`: the command went to N.
        std::string line = run_with_dashes(*o.app, {});
        if (!line.empty()) throw Error(ErrorKind::usage, "put the command after --: " + line);
    }
    // A list: all or none; refilling buckets consumed, those without refill
    // leased (one id, a fence each) and given back after CMD.
    Target target = parse_target(ctx, o.name, o.count, o.settings);
    Prepared p;
    if (int code = prepare(ctx, o, p); code >= 0) return code;
    const auto& [wait, open, lease, path, kill_after_ms] = p;
    if (o.dry_run) {
        // A question, answered as take's: 0 yes, 1 no; the command not run.
        if (wait.wait || o.wait_option->count() > 0)
            throw Error(ErrorKind::usage, "--dry-run answers for now; it does not --wait");
        return dry_run(ctx, target, false, ctx.denied_exit(exit_denied));
    }
    const LeaseSpec* spec = lease ? &*lease : nullptr;
    MultiWaitResult r;
    try {
        r = take_target(ctx, target, wait, TakeMode::all, spec);
    } catch (const Error& e) {
        if (!open || !is_outage(e.kind())) throw;
        // Also when the take's outcome is unknown: the caller chose running
        // over skipping, and a token that was taken after all is only spent.
        ctx.out.warning("Redis unavailable (" + std::string(e.what()) +
                        "); running the command anyway (--fail-open)");
        exec(
            ctx, [&] { ctx.give_back_if_signalled(MultiTakeResult{}); }, path, *o.command);
    }
    ctx.commit(r.result, spec);
    if (!r.result.ok()) {
        ctx.out.took(r.result, r.waited_ms, ctx.named_a_list, true);
        return ctx.denied_exit(exit_run_denied);
    }
    std::vector<Lease> held;
    for (const TakeResult& t : r.result.buckets) {
        if (!t.leased() && lease && (isatty(STDERR_FILENO) || ctx.global.verbose)) {
            // SPEC §13: run leases a semaphore and consumes from the others;
            // said once, to a person, so that a rate meant as "N at a time"
            // does not go unnoticed.
            ctx.out.warning("'" + t.state.name + "' is a " + t.state.kind() +
                            " bucket: run consumes its tokens (a semaphore, without --rate or "
                            "--window, would hold them while the command runs)");
        }
        if (!t.leased()) continue;
        held.push_back({t.state.name, lease->id, t.fence, t.taken, lease->ttl_ms,
                        o.on_lost == "keep", p.kill_after_ms, t.asked_at, t.state.capacity,
                        lease->holder});
    }
    if (!held.empty()) supervise(ctx, held, path, *o.command);
    exec(
        ctx, [&] { ctx.give_back_if_signalled(r.result, spec); }, path, *o.command);
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
    add_fail_open_option(cmd, o->fail_open, "run the command anyway, untaken");
    o->lease_option =
        cmd->add_option("--ttl,--lease", o->lease,
                        "on a bucket without refill: how long the lease lives if tbucket dies "
                        "(renewed while the command runs; 1s..1d; --lease: the same)")
            ->type_name("DURATION")
            ->capture_default_str();
    cmd->add_option("--on-lost", o->on_lost,
                    "when the lease could not be renewed in time: term (SIGTERM the command) or "
                    "keep")
        ->type_name("term|keep")
        ->capture_default_str();
    cmd->add_option("--kill-after", o->kill_after,
                    "when the lease is lost: SIGKILL the command's processes this long after "
                    "the SIGTERM (as timeout -k)")
        ->type_name("DURATION")
        ->capture_default_str();
    cmd->add_flag("--consume", o->consume,
                  "take the tokens for good and exec the command (no lease, nothing given back)");
    add_note_option(cmd, o->note);
    cmd->add_flag("--dry-run", o->dry_run,
                  "would the tokens be granted now? exit 0 or 1; nothing taken, nothing counted, "
                  "the command not run");
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
