#include "waiting.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

#include "app.h"
#include "util/name_list.h"
#include "util/parse.h"

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
SignalPipe::SignalPipe() {
    set_handler(SIGINT, on_signal, &found_int_);
    set_handler(SIGTERM, on_signal, &found_term_);
}

int SignalPipe::fd() {
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
SignalPipe::~SignalPipe() {
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

void SignalPipe::hold() {
    sigset_t set = int_and_term();
    sigprocmask(SIG_BLOCK, &set, nullptr);
    held_ = true;
}

void SignalPipe::release() {
    sigset_t set = int_and_term();
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    held_ = false;
}

// One that comes while held stays pending and is never acted on: it came
// after the commit point.
int SignalPipe::arrived() {
    return caught_signal;
}

void SignalPipe::prepare_exec() {
    if (found_int_.sa_handler == SIG_IGN) set_handler(SIGINT, SIG_IGN);
    if (found_term_.sa_handler == SIG_IGN) set_handler(SIGTERM, SIG_IGN);
    set_handler(SIGPIPE, SIG_DFL);
}

namespace {

// Columns of the terminal on stderr; 80 when it cannot tell.
std::size_t terminal_columns() {
    winsize size{};
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    return 80;
}

// Counts to what comes first: the refill's ready time or the deadline.
std::string remaining_text(const WaitProgress& p) {
    if (p.deadline_in_ms && (!p.ready_in_ms || *p.deadline_in_ms < *p.ready_in_ms)) {
        return "timing out in " + format_duration_ms(*p.deadline_in_ms);
    }
    if (p.ready_in_ms) return "ready in " + format_duration_ms(*p.ready_in_ms);
    return format_duration_ms(p.waited_ms) + " so far";
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

WaitSpec parse_wait(bool given, const std::string& text, const char* option) {
    WaitSpec spec;
    if (!given) return spec;
    if (text.empty()) {
        spec.wait = true;
        return spec;
    }
    spec.timeout_ms = parse_duration_ms(option, text);
    spec.wait = *spec.timeout_ms > 0;
    return spec;
}

WaitResult wait_with_terminal(Context& ctx, WaitRequest request) {
    request.interrupt_fd = ctx.signals().fd();
    std::string n = std::to_string(request.n);
    Countdown countdown(ctx.out, n + (request.n == 1 ? " token" : " tokens"), request.name);
    return wait_for(ctx.client(), request, countdown);
}

MultiWaitResult take_target(Context& ctx, const Target& target, const WaitSpec& wait, TakeMode mode,
                            const LeaseSpec* lease) {
    ctx.signals();
    if (!wait.wait) return {take_many(ctx.client(), target.list, mode, lease, target.settings), 0};
    const NamedCount& first = target.list.front();
    std::string tokens = std::to_string(first.count) + (first.count == 1 ? " token" : " tokens");
    if (ctx.named_a_list) tokens = "the tokens of all";
    Countdown countdown(ctx.out, tokens, join_names(target.list));
    LineRequest line{target.list, target.settings,
                     lease ? std::optional<LeaseSpec>(*lease) : std::nullopt, wait.timeout_ms,
                     ctx.signals().fd()};
    return wait_in_line(ctx.client(), line, countdown);
}

}  // namespace tbucket::cli
