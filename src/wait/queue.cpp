#include "wait/queue.h"

#include "bucket/multi_detail.h"
#include "bucket/script.h"
#include "redis/reply_read.h"

namespace tbucket {
namespace {

const char* op_name(LineOp op) {
    return op == LineOp::enter ? "enter" : "leave";
}

std::vector<std::string> one_args(const NamedCount& c, const Ticket& t, LineOp op) {
    std::vector<std::string> args{std::to_string(c.count), op_name(op), t.id,
                                  std::to_string(t.patience_ms),
                                  t.place ? std::to_string(*t.place) : ""};
    // The settings and the lease as take_args has them, after N and mode.
    std::vector<std::string> rest =
        take_args(c.count, TakeMode::all, t.create_with, t.lease ? &*t.lease : nullptr);
    args.insert(args.end(), rest.begin() + 2, rest.begin() + 6);
    if (t.lease) {
        args.push_back(std::to_string(t.lease->ttl_ms));
        args.push_back(t.lease->holder);
        args.emplace_back(t.lease->required ? "l" : "a");
        if (t.lease->restart_grace_ms > 0)
            args.push_back(std::to_string(t.lease->restart_grace_ms));
    }
    return args;
}

std::vector<std::string> list_args(const std::vector<NamedCount>& list, const Ticket& t,
                                   LineOp op) {
    std::vector<std::string> args{op_name(op), t.id, std::to_string(t.patience_ms),
                                  t.place ? std::to_string(*t.place) : ""};
    for (const NamedCount& c : list) args.push_back(std::to_string(c.count));
    if (t.lease) args.insert(args.end(), {std::to_string(t.lease->ttl_ms), t.lease->holder});
    return args;
}

// Elements 11 and 12 of each bucket's reply: the ticket's place in its
// queue and the tokens ahead of it.
void read_place(LineAnswer& a, const redisReply& r) {
    a.position.push_back(integer_at(r, 10));
    a.ahead.push_back(number_at(r, 11));
}

void read_ticket_place(LineAnswer& a, const redisReply& reply, std::size_t i) {
    std::string place = string_at(reply, i);
    if (!place.empty()) a.place = std::stoll(place);
}

}  // namespace

std::optional<LineAnswer> in_line(Client& client, const std::vector<NamedCount>& list,
                                  const Ticket& t, LineOp op) {
    std::string node;
    auto asked_at = std::chrono::steady_clock::now();
    LineAnswer a;
    if (list.size() == 1) {
        const NamedCount& c = list.front();
        Reply reply = client.run_change(scripts::wait_script, c.name, one_args(c, t, op), node,
                                        t.create_with.has_value());
        // The state and the take part read as take's reply does.
        a.result.buckets.push_back(take_result(reply, std::move(node), c.name, c.count,
                                               TakeMode::all, t.create_with, ReplyTail::place));
        a.result.buckets.back().asked_at = asked_at;
        read_place(a, *reply);
        read_ticket_place(a, *reply, 12);
        return a;
    }
    std::vector<std::string> names;
    for (const NamedCount& c : list) names.push_back(c.name);
    Reply reply =
        client.run_change_many(scripts::wait_many_script, names, list_args(list, t, op), node);
    if (multi_detail::is_crossslot(*reply)) return std::nullopt;
    if (reply->type == REDIS_REPLY_ERROR) multi_detail::throw_script_error(*reply, list);
    if (op == LineOp::leave) return a;  // buckets deleted are left out
    for (std::size_t i = 0; i < list.size(); ++i) {
        const redisReply& r = element(*reply, i);
        a.result.buckets.push_back(
            read_take(r, node, list[i].name, list[i].count, TakeMode::all, ReplyTail::grace));
        a.result.buckets.back().asked_at = asked_at;
        read_place(a, r);
    }
    read_ticket_place(a, *reply, list.size());
    return a;
}

}  // namespace tbucket
