// Waiting in line (SPEC §10, §11): one waiter for one bucket or several. It
// holds a ticket in the queue of each bucket (several: one place in all, so
// that tickets are in the same order in every queue they share, and the
// earliest waiting is first in all of its queues: it waits for tokens only,
// never for another ticket, so waiters cannot deadlock) and listens on its
// own channel, at its first bucket, where the scripts tell it to look: when
// tokens are set aside for it, or it is first somewhere with its tokens.
// It also looks when the refill schedule says its turn has come (its own
// tokens and those of everyone ahead), when a bucket's next lease ends, to
// keep holding a queue it is first in while another bucket is awaited, and
// to keep an expiring bucket alive. An idle waiter sends nothing and holds
// one connection: its subscription.

#include <algorithm>
#include <cmath>

#include "bucket/lease.h"
#include "wait/multi_wait.h"
#include "wait/queue.h"
#include "wait/wait_session.h"

namespace tbucket {
namespace {

using namespace wait_detail;

// A waiter further back than this has no timer for a lease's end: those
// ahead look first, and a put or a release wakes whoever is first.
constexpr int64_t lease_backups = 8;

// How often a list waiter that holds a queue looks, to show it is alive: a
// waiter stopped for longer than the server's grace (list_grace_ms in
// src/bucket/scripts/common.lua: 5 s) holds up no one.
constexpr int64_t list_heartbeat_ms = 1500;

class QueuedWaiter {
  public:
    QueuedWaiter(Client& client, const LineRequest& line, WaitObserver& observer)
        : client_(client),
          line_(line),
          ticket_{line.lease ? line.lease->id : new_lease_id(), line.create_with, line.lease, 0,
                  std::nullopt},
          session_(client, line.list.front().name, line.timeout_ms, line.interrupt_fd, observer,
                   ":w:" + ticket_.id) {}

    // nullopt: one script cannot reach every bucket (a cluster's shards).
    std::optional<MultiWaitResult> run() {
        session_.subscription().open();  // first: the ticket's liveness is this subscription
        std::optional<LineAnswer> a = look_again(true);
        if (!a) return std::nullopt;
        while (!a->result.ok()) {
            // Put back in a queue it had been dropped from: it may be first
            // there already, and no one would tell it.
            bool back = std::count(a->position.begin(), a->position.end(), -2) > 0;
            if (!back) {
                if (std::optional<MultiTakeResult> served = sleep_until_worth_looking(*a))
                    return finish(std::move(*served));
                // Woken past its deadline (stopped, or a slow machine): it
                // only leaves; what was set aside for it before then is
                // still its.
                if (passed(session_.deadline())) return finish(leave_and_time_out(""));
            }
            a = look_again(false);
            if (!a) throw Error(ErrorKind::internal, "the buckets moved to several shards");
        }
        return finish(std::move(a->result));
    }

  private:
    bool one() const { return line_.list.size() == 1; }

    std::string what() const {
        if (!one()) return std::string("'").append(join_names(line_.list)).append("'");
        const NamedCount& c = line_.list.front();
        return std::to_string(c.count) + (c.count == 1 ? " token" : " tokens") + " on '" + c.name +
               "'";
    }

    // A waiter that dies holds no place after its own deadline: the server
    // drops the ticket then, and never serves it later (a waiter stopped
    // past its deadline is not served when it wakes). The time left, not
    // the whole timeout: the server counts from when the ticket joins.
    std::optional<LineAnswer> call(LineOp op) {
        if (const WakeAt& d = session_.deadline())
            ticket_.patience_ms = std::max<int64_t>(1, ms_until(*d));
        std::optional<LineAnswer> a = in_line(client_, line_.list, ticket_, op);
        if (a && a->place) ticket_.place = a->place;
        return a;
    }

    // The first call may fail for good (no server, bad input); after it,
    // lost connections are survived until the deadline.
    std::optional<LineAnswer> look_again(bool first) {
        for (;;) {
            stop_if_signalled();
            try {
                std::optional<LineAnswer> a = call(LineOp::enter);
                checked_at_ = Clock::now();
                session_.succeeded();
                // Idle from here: only the subscription stays open.
                if (a && !a->result.ok()) client_.nodes().close_all();
                return a;
            } catch (const Error& e) {
                if (first && e.kind() != ErrorKind::unavailable) throw;
                if (e.kind() == ErrorKind::not_found) {
                    if (!one()) leave();  // the other buckets' queues: no ticket left behind
                    const std::string gone = e.what(), prefix = "no such bucket: ";
                    std::string name = gone.rfind(prefix, 0) == 0 ? gone.substr(prefix.size())
                                                                  : line_.list.front().name;
                    throw Error(ErrorKind::not_found,
                                "bucket '" + name + "' was deleted while waiting for " + what());
                }
                session_.recover(e);
            }
        }
    }

    // Quits the line; tokens set aside meanwhile (one bucket) are the
    // caller's after all.
    std::optional<MultiTakeResult> leave() {
        try {
            std::optional<LineAnswer> a = call(LineOp::leave);
            if (a && a->result.ok()) return std::move(a->result);
        } catch (const Error& e) {
            // Several buckets: a ticket left behind is dropped when its turn
            // comes, its channel silent, or at its patience; nothing was
            // set aside for it.
            if (!one()) return std::nullopt;
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
        if (std::optional<MultiTakeResult> given = leave()) give_back_and_end(sig, *given);
        throw_signal(sig, "while waiting for " + what() + "; nothing taken");
    }

    // When to look without being told: for each bucket, the refill of its
    // tokens and those ahead, the next lease's end, half its idle expiry.
    WakeAt own_timer(const LineAnswer& a) const {
        WakeAt at;
        auto sooner = [&at](Clock::time_point t) { at = at ? std::min(*at, t) : t; };
        for (std::size_t i = 0; i < line_.list.size(); ++i) {
            const TakeResult& t = a.result.buckets[i];
            const State& s = t.state;
            const double n = static_cast<double>(line_.list[i].count);
            if (s.window && s.tokens < a.ahead[i] + n) sooner(after_ms(*s.resets_in_ms() + 1));
            if (s.rate) {
                double missing = a.ahead[i] + n - s.tokens;
                double ms = std::ceil(std::max(0.0, missing) *
                                      static_cast<double>(s.rate->period_ms) / s.rate->amount);
                if (ms < static_cast<double>(max_duration_ms))
                    sooner(after_ms(static_cast<int64_t>(ms) + 1));
            }
            // Holding a queue (first there, with its tokens there) while
            // another bucket is awaited: looks often enough to keep it.
            if (!one() && a.position[i] == 0 && s.tokens >= n) sooner(after_ms(list_heartbeat_ms));
            // The first looks when the lease ends; the next few a little
            // later, in case those ahead of them are gone.
            if (t.next_lease_end_ms && a.position[i] <= lease_backups)
                sooner(
                    after_ms(*t.next_lease_end_ms + 1 + 25 * std::max<int64_t>(a.position[i], 0)));
            if (s.expire_ms)
                sooner(checked_at_ +
                       std::chrono::milliseconds(std::max<int64_t>(*s.expire_ms / 2, 50)));
        }
        return at;
    }

    // The longest restart grace that holds this ticket's lease back, as
    // left now (the answer's figures were counted when it was asked).
    std::optional<int64_t> grace_left(const LineAnswer& a) const {
        std::optional<int64_t> left;
        for (const TakeResult& t : a.result.buckets) {
            if (!t.grace_ms) continue;
            int64_t ms =
                std::max<int64_t>(0, ms_until(t.asked_at + std::chrono::milliseconds(*t.grace_ms)));
            left = std::max(left.value_or(0), ms);
        }
        return left;
    }

    // Returns to look again; or with the tokens set aside for the ticket
    // just as its waiter gave up (the deadline): they are its after all.
    std::optional<MultiTakeResult> sleep_until_worth_looking(const LineAnswer& a) {
        if (line_.timeout_ms == 0)
            return leave_and_time_out("not there now: " + what() + " (a zero timeout looks once)");
        WakeAt wake_at = own_timer(a);
        for (;;) {
            stop_if_signalled();
            if (passed(wake_at)) return std::nullopt;
            if (passed(session_.deadline())) return leave_and_time_out("");
            session_.report(wake_at ? std::optional<int64_t>(ms_until(*wake_at)) : std::nullopt,
                            grace_left(a));
            std::optional<Subscription::Event> next = session_.next_event(wake_at);
            if (!next)
                return std::nullopt;  // reconnected or moved: the ticket may have been dropped
            if (next->kind == Subscription::Event::Kind::none || next->payload == "ping") continue;
            // "served", "wake", "deleted" (anyone may publish it: the look
            // finds out), or anything else: look.
            return std::nullopt;
        }
    }

    MultiTakeResult leave_and_time_out(const std::string& message) {
        if (std::optional<MultiTakeResult> given = leave()) return std::move(*given);
        if (!message.empty()) throw Error(ErrorKind::timeout, message);
        int64_t waited = line_.timeout_ms.value_or(session_.waited_ms());
        throw Error(ErrorKind::timeout, "timed out after " + format_exact_ms(waited) +
                                            " waiting for " + what() + "; nothing taken");
    }

    // A signal after tokens were taken for the waiter: they go back, and
    // the wait ends as signalled, "nothing taken"; a give-back that fails
    // says so (the tokens may still be taken), never "nothing taken".
    [[noreturn]] void give_back_and_end(int sig, const MultiTakeResult& taken) {
        try {
            give_back_many(client_, taken, line_.lease ? &*line_.lease : nullptr);
        } catch (const Error& e) {
            throw Error(
                e.kind(),
                std::string(signal_error(sig).what()) + " while waiting for " + what() +
                    " after its tokens were taken, and giving them back failed: " + e.what(),
                true);
        }
        throw_signal(sig, "while waiting for " + what() + "; nothing taken");
    }

    // A signal that came while the tokens were being taken still wins.
    MultiWaitResult finish(MultiTakeResult result) {
        if (int sig = session_.signal()) {
            give_back_and_end(sig, result);
        }
        result.retry_after_ms = 0;  // taken
        return MultiWaitResult{std::move(result), session_.waited_ms()};
    }

    Client& client_;
    const LineRequest& line_;
    Ticket ticket_;
    Session session_;
    Clock::time_point checked_at_ = Clock::now();
};

}  // namespace

MultiWaitResult wait_in_line(Client& client, const LineRequest& request, WaitObserver& observer) {
    struct Finished {
        WaitObserver& observer;
        ~Finished() { observer.finished(); }
    } finished{observer};
    // In line where one script reaches every bucket; on a cluster whose
    // shards hold them apart, without a place (see multi.h).
    if (std::optional<MultiWaitResult> r = QueuedWaiter(client, request, observer).run())
        return std::move(*r);
    const LeaseSpec* lease = request.lease ? &*request.lease : nullptr;
    return multi_detail::wait_unqueued(client, request.list, request.timeout_ms,
                                       request.interrupt_fd, lease);
}

}  // namespace tbucket
