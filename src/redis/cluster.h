#pragma once

// Finding the node that holds a key: seed nodes tried in order, and Redis
// Cluster redirects (MOVED, ASK) followed. On a standalone server nothing
// here costs a command: keys go to the first seed that answers until a
// server says otherwise. Seeds that are Sentinels (sentinel_master set)
// are asked for the primary, once, and again after it fails or turns out
// to be a replica (a failover).

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "redis/connection.h"

namespace tbucket {

inline constexpr int cluster_slots = 16384;
// Redirects one command may follow before it gives up (exit 69).
inline constexpr int max_redirects = 5;

// The cluster slot of a key: CRC16 (XMODEM) of its hash tag, or of the
// whole key when it has none, modulo 16384.
int key_slot(std::string_view key);

// A "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>" error reply.
struct Redirect {
    bool ask = false;
    int slot = 0;
    std::string host;  // empty: the node that sent the redirect
    int port = 0;
};
std::optional<Redirect> parse_redirect(std::string_view message);

// True when Connection failed before sending anything (it could not
// connect): then trying the next seed cannot run a command twice.
bool is_connect_failure(const Error& error);
// A connect failure that a server coming back would end (refused, no
// answer, no route), not one of certificates or names.
bool is_unreachable(const Error& error);

// A command and the key it touches (empty: any node will do).
struct Routed {
    std::string key;
    Command command;
};

class Nodes {
  public:
    // At least one seed (all Sentinels, or none); redirected-to nodes get the first seed's options
    // (credentials, database, timeouts) with their own host and port.
    explicit Nodes(std::vector<ConnectionOptions> seeds);

    // Each command to the node that owns its key, one pipeline per node (so
    // one round trip on a standalone server). MOVED and ASK are followed,
    // ASK with ASKING; more than max_redirects for one command is
    // Error(unavailable). A node that fails is forgotten, then the error is
    // rethrown. `answered_by`, when given, gets each reply's node.
    std::vector<Reply> pipeline(const std::vector<Routed>& commands,
                                std::vector<std::string>* answered_by = nullptr);

    // Connection options for the node believed to own `key`: the one a
    // redirect named, else nullopt (ask the seeds).
    std::optional<ConnectionOptions> owner_options(std::string_view key) const;
    // Each seed's options, the one that answered last first. Behind
    // Sentinels: the primary they name (asking them when it is not known).
    std::vector<ConnectionOptions> seed_options();
    // Options every node shares (credentials, timeouts, TLS), without asking anyone.
    const ConnectionOptions& common_options() const { return common_; }
    // The primary's name when the seeds are Sentinels, else "".
    std::string sentinel_master() const {
        return sentinels_.empty() ? "" : sentinels_.front().sentinel_master;
    }
    // Behind Sentinels: asks them where the primary is now, and moves there
    // when it moved (a failover that a long-running process would learn of
    // only when the old primary fails it, or never, while that one still
    // answers as a primary). True when it moved; Sentinels out of reach
    // change nothing.
    bool follow_sentinels();
    // Forgets a node that failed outside a pipeline (a subscription's):
    // behind Sentinels, the next command asks them for the primary again.
    void forget(const std::string& endpoint);
    // A redirect's node as connection options.
    ConnectionOptions node_options(const std::string& host, int port) const;
    // Remembers a MOVED heard elsewhere (by a subscriber); `moved.host` set.
    void learn(const Redirect& moved);

    // One connection per primary: CLUSTER SLOTS on a seed; a server without
    // cluster support (or that may not run it) is the only primary.
    std::vector<Connection*> primaries();
    // True when the last primaries() found a server that said it has no
    // cluster support (not one that only refused CLUSTER SLOTS to this user).
    bool standalone() const { return standalone_; }

    // Closes every connection and forgets what redirects taught.
    void reset();
    // Closes every connection (each opens again when next used), keeping
    // where keys live: an idle waiter holds only its subscription.
    void close_all();

  private:
    struct Pending;
    Connection& connection_to(const ConnectionOptions& options);
    std::string route(std::string_view key) const;
    std::vector<Reply> on_seed(const std::vector<Command>& commands, std::string& endpoint);
    std::vector<Reply> on_node(const std::string& endpoint, const std::vector<Command>& commands);
    void send_group(const std::vector<Routed>& commands, const std::string& endpoint,
                    std::vector<Pending>& group, std::vector<Reply>& replies,
                    std::vector<Pending>& again, std::vector<std::string>* answered_by);
    void follow(Pending& p, const Redirect& r, const std::string& from, const std::string& key);
    ConnectionOptions ask_sentinels();
    void check_writable(const std::vector<Reply>& replies, const std::string& endpoint);

    ConnectionOptions common_;
    std::vector<ConnectionOptions> sentinels_;  // empty: the seeds are data nodes
    std::size_t sentinel_ = 0;                  // the Sentinel that answered last
    std::vector<ConnectionOptions> seeds_;      // behind Sentinels: the primary, once known
    std::size_t seed_ = 0;                      // the seed that answered last
    std::map<std::string, std::unique_ptr<Connection>> connections_;  // by endpoint
    std::unordered_map<int, std::string> slots_;  // slot → endpoint, from MOVED
    bool standalone_ = false;
};

}  // namespace tbucket
