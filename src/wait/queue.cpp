#include "wait/queue.h"

#include "bucket/script.h"
#include "redis/reply_read.h"

namespace tbucket {
namespace {

std::vector<std::string> wait_args(const Ticket& t, const char* op) {
    std::vector<std::string> args{std::to_string(t.n), op, t.id, std::to_string(t.patience_ms),
                                  t.place ? std::to_string(*t.place) : ""};
    // The settings and the lease as take_args has them, after N and mode.
    std::vector<std::string> rest =
        take_args(t.n, TakeMode::all, t.create_with, t.lease ? &*t.lease : nullptr);
    args.insert(args.end(), rest.begin() + 2, rest.begin() + 6);
    if (t.lease) {
        args.push_back(std::to_string(t.lease->ttl_ms));
        args.push_back(t.lease->holder);
        args.emplace_back(t.lease->required ? "l" : "a");
    }
    return args;
}

QueueAnswer call(Client& client, const std::string& name, const Ticket& t, const char* op) {
    std::string node;
    auto asked_at = std::chrono::steady_clock::now();
    Reply answer = client.run_change(scripts::wait_script, name, wait_args(t, op), node,
                                     t.create_with.has_value());
    QueueAnswer a;
    // The state and the take part read as take's reply does.
    a.result = take_result(answer, std::move(node), name, t.n, TakeMode::all, t.create_with);
    a.result.asked_at = asked_at;
    const redisReply& reply = *answer;
    a.position = integer_at(reply, 10);
    a.ahead = number_at(reply, 11);
    std::string place = string_at(reply, 12);
    if (!place.empty()) a.place = std::stoll(place);
    return a;
}

}  // namespace

QueueAnswer enter_queue(Client& client, const std::string& name, const Ticket& ticket) {
    return call(client, name, ticket, "enter");
}

QueueAnswer leave_queue(Client& client, const std::string& name, const Ticket& ticket) {
    return call(client, name, ticket, "leave");
}

}  // namespace tbucket
