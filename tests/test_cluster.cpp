// Redis Cluster, against real clusters the fixture starts on free ports:
// every command on buckets spread over the shards, seed lists, a slot
// migrating under running takes and under a waiter, a redirect loop, and a
// failover. Each test case makes its own cluster (a few seconds).

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "bucket/bucket.h"
#include "support/e2e.h"
#include "support/process.h"
#include "support/redis_cluster.h"
#include "support/tls_server.h"

using nlohmann::json;
using tbucket::test::Child;
using tbucket::test::json_lines;
using tbucket::test::RedisCluster;
using tbucket::test::RedisServer;
using tbucket::test::RunResult;
using tbucket::test::slowdown;
using tbucket::test::tb;
using tbucket::test::tb_argv;

namespace {

using Clock = std::chrono::steady_clock;

std::string address(RedisServer& node) {
    return "127.0.0.1:" + std::to_string(node.port());
}

// Until `n` clients listen to the bucket's shard channel on `node`.
void until_subscribed(RedisServer& node, const std::string& name, long long n = 1) {
    if (!tbucket::test::wait_for_subscribers(node, "tbucket:{" + name + "}:events", n,
                                             10 * slowdown())) {
        FAIL("no subscriber to " << name << " on " << address(node));
    }
}

// A primary other than `not_this`.
RedisServer& other_primary(RedisCluster& cluster, RedisServer& not_this) {
    for (std::size_t i = 0; i < cluster.size(); ++i) {
        RedisServer& n = cluster.node(i);
        if (&n != &not_this && n.info_field("replication", "role") == "master") return n;
    }
    throw std::runtime_error("no other primary");
}

// Takes one token at a time on its own client until told to stop, counting
// what was granted and what failed.
class Taker {
  public:
    Taker(const tbucket::ConnectionOptions& seed, std::string name)
        : thread_([this, seed, name = std::move(name)] { loop(seed, name); }) {}
    ~Taker() { stop(); }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    long long granted() const { return granted_; }
    long long failed() const { return failed_; }
    std::string last_error() const { return last_error_; }

  private:
    void loop(const tbucket::ConnectionOptions& seed, const std::string& name) {
        tbucket::Client client(seed, "tbucket:");
        while (!stop_) {
            try {
                if (client.take(name, 1, tbucket::TakeMode::all, std::nullopt).ok()) ++granted_;
            } catch (const tbucket::Error& e) {
                ++failed_;
                last_error_ = e.what();
            }
        }
    }
    std::atomic<bool> stop_{false};
    std::atomic<long long> granted_{0}, failed_{0};
    std::string last_error_;
    std::thread thread_;
};

double level(RedisCluster& cluster, const std::string& name) {
    RunResult r = tb(cluster.url(), {"--json", "info", name});
    REQUIRE(r.code == 0);
    return json::parse(r.out)["tokens"].get<double>();
}

}  // namespace

TEST_CASE("every command works on buckets spread over all shards", "[cluster]") {
    RedisCluster cluster(3);
    std::vector<std::string> names;
    std::set<int> ports;
    for (int i = 0; names.size() < 12 || ports.size() < 3; ++i) {
        std::string name = std::string("b").append(std::to_string(i));
        names.push_back(name);
        ports.insert(cluster.owner(cluster.slot("tbucket:{" + name + "}")).port());
    }
    const std::string url = cluster.url();  // one seed: the others are found by MOVED
    for (const std::string& name : names)
        REQUIRE(tb(url, {"create", name, "--capacity", "5"}).code == 0);
    for (const std::string& name : names) {
        INFO(name);
        RedisServer& owner = cluster.owner(cluster.slot("tbucket:{" + name + "}"));
        CHECK(owner.integer({"EXISTS", "tbucket:{" + name + "}"}) == 1);
        CHECK(tb(url, {"take", name, "2"}).code == 0);
        CHECK(tb(url, {"put", name}).code == 0);
        CHECK(tb(url, {"take", name, "5"}).code == 1);
        json j = json::parse(tb(url, {"--json", "info", name}).out);
        CHECK(j["tokens"] == 4);
        CHECK(j["node"] == address(owner));
    }
    CHECK(tb(url, {"reset", names[0], "--tokens", "0"}).code == 0);
    std::vector<std::string> info_args{"--json", "info"};
    info_args.insert(info_args.end(), names.begin(), names.end());
    std::vector<json> lines = json_lines(tb(url, info_args).out);
    REQUIRE(lines.size() == names.size());
    for (std::size_t i = 0; i < names.size(); ++i)
        CHECK(lines[i]["name"] == names[i]);  // in the order asked
    CHECK(lines[0]["tokens"] == 0);
    RunResult listed = tb(url, {"list"});
    CHECK(listed.code == 0);
    std::vector<std::string> sorted = names;
    std::sort(sorted.begin(), sorted.end());
    CHECK(tbucket::test::text_lines(listed.out) == sorted);
    CHECK(json_lines(tb(url, {"--json", "list", "b1*"}).out).size() == 3);  // b1, b10, b11
    std::vector<std::string> delete_args{"delete"};
    delete_args.insert(delete_args.end(), names.begin(), names.end());
    CHECK(tb(url, delete_args).code == 0);
    CHECK(tb(url, {"list"}).out.empty());
}

TEST_CASE("seed nodes are tried in order until one answers, and -c is accepted",
          "[cluster][seeds]") {
    RedisCluster cluster(3);
    const std::string dead = "127.0.0.1:1";
    CHECK(tb("redis://" + dead + "," + address(cluster.node(1)),
             {"-c", "create", "s", "--capacity", "2"})
              .code == 0);
    CHECK(tbucket::test::tbucket({"-u", "redis://" + dead, "--url", cluster.url(), "take", "s"})
              .code == 0);
    auto from_env = tbucket::test::with_env({{"TBUCKET_URL", cluster.seeds_url()}});
    CHECK(tbucket::test::tbucket({"--cluster", "info", "s"}, from_env).code == 0);
    RunResult none = tb("redis://" + dead + ",127.0.0.1:2", {"info", "s"});
    CHECK(none.code == 69);
    CHECK_THAT(none.err, Catch::Contains("127.0.0.1:1") && Catch::Contains("2 tried"));
}

TEST_CASE("seed nodes work in front of a standalone server at no extra command",
          "[cluster][seeds]") {
    RedisServer server;
    const std::string url = "redis://127.0.0.1:1," + address(server);
    REQUIRE(tb(url, {"create", "s", "--capacity", "20"}).code == 0);
    server.command({"CONFIG", "RESETSTAT"});
    for (int i = 0; i < 5; ++i) CHECK(tb(url, {"take", "s"}).code == 0);
    CHECK(server.command_calls("evalsha") == 5);
    CHECK(server.command_calls("cluster") == 0);  // nothing asked at start-up
    CHECK(json::parse(tb(url, {"--json", "info", "s"}).out)["node"] == address(server));
    CHECK(tb(url, {"list"}).out == "s\n");
}

TEST_CASE(
    "takes keep working while the bucket's slot migrates, and no token is lost or granted twice",
    "[cluster][migrate]") {
    RedisCluster cluster(3);
    const std::string name = "mig";
    const int slot = cluster.slot("tbucket:{" + name + "}");
    REQUIRE(tb(cluster.url(), {"create", name, "--capacity", "1000000"}).code == 0);
    RedisServer& from = cluster.owner(slot);
    RedisServer& to = other_primary(cluster, from);
    {
        Taker taker(cluster.node(0).options(), name);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        // Migrating (ASK) until the taker has followed an ASK, then moved (MOVED).
        cluster.move_slot(slot, to, 300, [&] { return to.command_calls("asking") > 0; });
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        taker.stop();
        INFO("last error: " << taker.last_error());
        CHECK(taker.failed() == 0);
        CHECK(taker.granted() > 0);
        CHECK(level(cluster, name) == 1000000 - taker.granted());
    }
    CHECK(&cluster.owner(slot) == &to);
    CHECK(to.integer({"EXISTS", "tbucket:{" + name + "}"}) == 1);
    CHECK(from.integer({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}) == 0);
    CHECK(to.command_calls("asking") > 0);  // the migrating state was met, and followed
    RunResult moved = tb("redis://" + address(from), {"--json", "take", name});  // MOVED
    CHECK(moved.code == 0);
}

TEST_CASE("a waiter on a bucket whose slot moves still wakes on the next put",
          "[cluster][migrate][wait]") {
    RedisCluster cluster(3);
    const std::string name = "w";
    const int slot = cluster.slot("tbucket:{" + name + "}");
    REQUIRE(tb(cluster.url(), {"create", name, "--capacity", "5", "--tokens", "0"}).code == 0);
    RedisServer& from = cluster.owner(slot);
    RedisServer& to = other_primary(cluster, from);
    Child waiter(
        tb_argv(cluster.url(), {"--json", "watch", name, "2", "--take", "--timeout", "30s"}));
    until_subscribed(from, name);
    cluster.move_slot(slot, to);
    until_subscribed(to, name);  // resubscribed where the slot now lives
    CHECK_FALSE(waiter.exited_within(0.2));
    REQUIRE(tb(cluster.url(), {"put", name, "2"}).code == 0);
    CHECK(waiter.exited_within(25));  // woke on the put, before its 30 s timeout
    RunResult r = waiter.wait();
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(json::parse(r.out)["taken"] == 2);
    CHECK(level(cluster, name) == 0);
}

TEST_CASE("a redirect loop ends with 69 naming the slot and the nodes", "[cluster]") {
    RedisCluster cluster(3);
    const std::string name = "loop";
    const int slot = cluster.slot("tbucket:{" + name + "}");
    RedisServer& a = cluster.owner(slot);
    RedisServer& b = other_primary(cluster, a);
    // a hands the (empty) slot to b, which still believes a has it.
    a.command({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", cluster.id(b)});
    RunResult r = tb("redis://" + address(a), {"take", name, "--capacity", "1"});
    CHECK(r.code == 69);
    CHECK(tbucket::test::one_error_line(r.err));
    CHECK_THAT(r.err, Catch::Contains("slot " + std::to_string(slot)) &&
                          Catch::Contains("moved between") && Catch::Contains(address(a)) &&
                          Catch::Contains(address(b)));
}

TEST_CASE("a failover while takes run over-grants nothing, and later takes succeed",
          "[cluster][failover]") {
    RedisCluster cluster(3, 1);
    const std::string name = "fo";
    const int slot = cluster.slot("tbucket:{" + name + "}");
    REQUIRE(tb(cluster.url(), {"create", name, "--capacity", "1000000"}).code == 0);
    RedisServer& primary = cluster.owner(slot);
    RedisServer* replica = nullptr;
    std::string primary_id = cluster.id(primary);
    for (std::size_t i = 0; i < cluster.size(); ++i) {
        RedisServer& n = cluster.node(i);
        if (n.info_field("replication", "role") == "slave" &&
            n.string({"CLUSTER", "NODES"}).find("myself,slave " + primary_id) !=
                std::string::npos) {
            replica = &n;
        }
    }
    REQUIRE(replica);
    long long granted = 0, failed = 0;
    {
        Taker taker(cluster.node(0).options(), name);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        // A manual failover gives up after 5 s when the election is slow (a
        // loaded machine): ask again, as an operator would.
        for (int attempt = 0; attempt < 4 && replica->info_field("replication", "role") != "master";
             ++attempt) {
            CHECK(replica->string({"CLUSTER", "FAILOVER"}) == "OK");
            auto deadline = Clock::now() + std::chrono::seconds(6);
            while (replica->info_field("replication", "role") != "master" &&
                   Clock::now() < deadline) {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        }
        REQUIRE(replica->info_field("replication", "role") == "master");
        cluster.wait_ok(slot);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        taker.stop();
        granted = taker.granted();
        failed = taker.failed();
        INFO("last error: " << taker.last_error());
        CHECK(failed <= 2);  // at most what was in flight
    }
    CHECK(&cluster.owner(slot) == replica);
    for (int i = 0; i < 3; ++i) CHECK(tb(cluster.url(), {"take", name}).code == 0);
    granted += 3;
    double removed = 1000000 - level(cluster, name);
    CHECK(granted <= removed);  // nothing over-granted
    CHECK(removed - static_cast<double>(granted) <=
          static_cast<double>(failed));  // lost: only failed ones
}

TEST_CASE("over TLS a cluster follows redirects, lists every primary and wakes waiters",
          "[cluster][tls]") {
    std::string certs = tbucket::test::make_certs();
    struct Cleanup {
        std::string dir;
        ~Cleanup() {
            tbucket::test::stop_tls_keepers(dir + "/run/tbucket");
            tbucket::test::run({"rm", "-rf", dir});
        }
    } cleanup{certs};
    // TLS sessions kept beside the certificates, not in the user's cache.
    ::setenv("XDG_RUNTIME_DIR", (certs + "/run").c_str(), 1);
    RedisCluster cluster(3, 0, certs);
    auto tls = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {"--cacert", certs + "/ca.crt"});
        return tb(cluster.tls_url(), std::move(args));  // one seed: the others come by MOVED
    };
    std::vector<std::string> names;
    std::set<int> ports;
    for (int i = 0; names.size() < 6 || ports.size() < 3; ++i) {
        names.push_back(
            std::string("t").append(std::to_string(i)));  // GCC 12 -Wrestrict dislikes "t" + s
        ports.insert(cluster.owner(cluster.slot("tbucket:{" + names.back() + "}")).port());
    }
    for (const std::string& name : names)
        REQUIRE(tls({"create", name, "--capacity", "2"}).code == 0);
    std::vector<std::string> info_args{"--json", "info"};
    info_args.insert(info_args.end(), names.begin(), names.end());
    std::set<std::string> answered;
    for (const json& line : json_lines(tls(info_args).out))
        answered.insert(line["node"].get<std::string>());
    CHECK(answered.size() == 3);
    std::vector<std::string> sorted = names;
    std::sort(sorted.begin(), sorted.end());
    CHECK(tbucket::test::text_lines(tls({"list"}).out) == sorted);

    const std::string name = names.back();
    REQUIRE(tls({"take", name, "2"}).code == 0);
    Child waiter(tb_argv(cluster.tls_url(), {"--cacert", certs + "/ca.crt", "watch", name, "1",
                                             "--take", "--timeout", "30s"}));
    until_subscribed(cluster.owner(cluster.slot("tbucket:{" + name + "}")), name);
    REQUIRE(tls({"put", name}).code == 0);
    RunResult woke = waiter.wait();
    CHECK(woke.code == 0);
    CHECK(json::parse(tls({"--json", "info", name}).out)["tokens"] == 0);
}

TEST_CASE("list reads the index of names on every shard: no SCAN, node labels for Prometheus",
          "[cluster][list]") {
    RedisCluster cluster(3);
    const std::string url = cluster.url();
    std::vector<std::string> names;
    for (int i = 0; i < 30; ++i) names.push_back(std::string("p").append(std::to_string(i)));
    for (const std::string& name : names)
        REQUIRE(tb(url, {"create", name, "--capacity", "2"}).code == 0);
    REQUIRE(tb(url, {"create", "q", "--capacity", "2"}).code == 0);
    REQUIRE(tb(url, {"list", "zz*"}).code == 0);  // completes the index (one SCAN per primary)
    for (std::size_t i = 0; i < cluster.size(); ++i)
        cluster.node(i).command({"CONFIG", "RESETSTAT"});
    std::sort(names.begin(), names.end());
    CHECK(tbucket::test::text_lines(tb(url, {"list", "p*"}).out) == names);
    long long scans = 0;
    for (std::size_t i = 0; i < cluster.size(); ++i) scans += cluster.node(i).command_calls("scan");
    CHECK(scans == 0);
    std::string metrics = tb(url, {"list", "--format", "prometheus"}).out;
    for (std::size_t i = 0; i < cluster.size(); ++i) {
        INFO(metrics);
        CHECK(metrics.find("node=\"" + address(cluster.node(i)) + "\"") != std::string::npos);
    }
    REQUIRE(tb(url, {"delete", "p0"}).code == 0);
    CHECK(tbucket::test::text_lines(tb(url, {"list", "p*"}).out).size() == names.size() - 1);
}

TEST_CASE("leases and queued waiters work on buckets on every shard", "[cluster][lease][queue]") {
    RedisCluster cluster(3);
    std::vector<std::string> names;
    std::set<int> ports;
    for (int i = 0; ports.size() < 3; ++i) {
        std::string name = "s" + std::to_string(i);
        int port = cluster.owner(cluster.slot("tbucket:{" + name + "}")).port();
        if (ports.insert(port).second) names.push_back(name);
    }
    const std::string url = cluster.url();
    for (const std::string& name : names) {
        INFO(name);
        RedisServer& owner = cluster.owner(cluster.slot("tbucket:{" + name + "}"));
        REQUIRE(tb(url, {"create", name, "--capacity", "1"}).code == 0);
        // A holder runs; a waiter queues on the bucket's shard behind it.
        const std::string go = "/tmp/tbucket-cluster-go-" + std::to_string(getpid()) + "-" + name;
        std::remove(go.c_str());
        Child holder(tb_argv(url, {"run", name, "--", "sh", "-c",
                                   "while [ ! -e " + go + " ]; do sleep 0.02; done"}));
        auto until = Clock::now() + std::chrono::seconds(static_cast<int>(20 * slowdown()));
        while (owner.string({"HGET", "tbucket:{" + name + "}", "l"}) != "1" && Clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        Child waiter(tb_argv(
            url, {"--json", "run", name, "--wait=60s", "--", "sh", "-c", "echo $TBUCKET_FENCE"}));
        while (owner.string({"HGET", "tbucket:{" + name + "}", "q"}) != "1" && Clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        INFO("waiter: " << waiter.err_so_far() << "\nholder: " << holder.err_so_far());
        REQUIRE(owner.string({"HGET", "tbucket:{" + name + "}", "q"}) == "1");
        std::ofstream(go).put('x');
        RunResult held = holder.wait();
        std::remove(go.c_str());
        CHECK(held.code == 0);
        RunResult served = waiter.wait();
        INFO(served.err);
        CHECK(served.code == 0);
        CHECK(std::stoll(served.out) > 0);
        CHECK(owner.string({"HGET", "tbucket:{" + name + "}", "t"}) == "1");
        CHECK(owner.integer(
                  {"EXISTS", "tbucket:{" + name + "}:q", "tbucket:{" + name + "}:lexp"}) == 0);
    }
}
