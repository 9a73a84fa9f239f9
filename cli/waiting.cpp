#include "waiting.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "app.h"
#include "config.h"
#include "exit_codes.h"
#include "util/name_list.h"
#include "util/parse.h"

namespace tbucket::cli {
namespace {

// Columns of the terminal on stderr; 80 when it cannot tell.
std::size_t terminal_columns() {
    winsize size{};
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    return 80;
}

// Counts to what comes first: the refill's ready time or the deadline;
// says why when a restart grace holds the lease (else a wait of seconds on
// a semaphore nobody holds would be a mystery).
std::string remaining_text(const WaitProgress& p) {
    std::string why = p.grace_ms ? " (Redis restart grace)" : "";
    if (p.deadline_in_ms && (!p.ready_in_ms || *p.deadline_in_ms < *p.ready_in_ms)) {
        return "timing out in " + format_duration_ms(*p.deadline_in_ms) + why;
    }
    if (p.ready_in_ms) return "ready in " + format_duration_ms(*p.ready_in_ms) + why;
    return format_duration_ms(p.waited_ms) + " so far" + why;
}

// head + name + tail within `limit` columns, the name cut short with "..."
// if need be (keeping at least `min_name` of its characters), or "".
std::string with_name(const std::string& head, const std::string& name, const std::string& tail,
                      std::size_t limit, std::size_t min_name) {
    if (head.size() + name.size() + tail.size() <= limit) return head + name + tail;
    std::size_t others = head.size() + tail.size() + 3;
    if (others + min_name > limit) return "";
    return head + name.substr(0, limit - others) + "..." + tail;
}

// A line that wraps cannot be redrawn in place (each redraw would scroll a
// new copy), so it gives way to the width: first the name is cut short,
// then "waiting for N tokens on" goes, then the end of the line. Names and
// the rest are ASCII, so a byte is a column.
std::string fit(const std::string& head, const std::string& name, const std::string& tail,
                std::size_t columns) {
    std::size_t limit = columns > 1 ? columns - 1 : 1;  // the last column wraps on some terminals
    for (const std::string& line :
         {with_name(head, name, tail, limit, 8), with_name("", name, tail, limit, 1)}) {
        if (!line.empty()) return line;
    }
    return (name + tail).substr(0, limit);
}

}  // namespace

Countdown::Countdown(Output& out, std::string tokens, std::string name)
    : out_(out),
      tokens_(std::move(tokens)),
      name_(std::move(name)),
      active_(!out.quiet() && isatty(STDERR_FILENO)) {}

void Countdown::progress(const WaitProgress& p) {
    if (!active_ || p.waited_ms < 1000) return;
    std::string line =
        fit("waiting for " + tokens_ + " on ", name_, ": " + remaining_text(p), terminal_columns());
    // \r and erase-to-end-of-line: a shorter line leaves nothing behind.
    std::fputs(("\r\x1b[K" + line).c_str(), stderr);
    std::fflush(stderr);
    drawn_ = true;
}

void Countdown::clear() {
    if (!drawn_) return;
    std::fputs("\r\x1b[K", stderr);
    std::fflush(stderr);
    drawn_ = false;
}

void Countdown::reconnecting(const Error& lost) {
    clear();
    out_.warning(std::string(lost.what()) + "; reconnecting until the wait's deadline");
}

void Countdown::finished() {
    clear();
}

WaitSpec parse_wait(bool given, const std::string& text, const char* option,
                    const std::vector<std::string>& typed, const std::string& command,
                    const std::string& name) {
    WaitSpec spec;
    if (!given) return spec;
    if (text.empty()) {
        spec.wait = true;
        return spec;
    }
    bool with_equals =
        std::find(typed.begin(), typed.end(), std::string(option) + "=" + text) != typed.end();
    if (text != "0" && !with_equals && text.find_first_not_of("0123456789") == std::string::npos) {
        throw Error(ErrorKind::usage, std::string(option) + " " + text + " is ambiguous: write " +
                                          option + "=" + text + "s, or put the count first: " +
                                          command + " " + name + " " + text + " " + option);
    }
    spec.timeout_ms = parse_duration_ms(option, text);
    spec.wait = *spec.timeout_ms > 0;
    return spec;
}

WaitResult wait_with_terminal(Context& ctx, WaitRequest request) {
    request.interrupt_fd = ctx.catch_signals().fd();
    std::string n = std::to_string(request.n);
    Countdown countdown(ctx.out, n + (request.n == 1 ? " token" : " tokens"), request.name);
    return wait_for(ctx.client(), request, countdown);
}

namespace {

// A list whose buckets are defined in the config files: those missing are
// created with their definitions (SPEC §14), only when the list's take
// found one missing, so that the list costs nothing more once they exist.
// One defined with other settings than its bucket's is exit 4, as create.
// True when it created any.
bool create_defined(Context& ctx, const Target& target) {
    bool any = false;
    for (const NamedCount& c : target.list) {
        std::optional<Settings> defined = config().settings_of(c.name);
        if (!defined) continue;
        CreateResult made = ctx.client().create(c.name, *defined, std::nullopt, CreateMode::ensure,
                                                ctx.global.restart_grace_ms);
        any = any || made.outcome == CreateOutcome::created;
    }
    return any;
}

MultiWaitResult take_target_once(Context& ctx, const Target& target, const WaitSpec& wait,
                                 TakeMode mode, const LeaseSpec* lease) {
    if (!wait.wait) return {take_many(ctx.client(), target.list, mode, lease, target.settings), 0};
    const NamedCount& first = target.list.front();
    std::string tokens = std::to_string(first.count) + (first.count == 1 ? " token" : " tokens");
    if (ctx.named_a_list) tokens = "the tokens of all";
    Countdown countdown(ctx.out, tokens, join_names(target.list));
    LineRequest line{target.list, target.settings,
                     lease ? std::optional<LeaseSpec>(*lease) : std::nullopt, wait.timeout_ms,
                     ctx.catch_signals().fd()};
    return wait_in_line(ctx.client(), line, countdown);
}

}  // namespace

MultiWaitResult take_target(Context& ctx, const Target& target, const WaitSpec& wait, TakeMode mode,
                            const LeaseSpec* lease) {
    ctx.catch_signals();
    if (!ctx.named_a_list) return take_target_once(ctx, target, wait, mode, lease);
    try {
        return take_target_once(ctx, target, wait, mode, lease);
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::not_found || !create_defined(ctx, target)) throw;
    }
    return take_target_once(ctx, target, wait, mode, lease);
}

}  // namespace tbucket::cli

namespace tbucket::cli {

int dry_run(Context& ctx, const Target& target, bool partial, int denied_exit) {
    MultiWaitResult r = take_target(ctx, target, WaitSpec{}, TakeMode::check, nullptr);
    // What a take would have taken now: each bucket with enough, no waiter
    // served before it and no grace holding it (all or none for a list).
    MultiTakeResult would = r.result;
    bool all = true;
    for (TakeResult& t : would.buckets) {
        double wanted = partial ? 1.0 : static_cast<double>(t.requested);
        bool enough = t.state.available() >= wanted && t.queued_ahead == 0 && !t.grace_ms;
        t.taken = !enough ? 0
                  : partial
                      ? std::min<int64_t>(t.requested, static_cast<int64_t>(t.state.available()))
                      : t.requested;
        all = all && enough;
    }
    ctx.out.dry_run(would, ctx.named_a_list);
    return all ? exit_ok : denied_exit;
}

}  // namespace tbucket::cli
