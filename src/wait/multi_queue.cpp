// Waiting on several buckets in line (SPEC §10, §11): one ticket in every
// bucket's queue, with one place, so that tickets are in the same order in
// every queue they share; the waiter listens on its home channel (its first
// bucket's), where any bucket's script tells it to look when it is first
// there with its tokens, and takes from all in its own script once it is
// first everywhere and each bucket has its tokens. The earliest ticket
// waiting is first in all of its queues: it waits for tokens only, never
// for another ticket, so the waiters cannot deadlock.

#include <poll.h>

#include <algorithm>
#include <cmath>
#include <string_view>

#include "bucket/lease.h"
#include "bucket/multi_detail.h"
#include "bucket/script.h"
#include "redis/reply_read.h"
#include "wait/multi_wait.h"
#include "wait/wait_session.h"

namespace tbucket {
namespace {

using namespace wait_detail;
using namespace multi_detail;

// A waiter further back than this has no timer for a lease's end (as a
// single waiter): those ahead look first.
constexpr int64_t lease_backups = 8;

struct ListAnswer {
    MultiTakeResult result;
    std::vector<int64_t> position;  // per bucket: 0 first, -1 not queued
    std::vector<double> ahead;      // per bucket: tokens asked for by those ahead
    std::optional<int64_t> place;
};

// How often a list waiter that holds a queue looks, to show it is alive: a
// waiter stopped for longer than the server's grace (5 s) holds up no one.
constexpr int64_t list_heartbeat_ms = 1500;

class QueuedListWaiter {
  public:
    QueuedListWaiter(Client& client, const std::vector<NamedCount>& list,
                     std::optional<int64_t> timeout_ms, int interrupt_fd, const LeaseSpec* lease)
        : client_(client),
          list_(list),
          timeout_ms_(timeout_ms),
          fd_(interrupt_fd),
          lease_(lease),
          ticket_(lease ? lease->id : new_lease_id()),
          subscription_(client.nodes(), client.key(list.front().name), ":w:" + ticket_) {
        if (timeout_ms) deadline_ = after_ms(*timeout_ms);
        what_.append("'").append(join_names(list)).append("'; nothing taken");
    }

    // nullopt: one script cannot reach every bucket (a cluster's shards).
    std::optional<MultiWaitResult> run() {
        subscription_.open();  // first: the ticket's liveness is this subscription
        std::optional<ListAnswer> a = call("enter");
        if (!a) return std::nullopt;
        while (!a->result.ok()) {
            // Put back in a queue it had been dropped from: it may be first
            // there already, and no one would tell it.
            bool back = std::find(a->position.begin(), a->position.end(), -2) != a->position.end();
            if (!back) sleep_until_worth_looking(*a);
            a = look_again();
        }
        a->result.retry_after_ms = 0;  // taken
        return MultiWaitResult{std::move(a->result), ms_since(start_)};
    }

  private:
    std::optional<ListAnswer> call(const char* op) {
        std::vector<std::string> names,
            args{op, ticket_, patience(), place_ ? std::to_string(*place_) : ""};
        for (const NamedCount& c : list_) {
            names.push_back(c.name);
            args.push_back(std::to_string(c.count));
        }
        if (lease_) args.insert(args.end(), {std::to_string(lease_->ttl_ms), lease_->holder});
        std::string node;
        auto asked_at = std::chrono::steady_clock::now();
        Reply reply =
            client_.run_change_many(scripts::wait_many_script, names, std::move(args), node);
        if (is_crossslot(*reply)) return std::nullopt;
        if (reply->type == REDIS_REPLY_ERROR) throw_script_error(*reply, list_);
        if (std::string_view(op) == "leave") return ListAnswer{};  // buckets deleted are left out
        ListAnswer a;
        for (std::size_t i = 0; i < list_.size(); ++i) {
            const redisReply& r = element(*reply, i);
            a.result.buckets.push_back(
                read_take(r, node, list_[i].name, list_[i].count, TakeMode::all));
            a.result.buckets.back().asked_at = asked_at;
            a.position.push_back(integer_at(r, 10));
            a.ahead.push_back(number_at(r, 11));
        }
        std::string place = string_at(*reply, list_.size());
        if (!place.empty()) a.place = place_ = std::stoll(place);
        return a;
    }

    // A waiter that dies holds no place after its own deadline: the server
    // drops the ticket then, and never serves it later. The time left, not
    // the whole timeout: the server counts from when the ticket joins.
    std::string patience() const {
        return std::to_string(deadline_ ? std::max<int64_t>(1, ms_until(*deadline_)) : 0);
    }

    ListAnswer look_again() {
        for (;;) {
            stop_if_signalled();
            try {
                std::optional<ListAnswer> a = call("enter");
                if (!a)
                    throw Error(ErrorKind::internal,
                                "the buckets moved to several shards while waiting");
                backoff_ms_ = 50;
                return std::move(*a);
            } catch (const Error& e) {
                if (e.kind() == ErrorKind::not_found) {
                    leave();  // the other buckets' queues: no ticket left behind
                    throw Error(ErrorKind::not_found,
                                std::string(e.what()) + " (deleted while waiting)");
                }
                recover(e);
            }
        }
    }

    // When to look without being told: for each bucket, the refill of its
    // tokens and those ahead, the next lease's end, half its idle expiry.
    WakeAt own_timer(const ListAnswer& a) const {
        WakeAt at;
        auto sooner = [&at](Clock::time_point t) { at = at ? std::min(*at, t) : t; };
        for (std::size_t i = 0; i < list_.size(); ++i) {
            const TakeResult& t = a.result.buckets[i];
            const State& s = t.state;
            if (s.rate) {
                double missing = a.ahead[i] + static_cast<double>(list_[i].count) - s.tokens;
                double ms = std::ceil(std::max(0.0, missing) *
                                      static_cast<double>(s.rate->period_ms) / s.rate->amount);
                if (ms < static_cast<double>(max_duration_ms))
                    sooner(after_ms(static_cast<int64_t>(ms) + 1));
            }
            // Holding a queue (first there, with its tokens there) while
            // another bucket is awaited: looks often enough to keep holding
            // it (list_grace_ms in src/bucket/scripts/common.lua: 5 s).
            if (a.position[i] == 0 && s.tokens >= static_cast<double>(list_[i].count))
                sooner(after_ms(list_heartbeat_ms));
            if (t.next_lease_end_ms && a.position[i] <= lease_backups)
                sooner(
                    after_ms(*t.next_lease_end_ms + 1 + 25 * std::max<int64_t>(a.position[i], 0)));
            if (s.expire_ms)
                sooner(checked_at_ +
                       std::chrono::milliseconds(std::max<int64_t>(*s.expire_ms / 2, 50)));
        }
        return at;
    }

    void sleep_until_worth_looking(const ListAnswer& a) {
        if (timeout_ms_ == 0)
            leave_and_time_out("not there now: " + what_ + " (a zero timeout looks once)");
        checked_at_ = Clock::now();
        WakeAt wake_at = own_timer(a);
        for (;;) {
            stop_if_signalled();
            if (passed(wake_at)) return;
            if (passed(deadline_)) {
                leave_and_time_out("timed out after " + format_exact_ms(*timeout_ms_) +
                                   " waiting for " + what_);
            }
            WakeAt until = wake_at;
            if (deadline_ && (!until || *deadline_ < *until)) until = deadline_;
            Subscription::Event event;
            try {
                event = subscription_.next(until ? ms_until(*until) : -1, fd_);
            } catch (const Error& e) {
                recover(e);
                return;  // resubscribed: look, the ticket may have been dropped meanwhile
            }
            if (event.kind == Subscription::Event::Kind::moved) {
                subscription_.open();
                return;
            }
            if (event.kind == Subscription::Event::Kind::none || event.payload == "ping") continue;
            return;  // "wake" or anything else: look
        }
    }

    // A lost connection: again with growing pauses until the deadline; the
    // ticket keeps its place (given back when it looks again).
    void recover(const Error& lost) {
        if (lost.kind() != ErrorKind::unavailable || lost.maybe_done() || passed(deadline_))
            throw lost;
        client_.nodes().reset();
        for (;; backoff_ms_ = std::min<int64_t>(backoff_ms_ * 2, 1000)) {
            if (passed(deadline_)) throw lost;
            int64_t pause = deadline_ ? std::min(backoff_ms_, ms_until(*deadline_)) : backoff_ms_;
            pollfd pfd{fd_, POLLIN, 0};
            poll(&pfd, fd_ >= 0 ? 1 : 0, static_cast<int>(pause));
            if (pfd.revents) return;
            try {
                subscription_.open();
                return;
            } catch (const Error& again) {
                if (again.kind() != ErrorKind::unavailable) throw;
            }
        }
    }

    // Leaves every queue (best effort: a ticket left behind is dropped when
    // its turn comes, its channel silent, or at its patience).
    void leave() {
        try {
            call("leave");
        } catch (const Error&) {
        }
    }

    [[noreturn]] void leave_and_time_out(const std::string& message) {
        leave();
        throw Error(ErrorKind::timeout, message);
    }

    void stop_if_signalled() {
        if (int sig = pending_signal(fd_)) {
            leave();
            throw_signal(sig, "while waiting for " + what_);
        }
    }

    Client& client_;
    const std::vector<NamedCount>& list_;
    std::optional<int64_t> timeout_ms_;
    int fd_;
    const LeaseSpec* lease_;
    std::string ticket_;
    Subscription subscription_;
    std::optional<int64_t> place_;
    WakeAt deadline_;
    Clock::time_point start_ = Clock::now();
    Clock::time_point checked_at_ = Clock::now();
    std::string what_;
    int64_t backoff_ms_ = 50;
};

}  // namespace

MultiWaitResult wait_many(Client& client, const std::vector<NamedCount>& list,
                          std::optional<int64_t> timeout_ms, int interrupt_fd,
                          const LeaseSpec* lease) {
    // In line where one script reaches every bucket; on a cluster whose
    // shards hold them apart, without a place (see multi.h).
    std::optional<MultiWaitResult> r =
        QueuedListWaiter(client, list, timeout_ms, interrupt_fd, lease).run();
    if (r) return std::move(*r);
    return wait_unqueued(client, list, timeout_ms, interrupt_fd, lease);
}

}  // namespace tbucket
