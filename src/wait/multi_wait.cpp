#include "wait/multi_wait.h"

#include <poll.h>

#include <algorithm>
#include <map>
#include <memory>

#include "bucket/multi_detail.h"
#include "redis/subscription.h"
#include "wait/wait_session.h"

namespace tbucket {

using namespace wait_detail;

namespace {

// The first bucket that said no, and when to look again without being
// told: its refill, or its next lease's end.
std::size_t first_refusal(const MultiTakeResult& r) {
    for (std::size_t i = 0; i < r.buckets.size(); ++i) {
        if (r.refused(i)) return i;
    }
    return 0;
}

WakeAt earliest(WakeAt a, WakeAt b) {
    if (!a) return b;
    if (!b) return a;
    return std::min(*a, *b);
}

// When to look again without an event: the refill or next lease end of the
// bucket that said no, and, for a bucket with an idle expiry, half of it
// (a look is a use: it keeps the bucket from expiring under the waiter).
WakeAt look_again_at(const MultiTakeResult& r, std::size_t refused) {
    const TakeResult& t = r.buckets[refused];
    WakeAt at;
    if (t.retry_after_ms) at = after_ms(*t.retry_after_ms + 1);
    if (t.next_lease_end_ms) at = earliest(at, after_ms(*t.next_lease_end_ms + 1));
    for (const TakeResult& b : r.buckets) {
        if (b.state.expire_ms)
            at = earliest(at, after_ms(std::max<int64_t>(*b.state.expire_ms / 2, 50)));
    }
    return at;
}

}  // namespace

namespace {

// A list waiter: its subscriptions (one per bucket that said no, opened when
// it first did) and its deadline.
class ListWaiter {
  public:
    ListWaiter(Client& client, const std::vector<NamedCount>& list,
               std::optional<int64_t> timeout_ms, int interrupt_fd, const LeaseSpec* lease)
        : client_(client), list_(list), timeout_ms_(timeout_ms), fd_(interrupt_fd), lease_(lease) {
        if (timeout_ms) deadline_ = after_ms(*timeout_ms);
        what_.append("'").append(join_names(list)).append("'; nothing taken");
    }

    MultiWaitResult run() {
        for (;;) {
            if (int sig = pending_signal(fd_)) throw_signal(sig, "while waiting for " + what_);
            try {
                if (std::optional<MultiTakeResult> r = look())
                    return {std::move(*r), ms_since(start_)};
                backoff_ms_ = 50;
            } catch (const Error& e) {
                recover(e);
            }
        }
    }

  private:
    // One all-or-none take; nullopt after sleeping when it was denied.
    std::optional<MultiTakeResult> look() {
        MultiTakeResult r = take_many(client_, list_, TakeMode::all, lease_);
        if (r.ok()) return r;
        std::size_t i = first_refusal(r);
        auto& sub = subscribed_[i];
        if (!sub) {
            // Subscribed first, then looked at again: no change falls between.
            sub = std::make_unique<Subscription>(client_.nodes(), client_.key(list_[i].name));
            sub->open();
            return std::nullopt;
        }
        if (timeout_ms_ == 0)
            throw Error(ErrorKind::timeout,
                        "not there now: " + what_ + " (a zero timeout looks once)");
        if (passed(deadline_)) {
            throw Error(ErrorKind::timeout, "timed out after " + format_exact_ms(*timeout_ms_) +
                                                " waiting for " + what_);
        }
        WakeAt wake = look_again_at(r, i);
        if (deadline_ && (!wake || *deadline_ < *wake)) wake = deadline_;
        Subscription::Event event = sub->next(wake ? ms_until(*wake) : -1, fd_);
        if (event.kind == Subscription::Event::Kind::moved) sub.reset();
        return std::nullopt;
    }

    // A lost connection: again with growing pauses until the deadline, as a
    // single wait does; anything else (an outcome unknown) ends the wait.
    void recover(const Error& lost) {
        if (lost.kind() != ErrorKind::unavailable || lost.maybe_done() || passed(deadline_))
            throw lost;
        subscribed_.clear();
        client_.nodes().reset();
        int64_t pause = deadline_ ? std::min(backoff_ms_, ms_until(*deadline_)) : backoff_ms_;
        pollfd pfd{fd_, POLLIN, 0};
        poll(&pfd, fd_ >= 0 ? 1 : 0, static_cast<int>(pause));
        backoff_ms_ = std::min<int64_t>(backoff_ms_ * 2, 1000);
    }

    Client& client_;
    const std::vector<NamedCount>& list_;
    std::optional<int64_t> timeout_ms_;
    int fd_;
    const LeaseSpec* lease_;
    WakeAt deadline_;
    Clock::time_point start_ = Clock::now();
    std::string what_;
    std::map<std::size_t, std::unique_ptr<Subscription>> subscribed_;
    int64_t backoff_ms_ = 50;
};

}  // namespace

namespace multi_detail {

MultiWaitResult wait_unqueued(Client& client, const std::vector<NamedCount>& list,
                              std::optional<int64_t> timeout_ms, int interrupt_fd,
                              const LeaseSpec* lease) {
    return ListWaiter(client, list, timeout_ms, interrupt_fd, lease).run();
}

}  // namespace multi_detail

}  // namespace tbucket
