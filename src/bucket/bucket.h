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

#include "bucket/results.h"
#include "redis/cluster.h"
#include "redis/connection.h"
#include "util/error.h"
#include "util/parse.h"

namespace tbucket {

struct Script;
struct ScriptCall;

class Client {
  public:
    Client(ConnectionOptions options, std::string prefix);
    // Seed nodes tried in order; cluster redirects followed (see cluster.h).
    Client(std::vector<ConnectionOptions> seeds, std::string prefix);

    // `restart_grace_ms`: a semaphore created on a server that started less
    // than this long ago without an append-only file grants nothing but
    // re-asserted leases until then (LeaseSpec::restart_grace_ms).
    CreateResult create(const std::string& name, const Settings& settings,
                        std::optional<int64_t> tokens, CreateMode mode,
                        int64_t restart_grace_ms = 0);
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

    // --durable[=N]: every change is reported only once `replicas` replicas
    // have it (WAIT after the script, in the same round trip; at most 3/4 of
    // the I/O timeout), else Error unwritable. 0: no wait (the default).
    void set_durable(int replicas) { durable_ = replicas; }
    Nodes& nodes() { return nodes_; }

    // A script that changes the bucket `name`, through the retry loop of
    // SPEC §8 (run_changes); `node` gets who answered. For src/bucket/lease.cpp.
    // `indexed`: the call may create or delete the bucket, so it gets the
    // index of names (KEYS[3]). A change whose reply was lost is sent again
    // with its request id for the retry window (retry_window_ms of the first
    // seed; `window_ms`: this call's own, as a lease renewal's third), and
    // the server remembers the id twice as long.
    Reply run_change(const Script& script, const std::string& name, std::vector<std::string> args,
                     std::string& node, bool indexed = false,
                     std::optional<int64_t> window_ms = std::nullopt);
    // The same over several buckets (KEYS[1], the id key, then the others;
    // no index: a list creates nothing): for src/bucket/multi.cpp.
    Reply run_change_many(const Script& script, const std::vector<std::string>& names,
                          std::vector<std::string> args, std::string& node);

  private:
    std::vector<StateOrError> each(const Script& script, const std::vector<std::string>& names,
                                   bool change);
    std::vector<Reply> run_changes(const std::vector<ScriptCall>& calls,
                                   std::vector<std::string>& by, int64_t window_ms);
    void scan(Connection& connection, const std::string& match, std::vector<std::string>& names);

    Nodes nodes_;
    std::string prefix_;
    const int64_t retry_window_ms_;
    int durable_ = 0;
};

// A window as the scripts take it in place of a rate amount: "@1d,Europe/Berlin";
// and back, from a reply or event ("@<end ms>,1d,Europe/Berlin" with
// `end_ms`, which gets the end) or an error's settings (without). Not a
// window: nullopt.
std::string window_wire(const Window& window);
std::optional<Window> parse_window_wire(std::string_view text, int64_t* end_ms);

// Parses the state part of a script reply (elements 0..5).
State parse_state(const redisReply& reply, const std::string& name);
// Parses info's counters and leased tokens (elements 6..11) into `state`.
void parse_counters(const redisReply& reply, State& state);

// A mode as take.lua and take_many.lua name it: "all", "partial", "check",
// and a waiter's "wait-all", "wait-check".
const char* mode_name(TakeMode mode);

// take and put in halves, the script's arguments and the reading of its
// reply (or the Error it stands for), for clients that send calls their
// own way (ConcurrentClient, bench/concurrent.h). `node` goes into the result's state.
std::vector<std::string> take_args(int64_t n, TakeMode mode,
                                   const std::optional<Settings>& create_with,
                                   const LeaseSpec* lease = nullptr);
// What a reply holds after its queue fields: take's and take_many's, a
// denied semaphore's holders, then a restart grace; a waiter's (wait.lua),
// its place in line, then the grace; one bucket's of wait_many, the grace.
enum class ReplyTail { holders, place, grace };
TakeResult take_result(const Reply& answer, std::string node, const std::string& name, int64_t n,
                       TakeMode mode, const std::optional<Settings>& create_with,
                       ReplyTail tail = ReplyTail::holders);
// A take reply that is not an error (one element of take_many's).
TakeResult read_take(const redisReply& reply, std::string node, const std::string& name, int64_t n,
                     TakeMode mode, ReplyTail tail = ReplyTail::holders);
std::vector<std::string> put_args(int64_t n, bool force,
                                  const std::optional<Settings>& create_with);
PutResult put_result(const Reply& answer, std::string node, const std::string& name,
                     const std::optional<Settings>& create_with);

}  // namespace tbucket
