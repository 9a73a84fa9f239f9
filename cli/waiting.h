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
// `--wait` with no value waits for ever; a duration, up to it. A bare
// number typed as a word of its own (`take api --wait 3`) is refused: three
// seconds or three tokens? `--wait=3` and `--wait 0` are not ambiguous.
// `typed`: the command line's words; `command` and `name` make the
// message's example.
WaitSpec parse_wait(bool given, const std::string& text, const char* option,
                    const std::vector<std::string>& typed, const std::string& command,
                    const std::string& name);

class Context;
struct Target;

// --dry-run (take, run): would the take be granted now? Asks with a take
// that takes nothing and counts nothing (TakeMode::check; a missing bucket
// given settings is created, as the take would), prints the answer as a
// take's, and returns exit_ok or the denial's exit status.
int dry_run(Context& ctx, const Target& target, bool partial, int denied_exit);

// Runs a wait with ^C handling and the countdown. Fills interrupt_fd.
WaitResult wait_with_terminal(Context& ctx, WaitRequest request);

}  // namespace tbucket::cli
