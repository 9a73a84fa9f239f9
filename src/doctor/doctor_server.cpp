// Checks of one server: what it runs, whether it keeps buckets across a
// restart, whether it may evict them, who replicates it, and its clock.

#include <chrono>
#include <cstdlib>

#include "doctor/doctor_checks.h"

namespace tbucket::doctor {
namespace {

// A script whose SHA1 is known, to see that EVAL and EVALSHA both run
// (`printf 'return 1' | sha1sum`).
constexpr const char* probe_script = "return 1";
constexpr const char* probe_sha = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db";

// What Redis said instead of an answer, for a check that could not be made.
Check unknown(std::string name, const std::string& node, const std::string& asked,
              const std::string& why) {
    return make(std::move(name), CheckStatus::warn, node,
                "cannot tell: " + asked + " failed: " + why,
                "run doctor as a user that may run " + asked + ", or check this by hand");
}

Check version_check(const Info& info, const std::string& node) {
    auto found = info.find("redis_version");
    if (found == info.end()) return unknown("version", node, "INFO", "no redis_version field");
    const std::string& version = found->second;
    int major = std::atoi(version.c_str());
    std::string what = "Redis " + version;
    if (major >= 7) {
        return make("version", CheckStatus::ok, node, what,
                    "scripts and sharded pub/sub (SPUBLISH, SSUBSCRIBE): all tbucket uses");
    }
    std::string lost =
        "no sharded pub/sub: events go by PUBLISH/SUBSCRIBE, which a cluster copies "
        "to every node, and ACL rights cannot be checked (ACL DRYRUN)";
    if (major < 6) lost += "; no ACL users (anyone with the password has every right)";
    return make("version", CheckStatus::warn, node, what, lost + "; upgrade to Redis 7 or later");
}

Check scripts_check(const Reply& eval, const Reply& evalsha, const std::string& node) {
    if (is_error(eval)) {
        return make("scripts", CheckStatus::fail, node, "EVAL refused: " + text_of(*eval),
                    "every bucket change is one Lua script, so no tbucket command can work here; "
                    "allow EVAL and EVALSHA (a proxy may not support scripts: connect directly)");
    }
    if (is_error(evalsha)) {
        return make("scripts", CheckStatus::warn, node,
                    "EVAL runs but EVALSHA right after it failed: " + text_of(*evalsha),
                    "tbucket falls back to EVAL, sending the whole script with every command; "
                    "allow EVALSHA, or connect past the proxy that drops the script cache");
    }
    return make("scripts", CheckStatus::ok, node, "EVAL and EVALSHA run",
                "every bucket change is one atomic script");
}

Check persistence_check(const Info& info, const Reply& save, const Reply& fsync,
                        const std::string& node) {
    auto aof = info.find("aof_enabled");
    if (aof == info.end()) return unknown("persistence", node, "INFO", "no aof_enabled field");
    if (aof->second == "1") {
        std::string how =
            !is_error(fsync) && fsync->elements == 2 ? text_of(*fsync->element[1]) : "";
        std::string loss = how == "always" ? "a crash loses no acknowledged change"
                           : how == "no"   ? "a crash loses what the OS had not written yet (up to "
                                             "about 30s of changes: tokens taken come back)"
                                           : "a crash loses at most the last second of changes";
        return make("persistence", CheckStatus::ok, node,
                    "AOF on" + (how.empty() ? "" : " (appendfsync " + how + ")"),
                    "buckets survive a restart; " + loss);
    }
    if (is_error(save) || save->elements != 2) {
        return unknown("persistence", node, "CONFIG GET save",
                       is_error(save) ? text_of(*save) : "unexpected reply");
    }
    std::string rules = text_of(*save->element[1]);
    if (!rules.empty()) {
        return make(
            "persistence", CheckStatus::ok, node, "RDB snapshots only (save \"" + rules + "\")",
            "a restart brings buckets back as of the last snapshot: tokens taken since "
            "come back; for limits that must hold across restarts, CONFIG SET appendonly yes");
    }
    // WARN, not FAIL: a restart is not a routine event, and a cache-only
    // Redis for rate limits can be a deliberate choice. But it must be known.
    return make(
        "persistence", CheckStatus::warn, node, "no persistence (appendonly no, save \"\")",
        "a restart empties the server: every bucket comes back full on its next use with "
        "--capacity (or is missing, exit 3) and semaphores forget their holders; WARN, not "
        "FAIL, because only a restart does it; CONFIG SET appendonly yes (then CONFIG REWRITE)");
}

Check eviction_check(const Info& info, const std::string& node) {
    auto policy = info.find("maxmemory_policy");
    if (policy == info.end()) return unknown("eviction", node, "INFO", "no maxmemory_policy field");
    auto limit = info.find("maxmemory");
    auto human = info.find("maxmemory_human");
    bool unlimited = limit != info.end() && limit->second == "0";
    std::string what = "maxmemory-policy " + policy->second;
    if (unlimited)
        what += ", maxmemory 0 (no limit)";
    else if (human != info.end())
        what += ", maxmemory " + human->second;
    std::string fix =
        "CONFIG SET maxmemory-policy noeviction, or keep buckets on a server of their own";
    if (policy->second.rfind("allkeys-", 0) == 0) {
        return make("eviction", CheckStatus::fail, node, what,
                    "when memory fills, any key may be evicted: an evicted bucket comes back full "
                    "(or missing, exit 3), so its limit is lifted" +
                        std::string(unlimited ? " the moment a maxmemory is set" : "") + "; " +
                        fix);
    }
    if (policy->second.rfind("volatile-", 0) == 0) {
        return make(
            "eviction", CheckStatus::warn, node, what,
            "keys with a TTL may be evicted: buckets made with --expire and the request ids "
            "that keep changes at most once; an evicted bucket comes back full; " +
                fix);
    }
    return make("eviction", CheckStatus::ok, node, what,
                "no bucket is ever evicted; when memory is full, changes fail with OOM (exit 69) "
                "and the buckets stay as they were");
}

Check replication_check(const Info& info, const Role& role, const std::string& node) {
    auto found = info.find("role");
    if (found == info.end()) return unknown("replication", node, "INFO", "no role field");
    if (found->second != "master") {
        std::string of = info.count("master_host") ? " of " + info.find("master_host")->second +
                                                         ":" + info.find("master_port")->second
                                                   : "";
        return make("replication", CheckStatus::fail, node, "this server is a replica" + of,
                    "changes fail with READONLY (exit 69): point tbucket at the primary");
    }
    int replicas = role.replicas;
    if (replicas < 0) {
        auto connected = info.find("connected_slaves");
        replicas = connected == info.end() ? 0 : std::atoi(connected->second.c_str());
    }
    if (replicas == 0) {
        return make("replication", CheckStatus::info, node, "no replicas",
                    "if this server's data is lost, its buckets are lost with it (they come back "
                    "full on first use with --capacity); nothing to fail over to");
    }
    // Not the replicas' lag: it moves from one reading to the next, and
    // nodes with the same finding are reported together.
    return make(
        "replication", CheckStatus::info, node,
        std::to_string(replicas) + (replicas == 1 ? " replica" : " replicas") + ", asynchronous",
        "a failover loses the changes the replicas had not yet received (usually under a "
        "second's): tokens taken come back, new buckets vanish; leases lost so are taken "
        "back by their holders at their next renewal. --durable makes each change wait "
        "for a replica (exit 69 when none confirms)");
}

Check clock_check(Connection& server) {
    using namespace std::chrono;
    auto before = system_clock::now();
    auto steady = steady_clock::now();
    Reply time = server.call({"TIME"});
    double rtt_ms = duration<double, std::milli>(steady_clock::now() - steady).count();
    std::string node = server.endpoint();
    if (is_error(time) || time->elements != 2) {
        return unknown("clock", node, "TIME", is_error(time) ? text_of(*time) : "unexpected reply");
    }
    double server_s = std::atof(text_of(*time->element[0]).c_str()) +
                      std::atof(text_of(*time->element[1]).c_str()) / 1e6;
    double client_s = duration<double>(before.time_since_epoch()).count() + rtt_ms / 2000;
    double off = client_s - server_s;
    char text[160];
    std::snprintf(text, sizeof text,
                  "this host's clock is %.3fs %s the server's (round trip %.2fms)", std::abs(off),
                  off >= 0 ? "ahead of" : "behind", rtt_ms);
    return make("clock", CheckStatus::info, node, text,
                "informational: buckets take all time from the server's TIME, never from a "
                "client's clock, so this does not matter to them");
}

}  // namespace

void check_server(Connection& server, const Role& role, std::vector<Check>& out) {
    std::vector<Reply> r = server.pipeline({{"INFO"},
                                            {"CONFIG", "GET", "save"},
                                            {"CONFIG", "GET", "appendfsync"},
                                            {"EVAL", probe_script, "0"},
                                            {"EVALSHA", probe_sha, "0"}});
    std::string node = server.endpoint();
    out.push_back(scripts_check(r[3], r[4], node));
    if (is_error(r[0])) {
        for (const char* name : {"version", "persistence", "eviction", "replication"})
            out.push_back(unknown(name, node, "INFO", text_of(*r[0])));
    } else {
        Info info = parse_info(text_of(*r[0]));
        out.push_back(version_check(info, node));
        out.push_back(persistence_check(info, r[1], r[2], node));
        out.push_back(eviction_check(info, node));
        out.push_back(replication_check(info, role, node));
    }
    out.push_back(clock_check(server));
}

}  // namespace tbucket::doctor
