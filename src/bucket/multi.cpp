#include "bucket/multi.h"

#include <algorithm>
#include <map>
#include <memory>

#include "bucket/lease.h"
#include "bucket/multi_detail.h"
#include "bucket/script.h"
#include "redis/reply_read.h"

namespace tbucket {
namespace {

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
                          const LeaseSpec* lease, const std::optional<Settings>& create_with) {
    if (list.size() == 1) {
        TakeResult t = client.take(list[0].name, list[0].count, mode, create_with, lease);
        std::optional<int64_t> retry = t.retry_after_ms;
        return MultiTakeResult{{std::move(t)}, retry};
    }
    if (mode != TakeMode::all) lease = nullptr;
    std::vector<std::string> args{mode_name(mode)};
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
