#include "supervise.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "app.h"
#include "bucket/lease.h"
#include "exit_codes.h"
#include "util/parse.h"

namespace tbucket::cli {
namespace {

using Clock = std::chrono::steady_clock;

// The processes of the command's tree: every descendant of tbucket (a
// subreaper: those whose parent ended are its children now), from /proc.
std::vector<pid_t> descendants() {
    std::vector<std::pair<pid_t, pid_t>> parent_of;  // (pid, ppid)
    if (DIR* proc = opendir("/proc")) {
        while (dirent* e = readdir(proc)) {
            if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
            std::string path = std::string("/proc/") + e->d_name + "/stat";
            FILE* f = std::fopen(path.c_str(), "re");
            if (!f) continue;
            char line[512] = {0};
            bool read = std::fgets(line, sizeof line, f) != nullptr;
            std::fclose(f);
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            const char* close = read ? std::strrchr(line, ')') : nullptr;
            int ppid = 0;
            char state = 0;
            if (close && std::sscanf(close + 1, " %c %d", &state, &ppid) == 2 && state != 'Z')
                parent_of.emplace_back(std::atoi(e->d_name), ppid);
        }
        closedir(proc);
    }
    std::vector<pid_t> tree{getpid()};
    for (std::size_t i = 0; i < tree.size(); ++i) {
        for (const auto& [pid, ppid] : parent_of) {
            if (ppid == tree[i]) tree.push_back(pid);
        }
    }
    tree.erase(tree.begin());
    return tree;
}

// Sends `sig` once to every process of the tree; `skip_group`: not to those
// in that process group, which a terminal signalled already.
void signal_tree(int sig, pid_t skip_group = 0) {
    for (pid_t pid : descendants()) {
        if (skip_group && getpgid(pid) == skip_group) continue;
        kill(pid, sig);
    }
}

// In the child, between fork and exec: only async-signal-safe calls. A
// signal ignored when tbucket started stays ignored (nohup, a background
// job); exec turns the caught ones back to their defaults.
[[noreturn]] void start_command(const bool (&ignored)[std::size(forwarded_signals)],
                                const std::string& path, char* const* argv, pid_t parent,
                                bool keep_on_lost, bool own_group) {
    // Not in a terminal's foreground: a group of its own, so that a signal
    // sent to tbucket's group (timeout(1), a shell's kill %1) reaches the
    // command once, passed on by tbucket, not twice.
    if (own_group) setpgid(0, 0);
    // Without tbucket nothing renews the lease: the command hears it as it
    // would hear a lost lease.
    if (!keep_on_lost) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) raise(SIGTERM);
    }
    for (std::size_t i = 0; i < std::size(forwarded_signals); ++i) {
        if (ignored[i]) signal(forwarded_signals[i], SIG_IGN);
    }
    signal(SIGPIPE, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(path.c_str(), argv);
    _exit(errno == ENOENT ? exit_not_found : exit_not_runnable);
}

Clock::time_point first_asked(const std::vector<Lease>& leases) {
    Clock::time_point at = leases.front().asked_at;
    for (const Lease& l : leases) at = std::min(at, l.asked_at);
    return at;
}

// Renews the leases (one, or a bucket list's, which share their ttl) every
// third of their time on a thread of its own, so that a server slow to
// answer never delays a signal or the command's end. When a lease is lost
// it says why, once, through `lost_fd`.
class Renewer {
  public:
    Renewer(Client& client, const std::vector<Lease>& leases, int lost_fd)
        : client_(client), leases_(leases), lease_(leases.front()), lost_fd_(lost_fd) {
        thread_ = std::thread([this] { loop(); });
    }
    ~Renewer() { stop(); }

    void stop() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    // A renewal whose reply is lost is asked again for a third of the lease
    // at most: longer, and the lease would end meanwhile. (The release
    // after the command is asked again for the whole window, as any change.)
    int64_t renew_window_ms() const { return std::max<int64_t>(lease_.ttl_ms / 3, 100); }

    std::string why_lost() {
        std::lock_guard<std::mutex> lock(mutex_);
        return why_;
    }

    // What the renewals found worth saying that is not a loss (a lease
    // re-asserted after Redis lost its data), once each.
    std::vector<std::string> take_notices() {
        std::lock_guard<std::mutex> lock(mutex_);
        return std::exchange(notices_, {});
    }

    // Milliseconds until the holder must count the lease as lost (-1: it
    // is, or never will be by time). A renewal may block on I/O for longer
    // than the lease has left; the server ends the lease at least `ttl`
    // after the last renewal was sent, so giving up a margin before that,
    // by this process's own clock, is giving up before the server can give
    // the tokens to anyone else, whatever the I/O timeout.
    int poll_ms() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (lost_) return -1;
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(held_until_ - Clock::now());
        return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 3600000));
    }

    void check_held() {
        bool over;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            over = !lost_ && Clock::now() >= held_until_;
        }
        if (over) lost("not renewed within " + format_exact_ms(lease_.ttl_ms - margin_ms()));
    }

  private:
    int64_t margin_ms() const { return std::min<int64_t>(lease_.ttl_ms / 10, 1000); }

    void renewed(Clock::time_point asked_at) {
        std::lock_guard<std::mutex> lock(mutex_);
        held_until_ = asked_at + std::chrono::milliseconds(lease_.ttl_ms - margin_ms());
    }

    void loop() {
        auto renewed_at = first_asked(leases_);  // the lease runs from no earlier than then
        auto every = std::chrono::milliseconds(lease_.ttl_ms / 3);
        auto next = renewed_at + every;
        for (;;) {
            {
                std::unique_lock<std::mutex> lock(mutex_);
                if (wake_.wait_until(lock, next, [this] { return stopping_; })) return;
            }
            auto asked_at = Clock::now();
            if (asked_at - renewed_at >= std::chrono::milliseconds(lease_.ttl_ms)) {
                return lost("not renewed for " + format_exact_ms(lease_.ttl_ms));
            }
            try {
                client_.nodes().follow_sentinels();  // a failover: renew where the lease is now
                for (const Lease& l : leases_) {
                    HeldLease mine{l.fence, l.tokens, l.capacity, l.holder};
                    RenewResult r = renew_lease(client_, l.name, l.id, l.ttl_ms, renew_window_ms(),
                                                l.fence > 0 ? &mine : nullptr);
                    if (r.outcome == RenewOutcome::ended)
                        return lost("it had ended: not renewed in time, or the bucket was reset");
                    if (r.outcome == RenewOutcome::taken) {
                        return lost(lost_data +
                                    ", and its slot was taken before this holder could take it "
                                    "back");
                    }
                    if (r.outcome == RenewOutcome::reasserted) {
                        notice(lost_data + "; the lease on '" + l.name +
                               "' was taken back with its fence " + std::to_string(l.fence));
                    }
                }
                renewed_at = asked_at;
                renewed(asked_at);
                next = asked_at + every;
            } catch (const Error& e) {
                if (e.kind() == ErrorKind::not_found) return lost("the bucket was deleted");
                // Out of reach for now: again soon, until the lease's time is up.
                next = Clock::now() +
                       std::min<std::chrono::milliseconds>(every, std::chrono::seconds(1));
                std::lock_guard<std::mutex> lock(mutex_);
                why_ = e.what();
            }
        }
    }

    static inline const std::string lost_data =
        "Redis lost its data (a restart without persistence, or a failover)";

    void notice(std::string what) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            notices_.push_back(std::move(what));
        }
        char byte = 2;
        ssize_t ignored = write(lost_fd_, &byte, 1);
        (void)ignored;
    }

    void lost(const std::string& why) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (lost_) return;  // said once: by the renewals or by the clock
            lost_ = true;
            why_ = why + (why_.empty() ? "" : " (last error: " + why_ + ")");
        }
        char byte = 1;
        ssize_t ignored = write(lost_fd_, &byte, 1);
        (void)ignored;
    }

    Client& client_;
    const std::vector<Lease>& leases_;
    const Lease& lease_;  // the first: the ttl they share
    int lost_fd_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    bool lost_ = false;
    // The take was asked before the command started: the lease runs from
    // no earlier than now.
    Clock::time_point held_until_ =
        first_asked(leases_) + std::chrono::milliseconds(lease_.ttl_ms - margin_ms());
    std::string why_;
    std::vector<std::string> notices_;
    std::thread thread_;
};

// Ends tbucket as the command ended: its exit status, or death by the same
// signal (so that a shell sees 128+N and a parent sees WIFSIGNALED), without
// a core file of tbucket's own.
[[noreturn]] void end_as(int status) {
    std::fflush(nullptr);
    if (WIFEXITED(status)) std::_Exit(WEXITSTATUS(status));
    int sig = WTERMSIG(status);
    struct rlimit none {
        0, 0
    };
    setrlimit(RLIMIT_CORE, &none);
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    raise(sig);
    std::_Exit(128 + sig);
}

std::string names_of(const std::vector<Lease>& leases) {
    std::string names;
    for (const Lease& l : leases) names.append(names.empty() ? "" : ",").append(l.name);
    return names;
}

void give_back(Context& ctx, const Lease& lease) {
    try {
        release_lease(ctx.client(), lease.name, lease.id);
    } catch (const Error& e) {
        ctx.out.warning("could not give the lease on '" + lease.name + "' back (" + e.what() +
                        "); its tokens come back when it ends, within " +
                        format_exact_ms(lease.ttl_ms));
    }
}

}  // namespace

void supervise(Context& ctx, const std::vector<Lease>& leases, const std::string& path,
               const std::vector<std::string>& command) {
    const Lease& lease = leases.front();
    sigset_t set = supervised_set();
    sigprocmask(SIG_BLOCK, &set, nullptr);
    struct sigaction found[std::size(forwarded_signals)];
    int signal_fd = install_forwarding(found);
    int lost_pipe[2];
    if (pipe2(lost_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        throw Error(ErrorKind::internal, "cannot make a pipe");
    setenv("TBUCKET_LEASE", lease.id.c_str(), 1);
    setenv("TBUCKET_FENCE", std::to_string(lease.fence).c_str(), 1);
    if (leases.size() > 1) {
        std::string fences;
        for (const Lease& l : leases) {
            fences.append(fences.empty() ? "" : ",").append(l.name).append("=");
            fences.append(std::to_string(l.fence));
        }
        setenv("TBUCKET_FENCES", fences.c_str(), 1);
    }
    std::vector<char*> argv;
    for (const std::string& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    bool ignored[std::size(forwarded_signals)];
    for (std::size_t i = 0; i < std::size(forwarded_signals); ++i) {
        int sig = forwarded_signals[i];
        ignored[i] = sig == SIGINT || sig == SIGTERM ? ctx.catch_signals().ignored_at_start(sig)
                                                     : found[i].sa_handler == SIG_IGN;
    }
    // Redis answered so late that the lease may have ended already: the
    // command is not started on it.
    auto late =
        first_asked(leases) +
        std::chrono::milliseconds(lease.ttl_ms - std::min<int64_t>(lease.ttl_ms / 10, 1000));
    if (Clock::now() >= late) {
        for (const Lease& l : leases) give_back(ctx, l);
        throw Error(ErrorKind::unavailable,
                    "the lease on '" + names_of(leases) +
                        "' came too late to be held (Redis answered after most of its " +
                        format_exact_ms(lease.ttl_ms) + "); the command was not started");
    }
    ctx.out.flush();
    std::fflush(nullptr);
    pid_t parent = getpid();
    // Every process the command starts is held under the lease until it
    // ends: orphans become tbucket's children, so that it sees them end.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    const int tty = STDIN_FILENO;
    const bool foreground = isatty(tty) && tcgetpgrp(tty) == getpgrp();
    pid_t child = fork();
    if (child == 0)
        start_command(ignored, path, argv.data(), parent, lease.keep_on_lost, !foreground);
    if (child > 0 && !foreground) setpgid(child, child);  // either may run first
    if (child < 0) {
        for (const Lease& l : leases) give_back(ctx, l);
        throw Error(ErrorKind::internal, "cannot start the command: fork failed");
    }
    Renewer renewer(ctx.client(), leases, lost_pipe[1]);
    // From here signals come through signal_fd; SIGINT and SIGTERM were held
    // since the take (Context::commit): one that came meanwhile is passed on.
    ctx.catch_signals().release();
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    int status = 0;
    bool child_ended = false;
    // SIGKILL the tree then (a lost lease); time_point::max(): not due.
    Clock::time_point kill_at = Clock::time_point::max();
    for (;;) {
        pollfd fds[2] = {{signal_fd, POLLIN, 0}, {lost_pipe[0], POLLIN, 0}};
        int wait_ms = renewer.poll_ms();
        if (kill_at != Clock::time_point::max()) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(kill_at - Clock::now());
            int until_kill = static_cast<int>(std::max<int64_t>(0, left.count()));
            wait_ms = wait_ms < 0 ? until_kill : std::min(wait_ms, until_kill);
        }
        int woke = poll(fds, 2, wait_ms);
        if (woke < 0) continue;
        if (kill_at != Clock::time_point::max() && Clock::now() >= kill_at) {
            ctx.out.warning("the command's processes did not end within " +
                            format_exact_ms(lease.kill_after_ms) + " of SIGTERM; sending SIGKILL");
            signal_tree(SIGKILL);
            kill_at = Clock::time_point::max();
        }
        if (woke == 0) renewer.check_held();  // writes to lost_pipe: seen on the next turn
        bool lost = false;
        if (fds[1].revents) {
            char byte;
            while (read(lost_pipe[0], &byte, 1) == 1) lost = lost || byte == 1;
            for (const std::string& notice : renewer.take_notices()) ctx.out.warning(notice);
        }
        if (lost) {
            std::string what =
                "the lease on '" + names_of(leases) + "' is lost (" + renewer.why_lost() + ")";
            if (lease.keep_on_lost) {
                ctx.out.warning(what + "; the command keeps running (--on-lost=keep)");
            } else {
                ctx.out.warning(what + "; sending SIGTERM to the command's processes");
                signal_tree(SIGTERM);
                kill_at = Clock::now() + std::chrono::milliseconds(lease.kill_after_ms);
            }
        }
        SignalArrival a{};
        bool ended = false;
        while (read(signal_fd, &a, sizeof a) == static_cast<ssize_t>(sizeof a)) {
            if (a.sig != SIGCHLD) {
                // Once to each process of the tree. A signal from the
                // terminal reached the foreground group already: only
                // those that left it get it from here.
                signal_tree(a.sig, a.code == SI_KERNEL ? getpgrp() : 0);
                continue;
            }
            // The command, and any process of its tree whose parent ended
            // (orphans are tbucket's children): the lease is held until
            // none is left.
            for (;;) {
                int st = 0;
                pid_t done = waitpid(-1, &st, WNOHANG);
                if (done == child) {
                    status = st;
                    child_ended = true;
                }
                if (done <= 0) {
                    ended = child_ended && done < 0 && errno == ECHILD;
                    break;
                }
            }
        }
        if (ended) break;
    }
    renewer.stop();
    for (const Lease& l : leases) give_back(ctx, l);
    end_as(status);
}

}  // namespace tbucket::cli
