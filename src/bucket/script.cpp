#include "bucket/script.h"

#include <sys/random.h>

#include <atomic>
#include <cstdlib>
#include <optional>

#include "bucket/names.h"
#include "util/error.h"
#include "util/parse.h"
#include "util/zone.h"

namespace tbucket {

Command script_command(const ScriptCall& call, bool by_sha) {
    Command command;
    command.reserve(5 + call.more_keys.size() + call.args.size());
    command.emplace_back(by_sha ? "EVALSHA" : "EVAL");
    command.emplace_back(by_sha ? call.script->sha1 : call.script->source);
    bool index = !call.id_key.empty() && !call.index_key.empty();
    std::size_t keys = 1 + (call.id_key.empty() ? 0 : 1) + (index ? 1 : 0) + call.more_keys.size();
    command.push_back(std::to_string(keys));
    command.push_back(call.key);
    if (!call.id_key.empty()) command.push_back(call.id_key);
    if (index) command.push_back(call.index_key);
    command.insert(command.end(), call.more_keys.begin(), call.more_keys.end());
    command.insert(command.end(), call.args.begin(), call.args.end());
    return command;
}

std::string request_id_key(const std::string& key) {
    // 64 random bits drawn once per process, then a counter: one system call
    // per process, not per request (it showed in the library's throughput).
    // Ids never repeat within a process; two processes' ids meet only if
    // their 64 random bits do, and an id lives for seconds.
    static const uint64_t random = [] {
        uint64_t bits = 0;
        if (getrandom(&bits, sizeof bits, 0) != static_cast<ssize_t>(sizeof bits))
            throw Error(ErrorKind::internal, "cannot read random bytes for request ids");
        return bits;
    }();
    static std::atomic<uint32_t> counter{0};
    // 16 then 8 hex digits. By hand, not snprintf: printf's code and stack
    // are pages a one-shot take would fault in for this alone.
    std::string id = key + ":id:" + std::string(24, '0');
    auto hex = [&id](uint64_t value, std::size_t end, int digits) {
        for (int i = 1; i <= digits; ++i, value >>= 4) id[end - i] = "0123456789abcdef"[value & 15];
    };
    hex(random, id.size() - 8, 16);
    hex(counter.fetch_add(1, std::memory_order_relaxed), id.size(), 8);
    return id;
}

ScriptCall change_call(const Script& script, std::string key, std::vector<std::string> args,
                       int64_t memory_ms, bool indexed) {
    args.insert(args.begin(), std::to_string(memory_ms));
    std::string id_key = request_id_key(key);
    std::string index_key = indexed ? index_key_of(key) : "";
    return {&script, std::move(key), std::move(args), std::move(id_key), std::move(index_key)};
}

int64_t retry_window_ms(const ConnectionOptions& options) {
    return 2 * options.io_timeout_ms + options.connect_timeout_ms;
}

bool is_noscript(const Reply& reply) {
    return reply->type == REDIS_REPLY_ERROR &&
           std::string_view(reply->str, reply->len).substr(0, 8) == "NOSCRIPT";
}

std::string describe_settings(const Settings& s) {
    std::string out = "capacity " + std::to_string(s.capacity);
    out += s.rate     ? ", rate " + format_rate(*s.rate)
           : s.window ? ", window " + describe_window(*s.window)
                      : ", no refill";
    if (s.expire_ms) out += ", expire " + format_exact_ms(*s.expire_ms);
    return out;
}

namespace {

std::string settings_text(std::string_view detail) {
    // detail: "<capacity> <amount|-> <period_ms> <expire_ms>"
    char amount[64] = {0};
    long long capacity = 0, period = 0, expire = 0;
    std::string d(detail);
    if (std::sscanf(d.c_str(), "%lld %63s %lld %lld", &capacity, amount, &period, &expire) != 4)
        return d;
    Settings s;
    s.capacity = capacity;
    if (amount[0] == '@') {
        s.window = parse_window_wire(amount, nullptr);
    } else if (std::string_view(amount) != "-") {
        s.rate = Rate{std::strtod(amount, nullptr), period};
    }
    if (expire > 0) s.expire_ms = expire;
    return describe_settings(s);
}

}  // namespace

namespace {

// The calls `which` of `calls` in one pipeline, each followed by its WAIT
// (--durable) on the same node: the scripts' replies, in the order of
// `which`; a change that fewer replicas than asked acknowledged is Error
// unwritable (it was made on the primary; a failover may lose it).
std::vector<Reply> send_calls(Nodes& nodes, const std::vector<ScriptCall>& calls,
                              const std::vector<std::size_t>& which, bool by_sha,
                              std::vector<std::string>* answered_by) {
    std::vector<Routed> commands;
    commands.reserve(which.size());
    for (std::size_t i : which) {
        const ScriptCall& call = calls[i];
        commands.push_back({call.key, script_command(call, by_sha)});
        if (call.wait_replicas > 0) {
            commands.push_back(
                {call.key,
                 {"WAIT", std::to_string(call.wait_replicas), std::to_string(call.wait_ms)}});
        }
    }
    std::vector<std::string> by;
    std::vector<Reply> replies = nodes.pipeline(commands, answered_by ? &by : nullptr);
    std::vector<Reply> scripts;
    scripts.reserve(which.size());
    if (answered_by) answered_by->clear();
    std::size_t at = 0;
    for (std::size_t i : which) {
        const ScriptCall& call = calls[i];
        if (answered_by) answered_by->push_back(std::move(by[at]));
        Reply reply = std::move(replies[at++]);
        if (call.wait_replicas > 0) {
            const Reply& acked = replies[at++];
            bool changed = reply->type != REDIS_REPLY_ERROR;  // an error wrote nothing
            if (changed &&
                (acked->type != REDIS_REPLY_INTEGER || acked->integer < call.wait_replicas)) {
                long long got = acked->type == REDIS_REPLY_INTEGER ? acked->integer : 0;
                throw Error(ErrorKind::unwritable,
                            "not confirmed by a replica: " + std::to_string(got) + " of " +
                                std::to_string(call.wait_replicas) +
                                " acknowledged the change within " + format_exact_ms(call.wait_ms) +
                                " (--durable); it was made on the primary, and a failover "
                                "may lose it");
            }
        }
        scripts.push_back(std::move(reply));
    }
    return scripts;
}

std::vector<Reply> run_scripts_once(Nodes& nodes, const std::vector<ScriptCall>& calls,
                                    std::vector<std::string>* answered_by) {
    std::vector<std::size_t> all(calls.size());
    for (std::size_t i = 0; i < calls.size(); ++i) all[i] = i;
    std::vector<Reply> replies = send_calls(nodes, calls, all, true, answered_by);
    std::vector<std::size_t> retry;
    for (std::size_t i = 0; i < replies.size(); ++i) {
        if (is_noscript(replies[i])) retry.push_back(i);
    }
    if (retry.empty()) return replies;
    std::vector<std::string> retry_by;
    std::vector<Reply> again =
        send_calls(nodes, calls, retry, false, answered_by ? &retry_by : nullptr);
    for (std::size_t i = 0; i < again.size(); ++i) {
        replies[retry[i]] = std::move(again[i]);
        if (answered_by) (*answered_by)[retry[i]] = std::move(retry_by[i]);
    }
    return replies;
}

// "TBZONE <key>:z <zone> <server s>": the zone's offsets are missing or
// run out (common.lua); nothing was written.
struct ZoneWanted {
    std::string key, zone;
    int64_t server_s = 0;
};

std::optional<ZoneWanted> zone_wanted(const Reply& reply) {
    if (reply->type != REDIS_REPLY_ERROR) return std::nullopt;
    std::string_view text(reply->str, reply->len);
    if (!text.starts_with("TBZONE ")) return std::nullopt;
    char key[1024] = {0}, zone[128] = {0};
    long long s = 0;
    if (std::sscanf(std::string(text).c_str(), "TBZONE %1023s %127s %lld", key, zone, &s) != 3)
        return std::nullopt;
    return ZoneWanted{key, zone, s};
}

}  // namespace

// Runs the calls; those answered TBZONE get their zone's offsets stored
// (zone.lua) and are sent once more: a window bucket in a time zone costs
// that round trip on its first use and about once a year after.
std::vector<Reply> run_scripts(Nodes& nodes, const std::vector<ScriptCall>& calls,
                               std::vector<std::string>* answered_by) {
    std::vector<Reply> replies = run_scripts_once(nodes, calls, answered_by);
    std::vector<ScriptCall> again;
    std::vector<std::size_t> again_index;
    std::vector<Routed> stores;
    for (std::size_t i = 0; i < replies.size(); ++i) {
        std::optional<ZoneWanted> wanted = zone_wanted(replies[i]);
        if (!wanted) continue;
        // The zone as the bucket holds it: create checked it, but a hand
        // edit may not have; it goes into TZ only once it is a zone's name.
        try {
            check_zone(wanted->zone);
        } catch (const Error&) {
            throw Error(ErrorKind::data, wanted->key.substr(0, wanted->key.size() - 2) +
                                             " has a time zone that is not one ('" +
                                             printable(wanted->zone) +
                                             "'); not a tbucket bucket, left untouched");
        }
        int64_t until = 0;
        std::string offsets = zone_offsets(wanted->zone, wanted->server_s, until);
        ScriptCall store{&scripts::zone_script, wanted->key, {offsets, std::to_string(until)}};
        stores.push_back({wanted->key, script_command(store, false)});
        again.push_back(calls[i]);
        again_index.push_back(i);
    }
    if (again.empty()) return replies;
    for (const Reply& stored : nodes.pipeline(stores, nullptr)) {
        if (stored->type == REDIS_REPLY_ERROR) throw script_error(*stored, "");
    }
    std::vector<std::string> again_by;
    std::vector<Reply> second = run_scripts_once(nodes, again, answered_by ? &again_by : nullptr);
    for (std::size_t i = 0; i < second.size(); ++i) {
        replies[again_index[i]] = std::move(second[i]);
        if (answered_by) (*answered_by)[again_index[i]] = std::move(again_by[i]);
    }
    return replies;
}

Error script_error(const redisReply& reply, std::string_view name) {
    std::string text = reply_error_text(reply);
    std::size_t space = text.find(' ');
    std::string code = text.substr(0, space);
    std::string detail = space == std::string::npos ? "" : text.substr(space + 1);
    std::string bucket = "bucket '" + std::string(name) + "'";
    if (code == "TBNOTFOUND")
        return Error(ErrorKind::not_found, "no such bucket: " + std::string(name));
    if (code == "TBEXISTS") {
        return Error(ErrorKind::exists,
                     bucket + " exists with other settings (" + settings_text(detail) + ")");
    }
    if (code == "TBIMPOSSIBLE") {
        return Error(ErrorKind::impossible,
                     "more tokens asked than " + bucket + " can hold (capacity " + detail + ")");
    }
    if (code == "TBREFILLS") {
        // detail: "<amount> <period ms>"
        char amount[64] = {0};
        long long period = 0;
        std::string rate = detail;
        if (std::sscanf(detail.c_str(), "%63s %lld", amount, &period) == 2) {
            if (amount[0] == '@') {
                rate = "window " + describe_window(*parse_window_wire(amount, nullptr));
            } else {
                rate = format_rate(Rate{std::strtod(amount, nullptr), period});
            }
        }
        return Error(ErrorKind::usage,
                     bucket + " refills (" + rate + "): leases are for buckets without refill");
    }
    if (code == "TBZONE") {
        return Error(ErrorKind::unavailable,
                     "the time zone offsets of " + bucket + " could not be stored: " + detail);
    }
    if (code == "TBDATA") return Error(ErrorKind::data, detail);
    if (code == "TBUSAGE") return Error(ErrorKind::usage, detail);
    ErrorKind kind = classify_reply_error(text);
    if (code == "NOAUTH" || text.find("Protocol error: unauthenticated") != std::string::npos) {
        // Redis 7 answers a long command from a client that has not
        // authenticated with a protocol error that names no password.
        return Error(kind,
                     "this Redis server needs a password: give it with --password-file, "
                     "TBUCKET_PASSWORD or the URL (redis://:PASSWORD@host)");
    }
    if (kind == ErrorKind::refused) {
        return Error(kind, "Redis refused the command on " + bucket + ": " + text);
    }
    return Error(kind, "Redis error on " + bucket + ": " + text);
}

}  // namespace tbucket
