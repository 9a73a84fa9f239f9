#pragma once

// What the terminal sees of a wait: signals turned into a readable fd for
// the library, and a one-line countdown on stderr.

#include <signal.h>

#include <string>

#include "output.h"
#include "wait/wait.h"

namespace tbucket::cli {

// Installs SIGINT and SIGTERM handlers that write the signal number to a
// pipe; its read end goes into WaitRequest::interrupt_fd. Restores the
// dispositions it found when destroyed (signals held stay held: the
// process is about to exit, and has committed).
class SignalPipe {
  public:
    SignalPipe();
    ~SignalPipe();
    SignalPipe(const SignalPipe&) = delete;
    SignalPipe& operator=(const SignalPipe&) = delete;
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

// "waiting for 3 tokens on api: ready in 2.4s" (or "timing out in 1s" when
// the deadline comes first), redrawn in place on a terminal after about a
// second of waiting, fitted to its width, cleared at the end; nothing with
// -q or when stderr is not a terminal. Also the one warning of a reconnect.
class Countdown : public WaitObserver {
  public:
    Countdown(Output& out, std::string tokens, std::string name);
    int progress_interval_ms() const override { return active_ ? 100 : 0; }
    void progress(const WaitProgress& p) override;
    void reconnecting(const Error& lost) override;
    void finished() override;

  private:
    void clear();
    Output& out_;
    std::string tokens_;  // "3 tokens"
    std::string name_;
    bool active_;
    bool drawn_ = false;
};

// --wait[=D] / --timeout D as typed: not given; given with no value
// (forever); given with a duration (0: do not wait).
struct WaitSpec {
    bool wait = false;
    std::optional<int64_t> timeout_ms;  // nullopt: forever
};
WaitSpec parse_wait(bool given, const std::string& text, const char* option);

class Context;

// Runs a wait with ^C handling and the countdown. Fills interrupt_fd.
WaitResult wait_with_terminal(Context& ctx, WaitRequest request);

}  // namespace tbucket::cli
