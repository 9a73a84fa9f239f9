// SPEC §16, Sentinel: a primary, its replica and three Sentinels on
// loopback; tbucket asks the Sentinels where the primary is and follows a
// failover, whether the old primary dies or turns into a replica.

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "support/e2e.h"

using nlohmann::json;
using tbucket::Reply;
using tbucket::test::Child;
using tbucket::test::describe;
using tbucket::test::eventually;
using tbucket::test::free_port;
using tbucket::test::RedisServer;
using tbucket::test::RunResult;
using tbucket::test::tb;
using tbucket::test::tb_argv;
using tbucket::test::TempDir;
using tbucket::test::with_env;

namespace {

std::string endpoint(const RedisServer& s) {
    return "127.0.0.1:" + std::to_string(s.port());
}

// A primary, a replica and three Sentinels that know each other and the
// replica (so that two of them can agree on a failover).
struct Watched {
    // The replica's first copy without the default 5 s wait for others.
    RedisServer primary{{"--repl-diskless-sync-delay", "0"}};
    RedisServer replica{{"--replicaof", "127.0.0.1", std::to_string(primary.port())}};
    std::vector<std::unique_ptr<RedisServer>> sentinels;

    Watched() {
        for (int i = 0; i < 3; ++i)
            sentinels.push_back(RedisServer::sentinel(primary.port(), "main"));
        for (auto& s : sentinels) {
            REQUIRE(eventually(
                [&] {
                    Reply others = s->command({"SENTINEL", "SENTINELS", "main"});
                    Reply replicas = s->command({"SENTINEL", "REPLICAS", "main"});
                    return others->elements == 2 && replicas->elements == 1;
                },
                60));
        }
        REQUIRE(primary.integer({"WAIT", "1", "60000"}) == 1);  // the replica has a copy
    }

    std::string url(const std::string& master = "main") const {
        std::string hosts;
        for (const auto& s : sentinels) hosts += (hosts.empty() ? "" : ",") + endpoint(*s);
        return "redis-sentinel://" + hosts + "/" + master;
    }

    // The primary as the first Sentinel names it (0: no answer).
    int named_port() {
        try {
            Reply r = sentinels.front()->command({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", "main"});
            return r->type == REDIS_REPLY_ARRAY ? std::stoi(r->element[1]->str) : 0;
        } catch (const std::exception&) {
            return 0;  // the test's connection closed: asked again next time
        }
    }

    json info(const std::string& name) const {
        RunResult r = tb(url(), {"--json", "info", name});
        return r.code == 0 ? json::parse(r.out) : json();
    }
};

// The holder of `sem` (capacity 1) prints its fence, then runs until `go` exists.
std::unique_ptr<Child> holder(const std::string& url, const std::string& lease,
                              const std::string& go) {
    return std::make_unique<Child>(
        tb_argv(url, {"run", "sem", "--capacity", "1", "--lease", lease, "--", "sh", "-c",
                      "echo $TBUCKET_FENCE; while [ ! -e " + go + " ]; do sleep 0.05; done"}));
}

long long first_number(const std::string& out) {
    return std::stoll(out.substr(0, out.find('\n')));
}

bool one_line(const std::string& err) {
    return !err.empty() && err.find('\n') == err.size() - 1;
}

}  // namespace

TEST_CASE(
    "through Sentinels a command reaches the primary they name, and bad Sentinel URLs are one line",
    "[sentinel]") {
    Watched w;
    RunResult take = tb(w.url(), {"take", "api", "--capacity", "5", "--rate", "1/s"});
    INFO(describe(take));
    REQUIRE(take.code == 0);
    CHECK(w.info("api")["node"] == endpoint(w.primary));
    // -u repeated, the Sentinels one per URL, the first one unreachable.
    std::string dead = "redis-sentinel://127.0.0.1:" + std::to_string(free_port()) + "/main";
    RunResult two = tb(dead, {"-u", "redis-sentinel://" + endpoint(*w.sentinels[1]) + "/main",
                              "--json", "info", "api"});
    INFO(describe(two));
    CHECK(two.code == 0);
    CHECK(json::parse(two.out)["node"] == endpoint(w.primary));

    RunResult unknown = tb(w.url("nope"), {"take", "api"});
    CHECK(unknown.code == 69);
    CHECK(unknown.err.find("no Sentinel knows a primary named 'nope'") != std::string::npos);
    CHECK(one_line(unknown.err));
    RunResult no_master = tb("redis-sentinel://" + endpoint(*w.sentinels[0]), {"take", "api"});
    CHECK(no_master.code == 2);
    CHECK(no_master.err.find("names no primary") != std::string::npos);
    RunResult no_hosts = tb("redis-sentinel:///main", {"take", "api"});
    CHECK(no_hosts.code == 2);
    CHECK(no_hosts.err.find("names no Sentinel") != std::string::npos);
    RunResult unreachable = tb(dead, {"take", "api"});
    CHECK(unreachable.code == 69);
    CHECK(unreachable.err.find("no Sentinel of 'main' could be reached") != std::string::npos);
    CHECK(one_line(unreachable.err));
    RunResult not_sentinel =
        tb("redis-sentinel://" + endpoint(w.primary) + "/main", {"take", "api"});
    CHECK(not_sentinel.code == 69);
    CHECK(not_sentinel.err.find("is it a Sentinel?") != std::string::npos);
    CHECK(one_line(not_sentinel.err));
    RunResult mixed = tb(w.url(), {"-u", w.primary.url(), "take", "api"});
    CHECK(mixed.code == 2);
    CHECK(mixed.err.find("both Sentinels and Redis servers") != std::string::npos);
    CHECK(one_line(mixed.err));
    RunResult others = tb(w.url(), {"-u", "redis-sentinel://127.0.0.1:1/other", "take", "api"});
    CHECK(others.code == 2);
    CHECK(others.err.find("name different primaries ('main' and 'other')") != std::string::npos);
    // None of the refusals touched the bucket.
    CHECK(w.info("api")["counters"]["grants"] == 1);
}

TEST_CASE("the primary dies: the holder keeps its lease, the waiter is served by the new primary",
          "[sentinel]") {
    Watched w;
    TempDir temp("sentinel");
    const std::string go = temp.path + "/go";
    // A lease far longer than a failover (seconds), renewed every 20 s.
    auto h = holder(w.url(), "60s", go);
    REQUIRE(eventually([&] { return w.info("sem")["leased"] == 1; }, 60));
    REQUIRE(h->wait_for_output("\n", 30));
    Child waiter(
        tb_argv(w.url(), {"run", "sem", "--wait", "10m", "--", "sh", "-c", "echo $TBUCKET_FENCE"}));
    REQUIRE(eventually([&] { return w.info("sem")["waiters"] == 1; }, 60));
    // The replica has everything: this failover loses nothing.
    REQUIRE(w.primary.integer({"WAIT", "1", "10000"}) == 1);
    w.primary.stop();  // SIGKILL
    REQUIRE(eventually([&] { return w.named_port() == w.replica.port(); }, 120));
    { std::ofstream(go) << ""; }
    RunResult held = h->wait();
    INFO(describe(held));
    CHECK(held.code == 0);  // never stopped: the lease was renewed or released on the new primary
    CHECK(held.err.find("lost") == std::string::npos);
    RunResult served = waiter.wait();
    INFO(describe(served));
    CHECK(served.code == 0);
    CHECK(first_number(served.out) > first_number(held.out));
    json s = w.info("sem");
    CHECK(s["node"] == endpoint(w.replica));
    CHECK(s["leased"] == 0);
    CHECK(s["tokens"] == 1);
    CHECK(s["waiters"] == 0);
}

TEST_CASE("a primary turned replica sends a long-running holder to the new primary", "[sentinel]") {
    Watched w;
    TempDir temp("sentinel");
    const std::string go = temp.path + "/go";
    auto h = holder(w.url(), "6s", go);  // renewed every 2 s
    REQUIRE(eventually([&] { return w.info("sem")["leased"] == 1; }, 60));
    REQUIRE(w.primary.integer({"WAIT", "1", "10000"}) == 1);  // nothing is lost
    // A failover the Sentinels make at once, the old primary becoming a
    // replica of the new: writes to it are refused with READONLY.
    REQUIRE(w.sentinels.front()->string({"SENTINEL", "FAILOVER", "main"}) == "OK");
    REQUIRE(eventually([&] { return w.named_port() == w.replica.port(); }, 120));
    const std::string lexp = "tbucket:{sem}:lexp";
    // A promoted replica closes its clients' connections: the test's too.
    auto expiry = [&] {
        try {
            Reply r = w.replica.command({"ZRANGE", lexp, "0", "-1", "WITHSCORES"});
            return r->elements == 2 ? std::stoll(r->element[1]->str) : 0LL;
        } catch (const std::exception&) {
            return 0LL;
        }
    };
    long long before = 0;
    REQUIRE(eventually([&] { return (before = expiry()) > 0; }, 60));
    // The holder renews on the new primary: the lease's end moves there.
    REQUIRE(eventually([&] { return expiry() > before; }, 60));
    { std::ofstream(go) << ""; }
    RunResult held = h->wait();
    INFO(describe(held));
    CHECK(held.code == 0);
    CHECK(held.err.find("lost") == std::string::npos);
    json s = w.info("sem");
    CHECK(s["node"] == endpoint(w.replica));
    CHECK(s["leased"] == 0);
    CHECK(s["tokens"] == 1);
}

TEST_CASE("the password is offered to the Sentinels and to the primary", "[sentinel]") {
    RedisServer primary({"--requirepass", "s3cret"});
    auto sentinel = RedisServer::sentinel(
        primary.port(), "main", 1000,
        {"--requirepass", "s3cret", "--sentinel", "auth-pass", "main", "s3cret"});
    std::string url = "redis-sentinel://" + endpoint(*sentinel) + "/main";
    RunResult none = tb(url, {"take", "api", "--capacity", "2"});
    CHECK(none.code == 77);
    CHECK(one_line(none.err));
    RunResult wrong =
        tb(url, {"take", "api", "--capacity", "2"}, with_env({{"TBUCKET_PASSWORD", "wrong"}}));
    CHECK(wrong.code == 77);
    CHECK(one_line(wrong.err));
    auto pw = with_env({{"TBUCKET_PASSWORD", "s3cret"}});
    RunResult right = tb(url, {"take", "api", "--capacity", "2"}, pw);
    INFO(describe(right));
    CHECK(right.code == 0);
    RunResult info = tb(url, {"--json", "info", "api"}, pw);
    REQUIRE(info.code == 0);
    CHECK(json::parse(info.out)["node"] == endpoint(primary));
    CHECK(json::parse(info.out)["counters"]["grants"] == 1);  // the refusals took nothing
}
