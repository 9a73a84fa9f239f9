#pragma once

// A bucket's events channel, on a connection of its own (a subscribed RESP2
// connection can run nothing else), on the node that owns the bucket's
// slot. Sharded pub/sub (SSUBSCRIBE, Redis 7) when the server has it, plain
// SUBSCRIBE otherwise; the scripts publish the same way (see announce()).

#include <memory>
#include <string>

#include "redis/cluster.h"

namespace tbucket {

class Subscription {
  public:
    // `key`: the bucket's key; the channel is "<key>" + `suffix`: its events
    // (":events"), or a waiter's own channel (":w:<ticket>").
    Subscription(Nodes& nodes, std::string key, const std::string& suffix = ":events");

    // Subscribes on the node that owns the key, following MOVED; seeds are
    // tried in order while the owner is unknown. Throws Error(unavailable)
    // when no node confirms in time.
    void open();

    struct Event {
        enum class Kind {
            none,     // the time is up, or wake_fd woke us
            message,  // payload: the published state, or "deleted"
            moved,    // the server dropped the subscription: the slot moved away
        };
        Kind kind = Kind::none;
        std::string payload;
    };
    Event next(int64_t timeout_ms, int wake_fd);
    // Whether open() subscribed with SSUBSCRIBE (else SUBSCRIBE), so that
    // a publisher knows which of SPUBLISH and PUBLISH reaches it.
    bool sharded() const { return sharded_; }

  private:
    Reply subscribe_at(const ConnectionOptions& node);

    Nodes& nodes_;
    std::string key_;
    std::string channel_;
    std::unique_ptr<Connection> connection_;
    bool sharded_ = true;
};

}  // namespace tbucket
