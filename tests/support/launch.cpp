#include "support/launch.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "support/process.h"

namespace tbucket::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::nanoseconds;

timespec timespec_of(nanoseconds d) {
    if (d.count() < 0) d = nanoseconds(0);
    return {static_cast<time_t>(d.count() / 1000000000), static_cast<long>(d.count() % 1000000000)};
}

// Reads both pipes until they end, sending the planned signal on time and
// SIGKILL at the deadline. ppoll, not poll: the delays are finer than 1ms.
void drain(pid_t pid, int fds[2], const Plan& plan, Clock::time_point start, Ended& e) {
    std::string* text[2] = {&e.out, &e.err};
    const auto signal_at = start + plan.delay;
    const auto deadline = start + std::chrono::duration_cast<nanoseconds>(
                                      std::chrono::duration<double>(plan.timeout_s));
    bool signal_due = plan.sig != 0;
    char buf[4096];
    while (fds[0] >= 0 || fds[1] >= 0) {
        auto now = Clock::now();
        if (signal_due && now >= signal_at) {
            kill(pid, plan.sig);  // not reaped yet, so the pid is still its
            e.sent = plan.sig;
            signal_due = false;
        }
        if (now >= deadline) {
            kill(pid, SIGKILL);
            e.timed_out = true;
            break;
        }
        auto until = signal_due ? std::min(signal_at, deadline) : deadline;
        timespec wait = timespec_of(std::chrono::duration_cast<nanoseconds>(until - now));
        pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
        if (ppoll(p, 2, &wait, nullptr) < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = read(fds[i], buf, sizeof buf);
            if (n > 0) {
                text[i]->append(buf, static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                close(fds[i]);
                fds[i] = -1;
            }
        }
    }
    for (int i = 0; i < 2; ++i) {
        if (fds[i] >= 0) close(fds[i]);
    }
}

}  // namespace

Ended launch(std::vector<std::string> argv, const Plan& plan) {
    static const std::vector<std::string> environment = clean_environment();
    std::vector<std::string> env = environment;
    std::vector<char*> argp = pointers(argv), envp = pointers(env);
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) throw std::runtime_error("pipe2");
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    Ended e;
    // Every signal blocked across the fork: one sent early stays pending in
    // the child until its dispositions are set, instead of running Catch2's
    // fatal-signal handler (which deadlocks in a forked child).
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &before);
    auto start = Clock::now();
    pid_t pid = fork();
    if (pid != 0) pthread_sigmask(SIG_SETMASK, &before, nullptr);
    if (pid < 0) throw std::runtime_error("fork");
    if (pid == 0) {
        // Only async-signal-safe calls from here: the test has threads.
        struct sigaction action {};
        action.sa_handler = plan.ignore ? SIG_IGN : SIG_DFL;
        sigemptyset(&action.sa_mask);
        sigaction(SIGINT, &action, nullptr);
        sigaction(SIGTERM, &action, nullptr);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        dup2(null_fd, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execve(argp[0], argp.data(), envp.data());
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    close(null_fd);
    int fds[2] = {out[0], err[0]};
    drain(pid, fds, plan, start, e);
    e.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    int status = 0;
    waitpid(pid, &status, 0);  // its output has ended: it is exiting (or was killed)
    if (WIFSIGNALED(status)) e.died_by = WTERMSIG(status);
    e.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + e.died_by;
    return e;
}

}  // namespace tbucket::test
