#include "waiting.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "app.h"
#include "parse.h"

namespace tbucket::cli {
namespace {

int write_fd = -1;

void on_signal(int sig) {
    unsigned char byte = static_cast<unsigned char>(sig);
    ssize_t ignored = write(write_fd, &byte, 1);
    (void)ignored;
}

void set_handler(int sig, void (*handler)(int)) {
    struct sigaction action {};
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: a blocking poll returns at once
    sigaction(sig, &action, nullptr);
}

}  // namespace

SignalPipe::SignalPipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return;  // then signals simply kill us, as by default
    read_fd_ = fds[0];
    write_fd = fds[1];
    sigaction(SIGINT, nullptr, &found_int_);
    sigaction(SIGTERM, nullptr, &found_term_);
    set_handler(SIGINT, on_signal);
    set_handler(SIGTERM, on_signal);
}

SignalPipe::~SignalPipe() {
    if (read_fd_ < 0) return;
    sigaction(SIGINT, &found_int_, nullptr);
    sigaction(SIGTERM, &found_term_, nullptr);
    // Held since the commit: stay held to the exit. Released here, a signal
    // that came meanwhile would kill tbucket (the handler is gone) before
    // exit flushes the result: tokens taken, no result, status 130/143.
    if (!held_) release();
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

int SignalPipe::arrived() {
    if (read_fd_ < 0) return 0;
    unsigned char sig = 0;
    if (read(read_fd_, &sig, 1) == 1) return sig;
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGTERM)) return SIGTERM;
    if (sigismember(&pending, SIGINT)) return SIGINT;
    return 0;
}

void SignalPipe::prepare_exec() {
    if (found_int_.sa_handler == SIG_IGN) set_handler(SIGINT, SIG_IGN);
    if (found_term_.sa_handler == SIG_IGN) set_handler(SIGTERM, SIG_IGN);
    set_handler(SIGPIPE, SIG_DFL);
}

Countdown::Countdown(Output& out, std::string what)
    : out_(out), what_(std::move(what)), active_(!out.quiet() && isatty(STDERR_FILENO)) {}

void Countdown::progress(const WaitProgress& p) {
    if (!active_ || p.waited_ms < 1000) return;
    std::string line = "waiting for " + what_ + ": ";
    line += p.ready_in_ms ? format_duration_ms(*p.ready_in_ms) : format_duration_ms(p.waited_ms) + " so far";
    std::string padded = "\r" + line;
    if (line.size() < drawn_) padded += std::string(drawn_ - line.size(), ' ');
    drawn_ = line.size();
    std::fputs(padded.c_str(), stderr);
    std::fflush(stderr);
}

void Countdown::clear() {
    if (drawn_ == 0) return;
    std::fputs(("\r" + std::string(drawn_, ' ') + "\r").c_str(), stderr);
    std::fflush(stderr);
    drawn_ = 0;
}

void Countdown::reconnecting(const Error& lost) {
    clear();
    out_.warning(std::string(lost.what()) + "; reconnecting until the wait's deadline");
}

void Countdown::finished() { clear(); }

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
    Countdown countdown(ctx.out, n + (request.n == 1 ? " token" : " tokens") + " on " + request.name);
    return wait_for(ctx.client(), request, countdown);
}

}  // namespace tbucket::cli
