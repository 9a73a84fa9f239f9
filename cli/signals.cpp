#include "signals.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace tbucket::cli {
namespace {

int write_fd = -1;                        // the pipe a waiter polls, once made
volatile sig_atomic_t caught_signal = 0;  // the first SIGINT or SIGTERM

void set_handler(int sig, void (*handler)(int), struct sigaction* found = nullptr) {
    struct sigaction action {};
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: a blocking poll returns at once
    sigaction(sig, &action, found);
}

// The first signal is noted for the command to act on once its change is
// settled (which may take the retry window on a server that does not
// answer); a second one ends tbucket at once, as the user insists.
void on_signal(int sig) {
    if (caught_signal) {
        set_handler(sig, SIG_DFL);
        raise(sig);  // delivered when this handler returns
        return;
    }
    caught_signal = sig;
    if (write_fd < 0) return;
    unsigned char byte = static_cast<unsigned char>(sig);
    ssize_t ignored = write(write_fd, &byte, 1);
    (void)ignored;
}

}  // namespace

// A one-shot command needs only the handler and its flag; the pipe, for a
// waiter to poll, is made on first use (each system call shows in a
// one-shot command's time, bench/README.md).
SignalGuard::SignalGuard() {
    set_handler(SIGINT, on_signal, &found_int_);
    set_handler(SIGTERM, on_signal, &found_term_);
}

int SignalGuard::fd() {
    if (read_fd_ >= 0) return read_fd_;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -1;  // then waits notice signals late
    read_fd_ = fds[0];
    write_fd = fds[1];
    if (caught_signal) {  // came before the pipe: the waiter must see it too
        unsigned char byte = static_cast<unsigned char>(caught_signal);
        ssize_t ignored = write(write_fd, &byte, 1);
        (void)ignored;
    }
    return read_fd_;
}

// Held since the commit: the command has finished and the process is about
// to exit, so nothing is undone. Released here, a signal that came meanwhile
// would kill tbucket before exit flushes the result (tokens taken, no
// result, status 130/143); main() lets through only the one that ended a
// command.
SignalGuard::~SignalGuard() {
    if (held_) return;
    sigaction(SIGINT, &found_int_, nullptr);
    sigaction(SIGTERM, &found_term_, nullptr);
    if (read_fd_ < 0) return;
    close(read_fd_);
    close(write_fd);
    write_fd = -1;
}

namespace {
sigset_t int_and_term() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
}
}  // namespace

void SignalGuard::hold() {
    sigset_t set = int_and_term();
    sigprocmask(SIG_BLOCK, &set, nullptr);
    held_ = true;
}

void SignalGuard::release() {
    sigset_t set = int_and_term();
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    held_ = false;
}

// One that comes while held stays pending and is never acted on: it came
// after the commit point.
int SignalGuard::arrived() {
    return caught_signal;
}

void SignalGuard::prepare_exec() {
    if (found_int_.sa_handler == SIG_IGN) set_handler(SIGINT, SIG_IGN);
    if (found_term_.sa_handler == SIG_IGN) set_handler(SIGTERM, SIG_IGN);
    set_handler(SIGPIPE, SIG_DFL);
}

namespace {

int signal_write_fd = -1;

void on_forwarded(int sig, siginfo_t* info, void*) {
    SignalArrival a{sig, info ? info->si_code : SI_USER};
    int saved = errno;
    ssize_t ignored = write(signal_write_fd, &a, sizeof a);
    (void)ignored;
    errno = saved;
}

// The signal that ended the command, to die by once all is cleaned up: a
// shell stops a loop only when its child was killed by SIGINT.
int ending_signal = 0;

}  // namespace

sigset_t supervised_set() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : forwarded_signals) sigaddset(&set, sig);
    sigaddset(&set, SIGCHLD);
    return set;
}

// Handlers for the forwarded signals and SIGCHLD; `found` gets what each
// forwarded one was, for the command to start as tbucket started.
int install_forwarding(struct sigaction (&found)[std::size(forwarded_signals)]) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        throw Error(ErrorKind::internal, "cannot make a pipe for signals");
    signal_write_fd = fds[1];
    struct sigaction action {};
    action.sa_sigaction = on_forwarded;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&action.sa_mask);
    for (std::size_t i = 0; i < std::size(forwarded_signals); ++i)
        sigaction(forwarded_signals[i], &action, &found[i]);
    action.sa_flags |= SA_NOCLDSTOP;
    sigaction(SIGCHLD, &action, nullptr);
    return fds[0];
}

void note_ending_signal(const Error& e) {
    if (e.kind() == ErrorKind::interrupted) ending_signal = SIGINT;
    if (e.kind() == ErrorKind::terminated) ending_signal = SIGTERM;
}

void die_by_ending_signal() {
    if (!ending_signal) return;
    std::fflush(nullptr);
    signal(ending_signal, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, ending_signal);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    raise(ending_signal);
}

}  // namespace tbucket::cli
