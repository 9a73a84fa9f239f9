#include "multi.h"

#include <poll.h>

#include <algorithm>
#include <map>
#include <memory>

#include "lease.h"
#include "multi_detail.h"
#include "reply_read.h"
#include "script.h"
#include "subscription.h"
#include "wait_session.h"

namespace tbucket {
namespace {

using namespace wait_detail;
using namespace multi_detail;

std::vector<std::string> names_of(const std::vector<NamedCount>& list) {
    std::vector<std::string> names;
    for (const NamedCount& c : list) names.push_back(c.name);
    return names;
}

void finish(MultiTakeResult& r) {
    r.retry_after_ms = 0;
    for (const TakeResult& t : r.buckets) {
        if (!t.retry_after_ms) {
            r.retry_after_ms = std::nullopt;
            return;
        }
        r.retry_after_ms = std::max(*r.retry_after_ms, *t.retry_after_ms);
    }
}

// What bucket i of a take gave goes back: a lease released, else a put
// (never above capacity). Returns its state after.
State give_back(Client& client, const TakeResult& t, const LeaseSpec* lease) {
    if (t.leased() && lease) return release_lease(client, t.state.name, lease->id).state;
    return client.put(t.state.name, t.taken, false, std::nullopt).state;
}

std::vector<std::size_t> by_key(Client& client, const std::vector<NamedCount>& list) {
    std::vector<std::size_t> order(list.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return client.key(list[a].name) < client.key(list[b].name);
    });
    return order;
}

// A cluster: each bucket on its own, in the order of their keys, so that
// two such requests meet their buckets in the same order. A bucket that
// says no ends the taking; what was taken goes back, and the rest are only
// looked at, for the answer.
MultiTakeResult take_in_order(Client& client, const std::vector<NamedCount>& list, TakeMode mode,
                              const LeaseSpec* lease) {
    std::vector<std::size_t> order = by_key(client, list);
    // As in take_many.lua: a refilling bucket of a list is simply taken from.
    std::optional<LeaseSpec> as_lease;
    if (lease) as_lease = LeaseSpec{lease->id, lease->ttl_ms, lease->holder, false};
    lease = as_lease ? &*as_lease : nullptr;
    MultiTakeResult r;
    r.buckets.resize(list.size());
    std::vector<std::size_t> taken;
    bool denied = false;
    for (std::size_t i : order) {
        TakeMode m = denied ? TakeMode::check : mode;
        try {
            r.buckets[i] = client.take(list[i].name, list[i].count, m, std::nullopt,
                                       m == TakeMode::all ? lease : nullptr);
        } catch (const Error&) {
            for (std::size_t j : taken) give_back(client, r.buckets[j], lease);
            throw;
        }
        if (r.buckets[i].ok()) taken.push_back(i);
        if (!r.buckets[i].ok() && mode == TakeMode::all) denied = true;
    }
    for (std::size_t j : denied ? taken : std::vector<std::size_t>{}) {
        State after = give_back(client, r.buckets[j], lease);
        r.buckets[j].state = after;
        r.buckets[j].taken = 0;
        r.buckets[j].fence = 0;
        r.buckets[j].retry_after_ms = after.ms_until(static_cast<double>(list[j].count));
    }
    finish(r);
    return r;
}

}  // namespace

namespace multi_detail {

// take_many.lua's error names the bucket by its place: "... @<i>" (Redis
// then appends where the script failed, "script: ..., on @user_script:1.").
[[noreturn]] void throw_script_error(const redisReply& reply, const std::vector<NamedCount>& list) {
    std::string text(reply.str, reply.len);
    std::string name = join_names(list);
    for (std::size_t at = text.find(" @"); at != std::string::npos; at = text.find(" @", at + 2)) {
        std::size_t end = at + 2;
        while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
        if (end == at + 2) continue;
        std::size_t i = std::stoul(text.substr(at + 2, end - at - 2));
        if (i >= 1 && i <= list.size()) name = list[i - 1].name;
        text.erase(at, end - at);
        break;
    }
    redisReply stripped = reply;
    stripped.str = text.data();
    stripped.len = text.size();
    throw script_error(stripped, name);
}

bool is_crossslot(const redisReply& reply) {
    return reply.type == REDIS_REPLY_ERROR &&
           std::string_view(reply.str, reply.len).substr(0, 9) == "CROSSSLOT";
}

}  // namespace multi_detail

bool MultiTakeResult::ok() const {
    return !buckets.empty() &&
           std::all_of(buckets.begin(), buckets.end(), [](const TakeResult& t) { return t.ok(); });
}

bool MultiTakeResult::refused(std::size_t i) const {
    const TakeResult& t = buckets[i];
    if (t.ok()) return false;
    return t.queued_ahead > 0 || t.state.tokens < static_cast<double>(t.requested);
}

MultiTakeResult take_many(Client& client, const std::vector<NamedCount>& list, TakeMode mode,
                          const LeaseSpec* lease) {
    if (mode != TakeMode::all) lease = nullptr;
    std::vector<std::string> args{mode == TakeMode::check ? "2" : "0"};
    for (const NamedCount& c : list) args.push_back(std::to_string(c.count));
    if (lease) args.insert(args.end(), {lease->id, std::to_string(lease->ttl_ms), lease->holder});
    std::string node;
    auto asked_at = std::chrono::steady_clock::now();
    Reply answer =
        client.run_change_many(scripts::take_many_script, names_of(list), std::move(args), node);
    if (is_crossslot(*answer)) return take_in_order(client, list, mode, lease);
    if (answer->type == REDIS_REPLY_ERROR) throw_script_error(*answer, list);
    MultiTakeResult r;
    for (std::size_t i = 0; i < list.size(); ++i) {
        r.buckets.push_back(
            read_take(element(*answer, i), node, list[i].name, list[i].count, mode));
        r.buckets.back().asked_at = asked_at;
    }
    finish(r);
    return r;
}

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

std::vector<std::string> give_back_many(Client& client, const MultiTakeResult& result,
                                        const LeaseSpec* lease) {
    std::vector<std::string> names;
    for (const TakeResult& t : result.buckets) {
        if (t.taken <= 0) continue;
        give_back(client, t, lease);
        names.push_back(t.state.name);
    }
    return names;
}

}  // namespace tbucket
