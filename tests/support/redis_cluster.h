#pragma once

// A private Redis Cluster for tests: N primaries (and R replicas each) as
// RedisServer processes on free loopback ports, joined with
// `redis-cli --cluster create`, stopped by pid.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "support/redis_server.h"

namespace tbucket::test {

class RedisCluster {
  public:
    // With `tls_dir` (certificates from support/make_certs.sh), every node
    // also has a TLS port, and the cluster bus and redirects use TLS.
    explicit RedisCluster(int primaries, int replicas_per_primary = 0,
                          const std::string& tls_dir = "");

    std::size_t size() const { return nodes_.size(); }
    RedisServer& node(std::size_t i) { return *nodes_.at(i); }
    // redis://127.0.0.1:P (one seed: the first node).
    std::string url() const { return nodes_.front()->url(); }
    // redis://127.0.0.1:P1,127.0.0.1:P2,... (every node).
    std::string seeds_url() const;
    // rediss://127.0.0.1:Q (the first node's TLS port), with tls_dir.
    std::string tls_url() const { return "rediss://127.0.0.1:" + std::to_string(tls_ports_.at(0)); }

    int slot(const std::string& key);
    // The primary that serves a slot now, as seen by node 0.
    RedisServer& owner(int slot);
    std::string id(RedisServer& node);
    // Waits until every node reports cluster_state:ok, knows every replica
    // as one (a primary that does not would refuse its failover a vote),
    // every replica is in sync, and all agree on the owner of `slot` (-1:
    // no particular slot).
    void wait_ok(int slot = -1);

    // Moves a slot and its keys from its owner to `to` the way redis-cli
    // --cluster reshard does: IMPORTING on `to`, MIGRATING on the owner,
    // MIGRATE every key, then SETSLOT NODE on `to`, the owner, then the
    // rest. `pause_ms` is slept between the steps, so that commands running
    // meanwhile meet each state (ASK, then MOVED); with `asked`, the keys
    // stay on `to` with the slot still migrating until it is true (at most
    // 60 s): an event to wait for rather than a time a slow machine outruns.
    void move_slot(int slot, RedisServer& to, int pause_ms = 0,
                   const std::function<bool()>& asked = {});

  private:
    std::vector<std::unique_ptr<RedisServer>> nodes_;
    std::vector<int> tls_ports_;
    int replicas_ = 0;  // in all
};

}  // namespace tbucket::test
