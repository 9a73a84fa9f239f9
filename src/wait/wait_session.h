#pragma once

// What every kind of wait shares (src/wait/wait.cpp, src/wait/queue_wait.cpp): time
// arithmetic on the steady clock, signals through the caller's pipe, and the
// Session: deadline, progress reports and recovery after a lost connection.

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>

#include "bucket/bucket.h"
#include "redis/subscription.h"
#include "wait/wait.h"

namespace tbucket::wait_detail {

using Clock = std::chrono::steady_clock;
using WakeAt = std::optional<Clock::time_point>;

inline constexpr int64_t forever_ms = -1;

inline Clock::time_point after_ms(int64_t ms) {
    return Clock::now() + std::chrono::milliseconds(ms);
}

inline int64_t ms_until(Clock::time_point t) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(t - Clock::now()).count();
    return left <= 0 ? 0 : (left + 999) / 1000;  // round up: never wake early
}

inline int64_t ms_since(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

inline bool passed(const WakeAt& d) {
    return d && Clock::now() >= *d;
}

// The signal the caller's handler wrote to interrupt_fd, or 0.
inline int pending_signal(int fd) {
    if (fd < 0) return 0;
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 0) != 1) return 0;
    unsigned char sig = 0;
    return read(fd, &sig, 1) == 1 ? sig : 0;
}

[[noreturn]] inline void throw_signal(int sig, const std::string& what) {
    throw signal_error(sig, " " + what);
}

// What a wait or a follow shares: the deadline, signals, progress, and
// getting back on its feet after the connection drops.
class Session {
  public:
    // `channel`: the suffix of the channel to listen on (see Subscription).
    Session(Client& client, const std::string& name, std::optional<int64_t> timeout_ms,
            int interrupt_fd, WaitObserver& observer, const std::string& channel = ":events")
        : client_(client),
          subscription_(client.nodes(), client.key(name), channel),
          interrupt_fd_(interrupt_fd),
          observer_(observer) {
        if (timeout_ms) deadline_ = after_ms(*timeout_ms);
    }

    Subscription& subscription() { return subscription_; }
    const WakeAt& deadline() const { return deadline_; }
    int64_t waited_ms() const { return ms_since(start_); }
    int signal() const { return pending_signal(interrupt_fd_); }
    int interrupt_fd() const { return interrupt_fd_; }

    // How long the next sleep may be: up to `wake_at`, the deadline and the
    // next progress report.
    int64_t sleep_ms(const WakeAt& wake_at) const {
        int64_t ms = forever_ms;
        auto limit = [&ms](int64_t candidate) {
            ms = ms < 0 ? candidate : std::min(ms, candidate);
        };
        if (wake_at) limit(ms_until(*wake_at));
        if (deadline_) limit(ms_until(*deadline_));
        if (int every = observer_.progress_interval_ms(); every > 0) limit(every);
        return ms;
    }

    void report(const std::optional<int64_t>& ready_in_ms,
                const std::optional<int64_t>& grace_ms = std::nullopt) {
        if (observer_.progress_interval_ms() == 0) return;
        std::optional<int64_t> deadline_in;
        if (deadline_) deadline_in = ms_until(*deadline_);
        observer_.progress({waited_ms(), ready_in_ms, deadline_in, grace_ms});
    }

    // After a lost connection or a server busy for now: warn once, then
    // re-open with backoff until it works or the deadline passes (rethrows
    // the loss). The backoff keeps doubling across calls until a check
    // succeeds (succeeded()), so a server that accepts connections but
    // fails every call is not asked at 20 Hz. A change whose outcome is
    // unknown, or a server that refuses writes, is not recovered from.
    void recover(const Error& lost) {
        if (lost.kind() != ErrorKind::unavailable || lost.maybe_done()) throw lost;
        if (!warned_) observer_.reconnecting(lost);
        warned_ = true;
        client_.nodes().reset();  // where the bucket lives is asked anew
        for (;; backoff_ms_ = std::min<int64_t>(backoff_ms_ * 2, 1000)) {
            if (passed(deadline_)) throw lost;
            int64_t pause = deadline_ ? std::min(backoff_ms_, ms_until(*deadline_)) : backoff_ms_;
            pollfd pfd{interrupt_fd_, POLLIN, 0};
            poll(&pfd, interrupt_fd_ >= 0 ? 1 : 0, static_cast<int>(pause));
            if (pfd.revents) return;  // a signal: the caller's next look at signal() ends it
            try {
                subscription_.open();
                backoff_ms_ = std::min<int64_t>(backoff_ms_ * 2, 1000);
                return;
            } catch (const Error& again) {
                if (again.kind() != ErrorKind::unavailable) throw;
            }
        }
    }

    void succeeded() { backoff_ms_ = 50; }

    // The next message on the subscription, waiting at most until `wake_at`,
    // the deadline or a progress report (then an Event of kind none). A
    // lost connection or a moved slot is recovered from and reported as
    // nullopt: something may have changed unseen, look again.
    std::optional<Subscription::Event> next_event(const WakeAt& wake_at) {
        Subscription::Event event;
        try {
            // Behind Sentinels, a failover may leave the subscription on a
            // node that is silent or no longer the primary: they are asked
            // every few seconds where the primary is.
            const bool sentinels = !client_.nodes().sentinel_master().empty();
            int64_t ms = sleep_ms(wake_at);
            if (sentinels) ms = ms < 0 ? sentinel_check_ms : std::min(ms, sentinel_check_ms);
            event = subscription_.next(ms, interrupt_fd_);
            if (sentinels && event.kind == Subscription::Event::Kind::none &&
                ms_since(sentinels_asked_) >= sentinel_check_ms) {
                sentinels_asked_ = Clock::now();
                if (!client_.nodes().follow_sentinels()) return event;
                subscription_.open();
                return std::nullopt;
            }
            if (event.kind != Subscription::Event::Kind::moved) return event;
            subscription_.open();
        } catch (const Error& e) {
            recover(e);
        }
        return std::nullopt;
    }

  private:
    Client& client_;
    Subscription subscription_;
    int interrupt_fd_;
    WaitObserver& observer_;
    Clock::time_point start_ = Clock::now();
    WakeAt deadline_;
    bool warned_ = false;
    int64_t backoff_ms_ = 50;
    static constexpr int64_t sentinel_check_ms = 2000;
    Clock::time_point sentinels_asked_ = Clock::now();
};

}  // namespace tbucket::wait_detail
