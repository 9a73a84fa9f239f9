// doctor's readers of what Redis says: CLUSTER NODES and INFO, on replies
// as Redis 7 writes them (no server needed).

#include <catch2/catch.hpp>

#include "doctor/doctor_checks.h"

using tbucket::doctor::ClusterNode;
using tbucket::doctor::parse_cluster_nodes;
using tbucket::doctor::parse_info;

namespace {

const char* nodes_text =
    "07c3 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460\n"
    "67ed 127.0.0.1:30002@40002,host-b master,fail - 0 0 2 connected 5461-10921 10922\n"
    "2929 127.0.0.1:30003@40003 master,nofailover - 0 0 3 connected 10923-16383 "
    "[5461->-67ed]\n"
    "6ec2 127.0.0.1:30004@40004 slave,fail? 07c3 0 0 1 connected\n";

}  // namespace

TEST_CASE("doctor reads primaries, replicas, flags and slots from CLUSTER NODES", "[doctor]") {
    std::vector<ClusterNode> nodes = parse_cluster_nodes(nodes_text);
    REQUIRE(nodes.size() == 4);
    CHECK(nodes[0].host == "127.0.0.1");
    CHECK(nodes[0].port == 30001);
    CHECK(nodes[0].primary);
    CHECK_FALSE(nodes[0].failed);
    CHECK(nodes[0].slots == std::vector<std::pair<int, int>>{{0, 5460}});
    CHECK(nodes[1].port == 30002);  // the hostname after the comma is not the port
    CHECK(nodes[1].failed);
    CHECK(nodes[1].slots == std::vector<std::pair<int, int>>{{5461, 10921}, {10922, 10922}});
    CHECK_FALSE(nodes[2].failed);  // nofailover is not a failure
    CHECK(nodes[2].slots ==
          std::vector<std::pair<int, int>>{{10923, 16383}});  // migrating left out
    CHECK_FALSE(nodes[3].primary);
    CHECK(nodes[3].failed);  // fail?: suspected
    CHECK(nodes[3].primary_id == "07c3");
}

TEST_CASE("doctor reads INFO fields and skips section headers", "[doctor]") {
    auto info = parse_info(
        "# Server\r\nredis_version:7.0.15\r\n\r\n# Memory\r\nmaxmemory_policy:allkeys-lru\r\n");
    CHECK(info.size() == 2);
    CHECK(info.at("redis_version") == "7.0.15");
    CHECK(info.at("maxmemory_policy") == "allkeys-lru");
}
