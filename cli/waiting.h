#pragma once

// What the terminal sees of a wait: a one-line countdown on stderr.

#include <string>

#include "output.h"
#include "signals.h"
#include "wait/wait.h"

namespace tbucket::cli {

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
