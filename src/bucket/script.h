#pragma once

// Lua scripts, embedded at build time from src/bucket/scripts/*.lua (each
// with the helpers of common.lua it uses in front: src/bucket/scripts/
// join.cpp), and how to run them: EVALSHA, with one EVAL retry when the
// server's script cache lacks them (after a restart or SCRIPT FLUSH).

#include <string>
#include <string_view>
#include <vector>

#include "bucket/bucket.h"
#include "redis/cluster.h"
#include "redis/connection.h"

namespace tbucket {

struct Script {
    std::string_view name;
    std::string_view source;
    std::string_view sha1;  // of source, computed at build time (tbucket_lua_join)
};

namespace scripts {
extern const Script create_script, take_script, put_script, info_script, reset_script,
    delete_script, lease_renew_script, lease_release_script, lease_list_script, wait_script,
    take_many_script, wait_many_script, zone_script;
}

struct ScriptCall {
    const Script* script;
    std::string key;  // the bucket: every tbucket script touches one
    std::vector<std::string> args;
    // A script that changes the bucket: its request's id key (KEYS[2]),
    // from request_id_key(); empty for scripts that only read.
    std::string id_key = {};
    // A script that changes the bucket: the index of names of its slot
    // (KEYS[3], names.h), which create, delete and an inline create keep.
    std::string index_key = {};
    // Further buckets, after those (take_many's and wait_many's KEYS[3..],
    // which have no index key).
    std::vector<std::string> more_keys = {};
    // --durable: WAIT for this many replicas after the script, in the same
    // round trip (0: none), at most wait_ms; fewer is Error unwritable.
    int wait_replicas = 0;
    int64_t wait_ms = 0;
};

// A new request id's key beside the bucket at `key`: random, so that a
// repeat of the request (after a lost reply) is known by the server.
std::string request_id_key(const std::string& key);

// A call of a script that changes the bucket at `key`: a new request id,
// remembered by the server for `memory_ms` (ARGV[1]), then `args`. With
// `indexed`, for a call that may create or delete the bucket, the index
// of names of its slot too (a plain take need not pay for the key).
ScriptCall change_call(const Script& script, std::string key, std::vector<std::string> args,
                       int64_t memory_ms, bool indexed = false);

// How long a client sends a change again after a lost reply: two I/O
// timeouts and a connect. The server remembers the id twice that long,
// for a repeat that a stalled server only reads late.
int64_t retry_window_ms(const ConnectionOptions& options);

// EVALSHA (by_sha) or EVAL of the call.
Command script_command(const ScriptCall& call, bool by_sha);
// The server does not have the script cached: send it again with EVAL.
bool is_noscript(const Reply& reply);

// Runs the calls in one round trip per node; calls answered NOSCRIPT (a
// restarted server, or a node first reached through a redirect) are sent
// again with EVAL. Error replies are returned as they are. `answered_by`,
// when given, gets the node each reply came from.
std::vector<Reply> run_scripts(Nodes& nodes, const std::vector<ScriptCall>& calls,
                               std::vector<std::string>* answered_by = nullptr);

// "capacity 5, rate 1/s, expire 1h", for messages.
std::string describe_settings(const Settings& settings);

// The Error a script's error reply stands for (TBNOTFOUND → not_found, ...).
// `name` is the bucket the call was about, for the message.
Error script_error(const redisReply& reply, std::string_view name);

}  // namespace tbucket
