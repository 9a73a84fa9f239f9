#pragma once

// Every signal tbucket handles, in one place (SPEC §8, §9). A command that
// may take tokens holds a SignalGuard (Context::catch_signals()) from
// before its first change to its exit: a signal then never leaves tokens
// taken by nobody. run's supervisor forwards signals to its command
// through a pipe of its own. An Error interrupted or terminated ends
// tbucket by that signal (die_by_ending_signal), so that a shell loop
// stops as it would for any other program.

#include <signal.h>

#include <iterator>

#include "util/error.h"

namespace tbucket::cli {

// Installs SIGINT and SIGTERM handlers that write the signal number to a
// pipe; its read end goes into WaitRequest::interrupt_fd. Restores the
// dispositions it found when destroyed (signals held stay held: the
// process is about to exit, and has committed).
class SignalGuard {
  public:
    SignalGuard();
    ~SignalGuard();
    SignalGuard(const SignalGuard&) = delete;
    SignalGuard& operator=(const SignalGuard&) = delete;
    // Readable once a signal came: for WaitRequest::interrupt_fd.
    int fd();

    // Blocks SIGINT and SIGTERM: from here one that comes stays pending.
    void hold();
    void release();
    // The signal that came before the hold, or 0.
    int arrived();
    // Before exec: a signal ignored when tbucket started is ignored again,
    // and SIGPIPE is the default, as the shell would have left them. The
    // handlers stay until exec itself resets them to the default.
    void prepare_exec();
    // Whether SIGINT or SIGTERM was ignored when tbucket started.
    bool ignored_at_start(int sig) const {
        return (sig == SIGINT ? found_int_ : found_term_).sa_handler == SIG_IGN;
    }

  private:
    int read_fd_ = -1;
    bool held_ = false;  // since hold(), until release()
    struct sigaction found_int_ {
    }, found_term_{};
};

// The signals run's supervisor passes on to its command, and SIGCHLD,
// which says the command ended. Each arrives through a pipe as a
// SignalArrival.
inline constexpr int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
struct SignalArrival {
    int sig;
    int code;  // si_code
};
// The forwarded signals and SIGCHLD.
sigset_t supervised_set();
// Handlers for the forwarded signals and SIGCHLD, each writing a
// SignalArrival to a pipe whose read end it returns; `found` gets what
// each forwarded one was, for the command to start as tbucket started.
int install_forwarding(struct sigaction (&found)[std::size(forwarded_signals)]);

// Notes the signal an Error interrupted or terminated stands for; after
// everything is flushed, main() dies by it (returns when there is none).
void note_ending_signal(const Error& e);
void die_by_ending_signal();

}  // namespace tbucket::cli
