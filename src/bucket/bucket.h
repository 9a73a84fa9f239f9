#pragma once

// Bucket operations over one connection. Each is one atomic Lua script and,
// once the script is cached, one round trip. Results are plain structs; the
// caller decides how to show them.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "redis/cluster.h"
#include "redis/connection.h"
#include "util/error.h"
#include "util/parse.h"

namespace tbucket {

struct Script;
struct ScriptCall;

struct Settings {
    int64_t capacity = 0;
    std::optional<Rate> rate;
    std::optional<int64_t> expire_ms;
};

// What the scripts counted on a bucket since it was created (the fields
// ng nd nt np nw of common.lua); read by info.
struct Counters {
    int64_t grants = 0;        // take requests that took tokens
    int64_t denials = 0;       // one-shot take requests refused
    int64_t taken = 0;         // tokens taken
    double put = 0;            // tokens put (what went in)
    int64_t waits_served = 0;  // grants to waiters
};

// A bucket as read at server_time_us (refill applied).
struct State {
    std::string name;
    int64_t capacity = 0;
    double tokens = 0;
    std::optional<Rate> rate;
    std::optional<int64_t> expire_ms;
    int64_t server_time_us = 0;
    std::string node;                    // "host:port" of the server that answered, when known
    double leased = 0;                   // tokens held by leases (not in `tokens`)
    std::optional<int64_t> lease_count;  // known to info only
    std::optional<int64_t> queued;       // waiters in line; known to info only
    std::optional<Counters> counters;    // read by info (and list) only

    int64_t available() const;
    // Until the level reaches capacity: 0 when full, nullopt when it never will.
    std::optional<int64_t> full_in_ms() const;
    // Until at least `n` tokens are there, rounded up so that waiting exactly
    // that long is enough: 0 when they are, nullopt when refill never brings them.
    std::optional<int64_t> ms_until(double n) const;
};

struct TakeResult {
    State state;
    int64_t requested = 0;
    int64_t taken = 0;
    bool ok() const { return taken > 0; }
    std::optional<int64_t> retry_after_ms;  // 0 when ok
    // Until the bucket's next lease ends and gives its tokens back
    // (server's view); nullopt when no lease is held.
    std::optional<int64_t> next_lease_end_ms;
    int64_t fence = 0;  // of the lease made by this take; 0: none made
    bool leased() const { return fence > 0; }
    // Waiters queued ahead (SPEC §10), who are served first, and the tokens
    // they ask for; a one-shot take is denied while there are any.
    int64_t queued_ahead = 0;
    double queued_tokens = 0;
    // When the request that got this answer was first asked: a lease it
    // made (or claimed) runs on the server from no earlier than then.
    std::chrono::steady_clock::time_point asked_at{};
};

// A take as a lease (SPEC §9): the tokens are held under `id` for `ttl_ms`
// unless renewed, and come back when it is released or ends. On a bucket
// with refill a lease makes no sense: `required` makes that an Error usage,
// else the tokens are simply taken.
struct LeaseSpec {
    std::string id;  // new_lease_id()
    int64_t ttl_ms = 0;
    std::string holder;  // "<host> <pid>", shown by lease list
    bool required = true;
};

struct PutResult {
    State state;
    double added = 0;
    double overflow = 0;
};

// all: N tokens or none; partial: whole tokens up to N; check: take nothing,
// only read the state (creating a missing bucket when settings are given).
// wait_all and wait_check: as all and check, for a waiter: N above the
// capacity of a bucket without refill is not impossible to it, as a forced
// put may bring the level there.
enum class TakeMode { all, partial, check, wait_all, wait_check };

enum class CreateMode { ensure, update, replace };
enum class CreateOutcome { existed, created, updated, replaced };

struct CreateResult {
    State state;
    CreateOutcome outcome = CreateOutcome::existed;
};

// One name's answer in a multi-name command: its state, or why not.
using StateOrError = std::variant<State, Error>;

class Client {
  public:
    Client(ConnectionOptions options, std::string prefix);
    // Seed nodes tried in order; cluster redirects followed (see cluster.h).
    Client(std::vector<ConnectionOptions> seeds, std::string prefix);

    CreateResult create(const std::string& name, const Settings& settings,
                        std::optional<int64_t> tokens, CreateMode mode);
    // `create_with`: settings to create a missing bucket with (inline create).
    TakeResult take(const std::string& name, int64_t n, TakeMode mode,
                    const std::optional<Settings>& create_with, const LeaseSpec* lease = nullptr);
    PutResult put(const std::string& name, int64_t n, bool force,
                  const std::optional<Settings>& create_with);
    State reset(const std::string& name, std::optional<int64_t> tokens);
    std::vector<StateOrError> info(const std::vector<std::string>& names);
    std::vector<StateOrError> remove(const std::vector<std::string>& names);
    // Names (without prefix) matching a glob of the keys <prefix>{NAME},
    // sorted: from the index of names (names.h) once it is complete; else,
    // or with `by_scan`, by SCAN on every primary of a cluster, which then
    // completes the index. Keys of any type: reading them (info) tells
    // which are buckets.
    std::vector<std::string> list(const std::string& pattern, bool by_scan = false);
    // Drops from the index names whose buckets were found gone (an idle
    // expiry); best effort, never throws for a refused write.
    void unlist(const std::vector<std::string>& names);

    std::string key(const std::string& name) const { return prefix_ + "{" + name + "}"; }
    Nodes& nodes() { return nodes_; }

    // How long a change whose reply was lost is sent again with its request
    // id (default: retry_window_ms of the first seed), and so how long the
    // server remembers the id (twice that). Waiters use the default too: a
    // look's id is remembered as long as a retry of it can come, no longer.
    void set_retry_window_ms(int64_t ms) { retry_window_ms_ = ms; }
    int64_t default_retry_window_ms() const;

    // A script that changes the bucket `name`, through the retry loop of
    // SPEC §8 (run_changes); `node` gets who answered. For src/bucket/lease.cpp.
    // `indexed`: the call may create or delete the bucket, so it gets the
    // index of names (KEYS[3]).
    Reply run_change(const Script& script, const std::string& name, std::vector<std::string> args,
                     std::string& node, bool indexed = false);
    // The same over several buckets (KEYS[1], the id key, then the others;
    // no index: a list creates nothing): for src/bucket/multi.cpp.
    Reply run_change_many(const Script& script, const std::vector<std::string>& names,
                          std::vector<std::string> args, std::string& node);

  private:
    std::vector<StateOrError> each(const Script& script, const std::vector<std::string>& names,
                                   bool change);
    std::vector<Reply> run_changes(const std::vector<ScriptCall>& calls,
                                   std::vector<std::string>& by);
    void scan(Connection& connection, const std::string& match, std::vector<std::string>& names);

    Nodes nodes_;
    std::string prefix_;
    int64_t retry_window_ms_;
};

// Parses the state part of a script reply (elements 0..5).
State parse_state(const redisReply& reply, const std::string& name);
// Parses info's counters and leased tokens (elements 6..11) into `state`.
void parse_counters(const redisReply& reply, State& state);

// take and put in halves, the script's arguments and the reading of its
// reply (or the Error it stands for), for clients that send calls their
// own way (ConcurrentClient, bench/concurrent.h). `node` goes into the result's state.
std::vector<std::string> take_args(int64_t n, TakeMode mode,
                                   const std::optional<Settings>& create_with,
                                   const LeaseSpec* lease = nullptr);
TakeResult take_result(const Reply& answer, std::string node, const std::string& name, int64_t n,
                       TakeMode mode, const std::optional<Settings>& create_with);
// A take reply that is not an error (one element of take_many's).
TakeResult read_take(const redisReply& reply, std::string node, const std::string& name, int64_t n,
                     TakeMode mode);
std::vector<std::string> put_args(int64_t n, bool force,
                                  const std::optional<Settings>& create_with);
PutResult put_result(const Reply& answer, std::string node, const std::string& name,
                     const std::optional<Settings>& create_with);

}  // namespace tbucket
