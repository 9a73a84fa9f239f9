// Waiting in line (SPEC §10): a waiter that takes holds a ticket in the
// bucket's queue and listens on its own channel, where the script that sets
// tokens aside for it (or makes it first in line) tells it to look. It
// also looks when the refill schedule says its turn has come (first in
// line: its own tokens; further back: those of everyone ahead too), when
// the bucket's next lease ends, and to keep an expiring bucket alive. An
// idle waiter sends nothing and holds one connection: its subscription.

#include "wait/queue_wait.h"

#include <cmath>

#include "bucket/lease.h"
#include "wait/queue.h"
#include "wait/wait_session.h"

namespace tbucket {
namespace {

using namespace wait_detail;

// A waiter further back than this has no timer for a lease's end: those
// ahead look first, and a put or a release wakes whoever is first.
constexpr int64_t lease_backups = 8;

class QueuedWaiter {
  public:
    QueuedWaiter(Client& client, const WaitRequest& request, WaitObserver& observer)
        : client_(client),
          request_(request),
          ticket_(make_ticket(request)),
          session_(client, request.name, request.timeout_ms, request.interrupt_fd, observer,
                   ":w:" + ticket_.id) {}

    WaitResult run() {
        session_.subscription().open();  // first: the ticket's liveness is this subscription
        QueueAnswer answer = look_again(true);
        while (answer.result.taken == 0) {
            if (std::optional<TakeResult> served = sleep_until_worth_looking(answer))
                return finish(*served);
            // Woken past its deadline (stopped, or a slow machine): it only
            // leaves; what was set aside for it before then is still its.
            if (passed(session_.deadline())) return finish(leave_and_time_out(""));
            answer = look_again(false);
        }
        return finish(answer.result);
    }

  private:
    static Ticket make_ticket(const WaitRequest& r) {
        Ticket t;
        t.id = r.lease ? r.lease->id : new_lease_id();
        t.n = r.n;
        t.create_with = r.create_with;
        t.lease = r.lease;
        return t;
    }

    QueueAnswer enter() {
        set_patience();
        QueueAnswer a = enter_queue(client_, request_.name, ticket_);
        checked_at_ = Clock::now();
        if (a.place) ticket_.place = a.place;
        // Idle from here: only the subscription stays open.
        if (a.result.taken == 0) client_.nodes().close_all();
        return a;
    }

    // A waiter that dies holds no place after its own deadline: the server
    // drops the ticket then, and never serves it later (a waiter stopped
    // past its deadline is not served when it wakes). The time left, not
    // the whole timeout: the server counts from when the ticket joins.
    void set_patience() {
        if (const WakeAt& d = session_.deadline())
            ticket_.patience_ms = std::max<int64_t>(1, ms_until(*d));
    }

    // The first call may fail for good (no server, bad input); after it,
    // lost connections are survived until the deadline.
    QueueAnswer look_again(bool first) {
        for (;;) {
            stop_if_signalled();
            try {
                QueueAnswer a = enter();
                session_.succeeded();
                return a;
            } catch (const Error& e) {
                if (first && e.kind() != ErrorKind::unavailable) throw;
                if (e.kind() == ErrorKind::not_found) {
                    throw Error(ErrorKind::not_found,
                                "bucket '" + request_.name + "' was deleted while waiting");
                }
                session_.recover(e);
            }
        }
    }

    std::string what() const {
        std::string n = std::to_string(request_.n);
        return n + (request_.n == 1 ? " token" : " tokens") + " on '" + request_.name + "'";
    }

    // Quits the line; tokens set aside meanwhile are the caller's after all.
    std::optional<TakeResult> leave() {
        try {
            set_patience();
            QueueAnswer a = leave_queue(client_, request_.name, ticket_);
            if (a.result.taken > 0) return a.result;
        } catch (const Error& e) {
            // Out of reach: the ticket goes by itself (its channel falls
            // silent now), but tokens may have been set aside for it before
            // this waiter could leave, and it cannot tell: say so, as any
            // change whose outcome is unknown (SPEC §8), never "nothing taken".
            if (e.kind() != ErrorKind::unavailable) throw;
            throw Error(ErrorKind::unavailable,
                        std::string(e.what()) + "; the wait for " + what() +
                            " could not leave the line, so whether tokens were set aside for it is "
                            "unknown",
                        true);
        }
        return std::nullopt;
    }

    void stop_if_signalled() {
        int sig = session_.signal();
        if (!sig) return;
        if (std::optional<TakeResult> given = leave()) give_back(*given);
        throw_signal(sig, "while waiting for " + what() + "; nothing taken");
    }

    [[noreturn]] void timed_out() {
        int64_t waited = request_.timeout_ms.value_or(session_.waited_ms());
        throw Error(ErrorKind::timeout,
                    "timed out after " + format_exact_ms(waited) + " waiting for " + what());
    }

    // When to look without being told: the refill schedule of everyone up
    // to this ticket, the next lease's end, and the bucket's idle expiry.
    WakeAt own_timer(const QueueAnswer& a) const {
        const State& s = a.result.state;
        WakeAt at;
        auto sooner = [&at](Clock::time_point t) { at = at ? std::min(*at, t) : t; };
        if (s.rate) {
            double missing = a.ahead + static_cast<double>(request_.n) - s.tokens;
            double ms = std::ceil(std::max(0.0, missing) * static_cast<double>(s.rate->period_ms) /
                                  s.rate->amount);
            if (ms < static_cast<double>(max_duration_ms))
                sooner(after_ms(static_cast<int64_t>(ms) + 1));
        }
        if (a.result.next_lease_end_ms && a.position <= lease_backups) {
            // The first looks when the lease ends; the next few a little
            // later, in case those ahead of them are gone.
            sooner(
                after_ms(*a.result.next_lease_end_ms + 1 + 25 * std::max<int64_t>(a.position, 0)));
        }
        if (s.expire_ms) {
            sooner(checked_at_ +
                   std::chrono::milliseconds(std::max<int64_t>(*s.expire_ms / 2, 50)));
        }
        return at;
    }

    // Returns to look again; or with the tokens set aside for the ticket
    // just as its waiter gave up (the deadline): they are its after all.
    std::optional<TakeResult> sleep_until_worth_looking(const QueueAnswer& a) {
        if (request_.timeout_ms == 0) {
            return leave_and_time_out("not there now: " + what() + " (a zero timeout looks once)");
        }
        WakeAt wake_at = own_timer(a);
        for (;;) {
            stop_if_signalled();
            if (passed(wake_at)) return std::nullopt;
            if (passed(session_.deadline())) return leave_and_time_out("");
            session_.report(wake_at ? std::optional<int64_t>(ms_until(*wake_at)) : std::nullopt);
            std::optional<Subscription::Event> next = session_.next_event(wake_at);
            if (!next)
                return std::nullopt;  // reconnected or moved: the ticket may have been dropped
            const Subscription::Event& event = *next;
            if (event.kind == Subscription::Event::Kind::none) continue;
            if (event.payload == "ping") continue;
            // "served", "wake", "deleted" (anyone may publish it: the look
            // finds out), or anything else: look.
            return std::nullopt;
        }
    }

    TakeResult leave_and_time_out(const std::string& message) {
        if (std::optional<TakeResult> given = leave()) return *given;
        if (!message.empty()) throw Error(ErrorKind::timeout, message);
        timed_out();
    }

    void give_back(const TakeResult& taken) {
        try {
            if (taken.leased()) {
                release_lease(client_, request_.name, ticket_.id);
            } else {
                client_.put(request_.name, taken.taken, false, std::nullopt);
            }
        } catch (const Error&) {
        }
    }

    // A signal that came while the tokens were being taken still wins.
    WaitResult finish(const TakeResult& result) {
        if (int sig = session_.signal()) {
            give_back(result);
            throw_signal(sig, "while waiting for " + what() + "; nothing taken");
        }
        return WaitResult{result, session_.waited_ms()};
    }

    Client& client_;
    const WaitRequest& request_;
    Ticket ticket_;
    Session session_;
    Clock::time_point checked_at_ = Clock::now();
};

}  // namespace

WaitResult wait_in_line(Client& client, const WaitRequest& request, WaitObserver& observer) {
    QueuedWaiter waiter(client, request, observer);
    return waiter.run();
}

}  // namespace tbucket
