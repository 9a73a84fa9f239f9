// tbucket doctor against real redis-servers: a good one, and one bad in
// each way doctor knows (eviction policy, no persistence, ACL rights, a
// replica), each problem named with its status and the exit status right.

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "support/e2e.h"
#include "support/fault_proxy.h"
#include "support/process.h"
#include "support/redis_server.h"

using nlohmann::json;
using tbucket::test::json_lines;
using tbucket::test::RedisServer;
using tbucket::test::RunOptions;
using tbucket::test::RunResult;
using tbucket::test::tb_argv;
using tbucket::test::text_lines;

namespace {

RunResult doctor(const std::string& url, std::vector<std::string> args = {},
                 const RunOptions& options = {}) {
    args.insert(args.begin(), "doctor");
    return tbucket::test::run(tb_argv(url, args), options);
}

// The --json line of one check; fails the test when there is none.
json check(const RunResult& r, const std::string& name) {
    for (const json& line : json_lines(r.out)) {
        if (line.at("check") == name) return line;
    }
    FAIL("no check '" << name << "' in: " << r.out);
    return {};
}

// The text line of one check.
std::string text_line(const RunResult& r, const std::string& name) {
    for (const std::string& line : text_lines(r.out)) {
        if (line.size() > 6 && line.compare(6, name.size() + 1, name + " ") == 0) return line;
    }
    FAIL("no line for '" << name << "' in: " << r.out);
    return {};
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// A user "limited" with password "pw" and `rules`, and the URL and
// environment that connect as it.
RunOptions as_limited(RedisServer& server, std::vector<std::string> rules) {
    std::vector<std::string> args{"ACL", "SETUSER", "limited", "reset", "on", ">pw"};
    args.insert(args.end(), rules.begin(), rules.end());
    REQUIRE(server.string(args) == "OK");
    return RunOptions{{{"TBUCKET_PASSWORD", "pw"}}, ""};
}

std::string limited_url(RedisServer& server) {
    return "redis://limited@127.0.0.1:" + std::to_string(server.port());
}

const std::vector<std::string> every_check = {"version", "scripts", "persistence", "eviction",
                                              "acl",     "pubsub",  "replication", "clock"};

}  // namespace

TEST_CASE("doctor on a good server says OK or INFO to every check and exits 0", "[doctor]") {
    RedisServer server({"--appendonly", "yes"});
    RunResult r = doctor(server.url());
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    CHECK(r.err.empty());
    std::vector<std::string> lines = text_lines(r.out);
    REQUIRE(lines.size() == every_check.size() + 1);
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
        CHECK((lines[i].rfind("OK    ", 0) == 0 || lines[i].rfind("INFO  ", 0) == 0));
    }
    CHECK_THAT(lines.back(),
               Catch::StartsWith("8 checks: 6 OK, 2 INFO, 0 WARN, 0 FAIL; checked 127.0.0.1:") &&
                   Catch::EndsWith(" (from --url)"));
    for (const std::string& name : every_check) CHECK_FALSE(text_line(r, name).empty());
    CHECK(contains(text_line(r, "clock"), "INFO"));
    CHECK(server.integer({"DBSIZE"}) == 0);  // the probes leave no key behind
}

TEST_CASE("doctor --json prints one object per check, parsed back", "[doctor]") {
    RedisServer server({"--appendonly", "yes"});
    RunResult r = doctor(server.url(), {"--json"});
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    std::vector<json> lines = json_lines(r.out);
    std::set<std::string> names;
    for (const json& line : lines) {
        CHECK(line.size() == 5);
        CHECK(line.at("check").is_string());
        CHECK(std::set<std::string>{"ok", "info"}.count(line.at("status").get<std::string>()) == 1);
        CHECK(line.at("nodes").is_array());
        CHECK_FALSE(line.at("summary").get<std::string>().empty());
        CHECK_FALSE(line.at("advice").get<std::string>().empty());
        names.insert(line.at("check").get<std::string>());
    }
    CHECK(names == std::set<std::string>(every_check.begin(), every_check.end()));
    CHECK(check(r, "version").at("nodes") ==
          json::array({"127.0.0.1:" + std::to_string(server.port())}));
    CHECK(contains(check(r, "pubsub").at("summary"), "SSUBSCRIBE + SPUBLISH delivered"));
}

TEST_CASE("doctor names maxmemory-policy allkeys-lru as a FAIL and exits 1", "[doctor]") {
    RedisServer server({"--appendonly", "yes", "--maxmemory-policy", "allkeys-lru"});
    RunResult r = doctor(server.url());
    INFO(r.out << r.err);
    CHECK(r.code == 1);
    std::string line = text_line(r, "eviction");
    CHECK(line.rfind("FAIL  eviction", 0) == 0);
    CHECK(contains(line, "allkeys-lru"));
    CHECK(contains(line, "an evicted bucket comes back full"));
    CHECK(check(tbucket::test::run(tb_argv(server.url(), {"--json", "doctor"})), "eviction")
              .at("status") == "fail");
}

TEST_CASE("doctor names a volatile maxmemory-policy as a WARN about --expire", "[doctor]") {
    RedisServer server({"--appendonly", "yes", "--maxmemory-policy", "volatile-lru"});
    RunResult r = doctor(server.url(), {"--json"});
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    CHECK(check(r, "eviction").at("status") == "warn");
    CHECK(contains(check(r, "eviction").at("advice"), "--expire"));
}

TEST_CASE("doctor names no persistence as a WARN: a restart refills every bucket", "[doctor]") {
    RedisServer server;  // the fixture's own: appendonly no, save ""
    tbucket::Reply aof = server.command({"CONFIG", "GET", "appendonly"});
    REQUIRE(std::string(aof->element[1]->str) == "no");
    tbucket::Reply save = server.command({"CONFIG", "GET", "save"});
    REQUIRE(std::string(save->element[1]->str).empty());
    RunResult r = doctor(server.url());
    INFO(r.out << r.err);
    CHECK(r.code == 0);  // WARN, not FAIL (see the man page)
    std::string line = text_line(r, "persistence");
    CHECK(line.rfind("WARN  persistence", 0) == 0);
    CHECK(contains(line, "appendonly no, save \"\""));
    CHECK(contains(line, "comes back full"));
}

TEST_CASE("doctor names an ACL user without &tbucket:* as a FAIL naming the channel", "[doctor]") {
    RedisServer server({"--appendonly", "yes"});
    RunOptions env = as_limited(server, {"~tbucket:*", "+@all"});  // Redis 7: no channels
    RunResult r = doctor(limited_url(server), {"--json"}, env);
    INFO(r.out << r.err);
    CHECK(r.code == 1);
    json acl = check(r, "acl");
    CHECK(acl.at("status") == "fail");
    CHECK(contains(acl.at("summary"), "user 'limited'"));
    CHECK(contains(acl.at("summary"), "SPUBLISH on tbucket:{doctor}:events"));
    CHECK(contains(acl.at("advice"), "ACL SETUSER limited '&tbucket:*'"));
    CHECK(check(r, "pubsub").at("status") == "fail");
    CHECK(check(r, "eviction").at("status") == "ok");  // the user may read INFO
}

TEST_CASE("doctor as a user with the least rights but no channels still names the channel",
          "[doctor]") {
    RedisServer server({"--appendonly", "yes"});
    RunOptions env =
        as_limited(server, {"~tbucket:*", "-@all", "+evalsha", "+eval", "+scan", "+ssubscribe",
                            "+time", "+hmget", "+hset", "+del", "+exists", "+type", "+pexpire",
                            "+spublish", "+get", "+set"});
    RunResult r = doctor(limited_url(server), {"--json"}, env);
    INFO(r.out << r.err);
    CHECK(r.code == 1);
    json acl = check(r, "acl");  // no ACL DRYRUN for this user: a script asks instead
    CHECK(acl.at("status") == "fail");
    CHECK(contains(acl.at("summary"), "SSUBSCRIBE on tbucket:{doctor}:events"));
    CHECK(contains(acl.at("advice"), "'&tbucket:*'"));
    CHECK(check(r, "version").at("status") == "warn");  // INFO refused: cannot tell
    CHECK(check(r, "scripts").at("status") == "ok");
}

TEST_CASE("doctor with every right granted to a user says the ACL is OK", "[doctor]") {
    RedisServer server({"--appendonly", "yes"});
    RunOptions env = as_limited(server, {"~tbucket:*", "&tbucket:*", "+@all"});
    RunResult r = doctor(limited_url(server), {"--json"}, env);
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    CHECK(check(r, "acl").at("status") == "ok");
    CHECK(contains(check(r, "acl").at("summary"), "user 'limited'"));
}

TEST_CASE("doctor on a server nobody listens on exits 69", "[doctor]") {
    RunResult r = doctor("redis://127.0.0.1:" + std::to_string(tbucket::test::free_port()));
    CHECK(r.code == 69);
    CHECK(r.out.empty());
    CHECK(tbucket::test::one_error_line(r.err));
}

TEST_CASE("doctor with a wrong password exits 77", "[doctor]") {
    RedisServer server({"--requirepass", "right"});
    RunResult r = doctor(server.url(), {}, RunOptions{{{"TBUCKET_PASSWORD", "wrong"}}, ""});
    CHECK(r.code == 77);
    CHECK(r.out.empty());
}

TEST_CASE("doctor -q shows only the WARN and FAIL lines", "[doctor]") {
    RedisServer server({"--maxmemory-policy", "allkeys-random"});  // and no persistence
    RunResult r = doctor(server.url(), {"-q"});
    INFO(r.out << r.err);
    CHECK(r.code == 1);
    std::vector<std::string> lines = text_lines(r.out);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].rfind("WARN  persistence", 0) == 0);
    CHECK(lines[1].rfind("FAIL  eviction", 0) == 0);
}

TEST_CASE("doctor on a replica is a FAIL: changes would be refused", "[doctor]") {
    RedisServer primary({"--appendonly", "yes"});
    RedisServer replica({"--appendonly", "yes"});
    REQUIRE(replica.string({"REPLICAOF", "127.0.0.1", std::to_string(primary.port())}) == "OK");
    RunResult r = doctor(replica.url(), {"--json"});
    INFO(r.out << r.err);
    CHECK(r.code == 1);
    json replication = check(r, "replication");
    CHECK(replication.at("status") == "fail");
    CHECK(contains(replication.at("summary"),
                   "replica of 127.0.0.1:" + std::to_string(primary.port())));
}

TEST_CASE("doctor on a primary with a replica says what a failover can lose", "[doctor]") {
    RedisServer primary({"--appendonly", "yes"});
    RedisServer replica({"--appendonly", "yes"});
    REQUIRE(replica.string({"REPLICAOF", "127.0.0.1", std::to_string(primary.port())}) == "OK");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (primary.info_field("replication", "connected_slaves") != "1" &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    RunResult r = doctor(primary.url(), {"--json"});
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    json replication = check(r, "replication");
    CHECK(replication.at("status") == "info");
    CHECK(replication.at("summary") == "1 replica, asynchronous");
    CHECK(contains(replication.at("advice"), "--durable makes each change wait for a replica"));
}

TEST_CASE("doctor through a proxy that drops pub/sub names the pubsub FAIL", "[doctor]") {
    RedisServer server({"--appendonly", "yes"});
    tbucket::test::FaultProxy proxy(server.port());
    proxy.drop_pubsub_messages();  // subscriptions confirmed, messages never delivered
    RunResult r = tbucket::test::run(tb_argv(proxy.url(), {"--json", "doctor"}));
    INFO(r.out << r.err);
    CHECK(r.code == 1);
    json pubsub = check(r, "pubsub");
    CHECK(pubsub.at("status") == "fail");
    CHECK(contains(pubsub.at("summary"),
                   "(Redis counted 1 receiver) but nothing arrived within 2000ms"));
    CHECK(contains(pubsub.at("advice"), "a put or delete wakes nobody"));
    CHECK(check(r, "scripts").at("status") == "ok");  // the rest goes through
}

TEST_CASE("doctor as a user with bucket rights but none for leases warns about leases",
          "[doctor]") {
    RedisServer server({"--appendonly", "yes"});
    // Waiters need sorted sets too (their queue); only leases need these two.
    RunOptions env =
        as_limited(server, {"~tbucket:*", "&tbucket:*", "+@all", "-zcard", "-zrangebyscore"});
    RunResult r = doctor(limited_url(server), {"--json"}, env);
    INFO(r.out << r.err);
    CHECK(r.code == 0);  // a WARN: buckets work, leases would not
    json acl = check(r, "acl");
    CHECK(acl.at("status") == "warn");
    CHECK(contains(acl.at("summary"), "not what leases need: ZCARD on tbucket:{doctor}:lexp"));
    CHECK_FALSE(contains(acl.at("summary"), "HSET"));
    CHECK(contains(acl.at("advice"), "ACL SETUSER limited +zcard"));
}

TEST_CASE("doctor calls RDB snapshots without AOF OK, saying what a restart loses", "[doctor]") {
    RedisServer server({"--save", "3600 1"});
    RunResult r = doctor(server.url(), {"--json"});
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    json persistence = check(r, "persistence");
    CHECK(persistence.at("status") == "ok");
    CHECK(persistence.at("summary") == "RDB snapshots only (save \"3600 1\")");
    CHECK(contains(persistence.at("advice"), "as of the last snapshot"));
}

TEST_CASE("doctor -q on a good server prints nothing and exits 0", "[doctor]") {
    RedisServer server({"--appendonly", "yes"});
    RunResult r = doctor(server.url(), {"-q"});
    CHECK(r.code == 0);
    CHECK(r.out.empty());
    CHECK(r.err.empty());
}
