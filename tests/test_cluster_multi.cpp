// Bucket lists on a Redis Cluster (SPEC §11) whose names live on different
// shards: no script can span them, so tbucket takes them one by one in the
// order of their keys and gives back what it took when a later one says
// no. It must never grant more than all-or-none would, and lose nothing.

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/e2e.h"
#include "support/process.h"
#include "support/redis_cluster.h"

using nlohmann::json;
using tbucket::test::Child;
using tbucket::test::RedisCluster;
using tbucket::test::RedisServer;
using tbucket::test::RunResult;
using tbucket::test::tb;

namespace {

std::string level(RedisCluster& cluster, const std::string& name) {
    const std::string key = "tbucket:{" + name + "}";
    return cluster.owner(cluster.slot(key)).string({"HGET", key, "t"});
}

// 4 shell loops of `each` takes of LIST; the exit statuses counted. Sized
// for the slowest build (a sanitizer's tbucket starts 15x slower): 200
// processes, with a bound far above what they need.
std::map<std::string, int> hammer(const std::string& url, const std::string& list, int each) {
    tbucket::test::RunOptions options =
        tbucket::test::with_env({{"TB", tbucket::test::tbucket_path()}, {"URL", url}});
    options.timeout_s = 900;
    const std::string script = "for i in $(seq " + std::to_string(each) +
                               "); do \"$TB\" -q -u \"$URL\" take " + list + "; echo $?; done";
    std::vector<std::unique_ptr<Child>> loops;
    for (int i = 0; i < 4; ++i) {
        loops.push_back(
            std::make_unique<Child>(std::vector<std::string>{"sh", "-c", script}, options));
    }
    std::map<std::string, int> codes;
    for (auto& loop : loops) {
        RunResult r = loop->wait();
        CHECK(r.code == 0);
        CHECK(r.err.empty());
        for (const std::string& line : tbucket::test::text_lines(r.out)) ++codes[line];
    }
    return codes;
}

}  // namespace

TEST_CASE("4 x 50 take a,b across shards: exactly 50 granted, b ends at 70", "[cluster][multi]") {
    RedisCluster cluster(3);
    REQUIRE(&cluster.owner(cluster.slot("tbucket:{a}")) !=
            &cluster.owner(cluster.slot("tbucket:{b}")));
    const std::string url = cluster.url();
    REQUIRE(tb(url, {"create", "a", "--capacity", "50"}).code == 0);
    REQUIRE(tb(url, {"create", "b", "--capacity", "120"}).code == 0);
    std::map<std::string, int> codes = hammer(url, "a,b", 50);
    INFO("0 x" << codes["0"] << ", 1 x" << codes["1"] << ", " << codes.size() << " kinds");
    CHECK(codes["0"] == 50);
    CHECK(codes["1"] == 150);
    CHECK(codes.size() == 2);
    CHECK(level(cluster, "a") == "0");
    CHECK(level(cluster, "b") == "70");
}

TEST_CASE("across shards, tokens taken before a later bucket says no all come back",
          "[cluster][multi]") {
    RedisCluster cluster(3);
    const std::string url = cluster.url();
    // a is taken first (its key sorts first), b is the one that runs out.
    REQUIRE(tb(url, {"create", "a", "--capacity", "120"}).code == 0);
    REQUIRE(tb(url, {"create", "b", "--capacity", "50"}).code == 0);
    std::map<std::string, int> codes = hammer(url, "a,b", 50);
    INFO("0 x" << codes["0"] << ", 1 x" << codes["1"]);
    CHECK(codes["0"] == 50);
    CHECK(codes["1"] == 150);
    CHECK(level(cluster, "a") == "70");  // every token given back on the 150 denials
    CHECK(level(cluster, "b") == "0");
    // The answer of a denial names b and shows a as it is after the give-back.
    RunResult r = tb(url, {"--json", "take", "a,b"});
    CHECK(r.code == 1);
    json j = json::parse(r.out);
    CHECK(j["refused"] == json::array({"b"}));
    CHECK(j["buckets"][0]["taken"] == 0);
    CHECK(j["buckets"][0]["tokens"] == 70);
}

TEST_CASE("across shards, a list waiter takes all once the last bucket has enough",
          "[cluster][multi]") {
    RedisCluster cluster(3);
    const std::string url = cluster.url();
    REQUIRE(tb(url, {"create", "a", "--capacity", "5"}).code == 0);
    REQUIRE(tb(url, {"create", "b", "--capacity", "5", "--tokens", "0"}).code == 0);
    Child waiter(tbucket::test::tb_argv(url, {"take", "a=2,b=3", "--wait=20s"}));
    RedisServer& b_owner = cluster.owner(cluster.slot("tbucket:{b}"));
    REQUIRE(tbucket::test::wait_for_subscribers(b_owner, "tbucket:{b}:events", 1, 10));
    // Nothing held while b is awaited: a look takes a, then gives it back
    // when b says no (the brief under-grant of a cluster), so a is 5 again
    // between looks.
    bool back = false;
    for (int i = 0; i < 200 && !back; ++i) {
        back = level(cluster, "a") == "5";
        if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(back);
    REQUIRE(tb(url, {"put", "b", "3"}).code == 0);
    CHECK(waiter.wait().code == 0);
    CHECK(level(cluster, "a") == "3");
    CHECK(level(cluster, "b") == "0");
}

TEST_CASE("across shards, run api,deploys spends api's token and gives deploys' back",
          "[cluster][multi][lease]") {
    RedisCluster cluster(3);
    const std::string url = cluster.url();
    REQUIRE(&cluster.owner(cluster.slot("tbucket:{api}")) !=
            &cluster.owner(cluster.slot("tbucket:{deploys}")));
    REQUIRE(tb(url, {"create", "api", "--capacity", "10", "--rate", "1/h"}).code == 0);
    REQUIRE(tb(url, {"create", "deploys", "--capacity", "2"}).code == 0);
    RedisServer& owner = cluster.owner(cluster.slot("tbucket:{deploys}"));
    const std::string probe = "redis-cli -p " + std::to_string(owner.port()) +
                              " HGET tbucket:{deploys} l; echo \"$TBUCKET_FENCE\"";
    RunResult r = tb(url, {"run", "api,deploys", "--lease", "30s", "--", "sh", "-c", probe});
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    std::vector<std::string> lines = tbucket::test::text_lines(r.out);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == "1");  // leased while the command ran
    CHECK(std::stoll(lines[1]) > 0);
    CHECK(level(cluster, "deploys") == "2");
    CHECK(std::stod(level(cluster, "api")) < 9.01);
    // Denied by deploys (after api was taken): api's token comes back.
    REQUIRE(tb(url, {"reset", "deploys", "--tokens", "0"}).code == 0);
    const std::string before = level(cluster, "api");
    RunResult denied = tb(url, {"run", "api,deploys", "--", "true"});
    CHECK(denied.code == 75);
    CHECK(std::stod(level(cluster, "api")) >= std::stod(before));
}
