// tbucket doctor against real Redis Clusters: a healthy one (every primary
// answers, every slot covered, replicas and what a failover can lose), and
// one whose primary was stopped by pid (named as a FAIL, exit 1).

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/e2e.h"
#include "support/process.h"
#include "support/redis_cluster.h"

using nlohmann::json;
using tbucket::test::json_lines;
using tbucket::test::RedisCluster;
using tbucket::test::RedisServer;
using tbucket::test::RunResult;
using tbucket::test::tb_argv;

namespace {

std::string address_of(RedisServer& node) {
    return "127.0.0.1:" + std::to_string(node.port());
}

// Every --json line of one check (one per distinct finding).
std::vector<json> checks_named(const RunResult& r, const std::string& name) {
    std::vector<json> found;
    for (const json& line : json_lines(r.out)) {
        if (line.at("check") == name) found.push_back(line);
    }
    return found;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("doctor on a healthy cluster finds every primary and every slot, and the replicas",
          "[cluster][doctor]") {
    RedisCluster cluster(3, 1);
    cluster.wait_ok();
    RunResult r = tbucket::test::run(tb_argv(cluster.url(), {"--json", "doctor"}));
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    std::vector<json> primaries = checks_named(r, "cluster-primary");
    REQUIRE(primaries.size() == 1);  // the same on all three: one line
    CHECK(primaries[0].at("status") == "ok");
    CHECK(primaries[0].at("nodes").size() == 3);
    std::vector<json> slots = checks_named(r, "cluster-slots");
    REQUIRE(slots.size() == 1);
    CHECK(slots[0].at("status") == "ok");
    CHECK(slots[0].at("summary") == "all 16384 slots served by 3 live primaries");
    std::vector<json> replication = checks_named(r, "replication");
    REQUIRE(replication.size() == 1);
    CHECK(replication[0].at("summary") == "1 replica, asynchronous");
    CHECK(replication[0].at("nodes").size() == 3);
    CHECK(checks_named(r, "pubsub").at(0).at("status") == "ok");
    CHECK(checks_named(r, "acl").at(0).at("status") == "ok");
}

TEST_CASE("doctor names a failed primary as a FAIL, with its slots, and exits 1",
          "[cluster][doctor]") {
    RedisCluster cluster(3);
    cluster.wait_ok();
    RedisServer& victim = cluster.node(1);
    std::string victim_address = address_of(victim);
    victim.stop();  // SIGKILL by pid
    RunResult r = tbucket::test::run(tb_argv(cluster.url(), {"--json", "doctor"}));
    INFO(r.out << r.err);
    CHECK(r.code == 1);
    std::vector<json> primaries = checks_named(r, "cluster-primary");
    json failed;
    for (const json& c : primaries) {
        if (c.at("status") == "fail") failed = c;
    }
    REQUIRE(failed.is_object());
    CHECK(failed.at("nodes") == json::array({victim_address}));
    CHECK(contains(failed.at("summary"), "primary " + victim_address));
    CHECK(contains(failed.at("advice"), "exit 69"));
    CHECK(contains(failed.at("advice"), "no replica"));
    std::vector<json> slots = checks_named(r, "cluster-slots");
    REQUIRE(slots.size() == 1);
    CHECK(slots[0].at("status") == "fail");
    CHECK(contains(slots[0].at("summary"), "slots have no live primary"));
    // The probe channel is put in a slot that has a live primary: the dead
    // one is named once, not blamed on pub/sub.
    CHECK(checks_named(r, "pubsub").at(0).at("status") == "ok");

    RunResult text = tbucket::test::run(tb_argv(cluster.url(), {"doctor"}));
    CHECK(text.code == 1);
    CHECK(contains(text.out, "FAIL  cluster-primary  primary " + victim_address));
}
