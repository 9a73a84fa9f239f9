#include "redis/subscription.h"

#include <algorithm>
#include <chrono>

#include "util/error.h"

namespace tbucket {
namespace {

using Clock = std::chrono::steady_clock;

bool unknown_command(std::string_view text) {
    return text.substr(0, 19) == "ERR unknown command";
}

std::string word(const redisReply& reply) {
    return reply.type == REDIS_REPLY_STRING ? std::string(reply.str, reply.len) : std::string();
}

}  // namespace

Subscription::Subscription(Nodes& nodes, std::string key, const std::string& suffix)
    : nodes_(nodes), key_(std::move(key)), channel_(key_ + suffix) {}

// The server's first answer to (S)SUBSCRIBE at `node`: a confirmation or an
// error reply. Throws Error(unavailable) when none comes in time.
Reply Subscription::subscribe_at(const ConnectionOptions& node) {
    connection_ = std::make_unique<Connection>(node);
    connection_->send({sharded_ ? "SSUBSCRIBE" : "SUBSCRIBE", channel_});
    auto until = Clock::now() + std::chrono::milliseconds(node.io_timeout_ms);
    while (Clock::now() < until) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
        std::optional<Reply> reply =
            connection_->receive(static_cast<int>(std::max<int64_t>(left, 1)));
        if (!reply) continue;
        if ((*reply)->type == REDIS_REPLY_ERROR || (*reply)->type == REDIS_REPLY_ARRAY)
            return std::move(*reply);
    }
    std::string endpoint = connection_->endpoint();
    connection_.reset();
    throw Error(ErrorKind::unavailable,
                "Redis at " + endpoint + " did not confirm the subscription to " + channel_);
}

void Subscription::open() {
    connection_.reset();
    std::optional<ConnectionOptions> owner = nodes_.owner_options(key_);
    std::vector<ConnectionOptions> seeds =
        owner ? std::vector<ConnectionOptions>{*owner} : nodes_.seed_options();
    std::size_t seed = 0;
    ConnectionOptions node = seeds.front();
    for (int redirects = 0;;) {
        Reply reply;
        try {
            reply = subscribe_at(node);
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::unavailable) nodes_.forget(describe_endpoint(node));
            if (redirects > 0 || !is_connect_failure(e) || ++seed >= seeds.size()) throw;
            node = seeds[seed];
            continue;
        }
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3)
            return;  // [(s)subscribe, channel, n]
        std::string text =
            reply->type == REDIS_REPLY_ERROR ? reply_error_text(*reply) : "unexpected reply";
        if (sharded_ && unknown_command(text)) {  // before Redis 7: plain pub/sub
            sharded_ = false;
            continue;
        }
        std::optional<Redirect> r = parse_redirect(text);
        if (!r || ++redirects > max_redirects) {
            connection_.reset();
            ErrorKind kind = classify_reply_error(text);
            throw Error(
                kind == ErrorKind::internal ? ErrorKind::unavailable : kind,
                "cannot subscribe to " + channel_ + " at " + describe_endpoint(node) + ": " + text);
        }
        if (r->host.empty()) r->host = node.host;
        nodes_.learn(*r);
        node = nodes_.node_options(r->host, r->port);
    }
}

Subscription::Event Subscription::next(int64_t timeout_ms, int wake_fd) {
    if (!connection_) throw Error(ErrorKind::internal, "next() before open()");
    int ms = timeout_ms < 0 ? -1 : static_cast<int>(std::min<int64_t>(timeout_ms, 1 << 30));
    std::optional<Reply> reply = connection_->receive(ms, wake_fd);
    if (!reply) return {};
    const redisReply& r = **reply;
    if (r.type != REDIS_REPLY_ARRAY || r.elements != 3) return {};
    std::string kind = word(*r.element[0]);
    if (kind == "message" || kind == "smessage") return {Event::Kind::message, word(*r.element[2])};
    // Redis drops a node's shard channels of a slot it no longer serves,
    // telling each subscriber with an unasked "sunsubscribe".
    if (kind == "sunsubscribe" || kind == "unsubscribe") {
        connection_.reset();
        return {Event::Kind::moved, ""};
    }
    return {};
}

}  // namespace tbucket
