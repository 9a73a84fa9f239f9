// SPEC §10, fair waiting, end to end: the built binary against a real
// redis-server. Waiters are served in the order they began to wait, a put
// wakes only whom it serves, and a waiter that is gone holds no place.

#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/e2e.h"

using nlohmann::json;
using tbucket::test::Child;
using tbucket::test::describe;
using tbucket::test::eventually;
using tbucket::test::redis;
using tbucket::test::RunResult;
using tbucket::test::slowdown;
using tbucket::test::tb;
using tbucket::test::tb_argv;

namespace {

using Clock = std::chrono::steady_clock;

void fresh(const std::string& name, std::vector<std::string> settings) {
    tb({"delete", name});
    std::vector<std::string> args{"create", name};
    args.insert(args.end(), settings.begin(), settings.end());
    REQUIRE(tb(args).code == 0);
}

std::string field(const std::string& name, const std::string& f) {
    return redis().string({"HGET", "tbucket:{" + name + "}", f});
}

long long queued(const std::string& name) {
    tbucket::Reply q = redis().command({"HGET", "tbucket:{" + name + "}", "q"});
    return q->type == REDIS_REPLY_STRING ? std::stoll(std::string(q->str, q->len)) : 0;
}

// Keys of the bucket besides the bucket itself and request ids (which
// expire by themselves): what a waiter could leave behind.
std::vector<std::string> leftovers(const std::string& name) {
    std::vector<std::string> keys;
    tbucket::Reply r = redis().command({"KEYS", "tbucket:{" + name + "}:*"});
    for (std::size_t i = 0; i < r->elements; ++i) {
        std::string k(r->element[i]->str, r->element[i]->len);
        // Request ids expire by themselves; the name's memory (<key>:m) is
        // kept two days by design (fences, deletes told from losses).
        if (k.find("}:id:") == std::string::npos && k.find("}:m") == std::string::npos)
            keys.push_back(k);
    }
    return keys;
}

long long scripts_run() {
    return redis().command_calls("evalsha") + redis().command_calls("eval");
}

// Starts waiters one by one, each once the one before is queued.
std::vector<std::unique_ptr<Child>> queue_up(const std::string& name, int count,
                                             const std::vector<std::string>& extra = {}) {
    std::vector<std::unique_ptr<Child>> waiters;
    long long before = queued(name);
    for (int i = 0; i < count; ++i) {
        std::vector<std::string> args{"--json", "take", name, "--wait=60s"};
        args.insert(args.end(), extra.begin(), extra.end());
        waiters.push_back(std::make_unique<Child>(tb_argv(redis().url(), args)));
        REQUIRE(eventually([&] { return queued(name) == before + i + 1; }));
    }
    return waiters;
}

}  // namespace

TEST_CASE("a large waiter is served before a stream of one-shot takes", "[trust][queue]") {
    fresh("starve", {"--capacity", "10", "--rate", "10/s", "--tokens", "0"});
    std::string loop = "while :; do " + tbucket::test::tbucket_path() + " -u " + redis().url() +
                       " take starve >/dev/null 2>&1; done";
    Child a({"sh", "-c", loop}), b({"sh", "-c", loop});
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    // Without a queue the loops took every token as it came: exit 124.
    RunResult r = tb({"--json", "take", "starve", "5", "--wait=20s"});
    INFO(describe(r));
    CHECK(r.code == 0);
    CHECK(json::parse(r.out)["taken"] == 5);
}

TEST_CASE("waiters are served in the order they began to wait", "[trust][queue]") {
    fresh("order", {"--capacity", "1", "--tokens", "0"});
    std::vector<std::unique_ptr<Child>> waiters = queue_up("order", 30);
    for (std::size_t i = 0; i < waiters.size(); ++i) {
        REQUIRE(tb({"put", "order"}).code == 0);
        RunResult r = waiters[i]->wait();
        INFO("waiter " << i << ": " << describe(r));
        REQUIRE(r.code == 0);
        // No one behind it was served instead.
        CHECK(queued("order") == static_cast<long long>(waiters.size() - i - 1));
    }
    CHECK(leftovers("order").empty());
}

TEST_CASE("one put among many waiters runs a few scripts, not one per waiter", "[trust][queue]") {
    fresh("herd", {"--capacity", "100", "--tokens", "0"});
    std::vector<std::unique_ptr<Child>> waiters = queue_up("herd", 40);
    long long before = scripts_run();
    REQUIRE(tb({"put", "herd"}).code == 0);
    REQUIRE(waiters.front()->wait().code == 0);
    // The put, the winner's claim, the new first waiter's look: let them land.
    eventually([&] { return scripts_run() - before >= 3; }, 2);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    long long scripts = scripts_run() - before;
    INFO("scripts for one put with 40 waiters: " << scripts);
    CHECK(scripts <= 10);
    for (std::size_t i = 1; i < waiters.size(); ++i) CHECK_FALSE(waiters[i]->exited_within(0));
    REQUIRE(tb({"put", "herd", "39"}).code == 0);
    for (std::size_t i = 1; i < waiters.size(); ++i) CHECK(waiters[i]->wait().code == 0);
    CHECK(leftovers("herd").empty());
}

TEST_CASE("idle waiters send nothing and hold one connection each", "[trust][queue]") {
    fresh("idle", {"--capacity", "1", "--tokens", "0"});
    long long clients_before = 0;
    {
        tbucket::Reply info = redis().command({"CLIENT", "LIST"});
        std::string list(info->str, info->len);
        for (char c : list) clients_before += c == '\n';
    }
    std::vector<std::unique_ptr<Child>> waiters = queue_up("idle", 10);
    long long before = redis().command_calls("evalsha");
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    CHECK(redis().command_calls("evalsha") == before);
    tbucket::Reply info = redis().command({"CLIENT", "LIST"});
    std::string list(info->str, info->len);
    long long clients = 0;
    for (char c : list) clients += c == '\n';
    CHECK(clients - clients_before == 10);
    REQUIRE(tb({"put", "idle", "10", "--force"}).code == 0);
    for (auto& w : waiters) CHECK(w->wait().code == 0);
}

TEST_CASE("a waiter killed in the middle of the line holds no place", "[trust][queue]") {
    fresh("kill", {"--capacity", "3", "--tokens", "0"});
    std::vector<std::unique_ptr<Child>> waiters = queue_up("kill", 3);
    waiters[1]->signal(SIGKILL);
    waiters[1]->wait();
    REQUIRE(tb({"put", "kill", "2"}).code == 0);
    CHECK(waiters[0]->wait().code == 0);
    CHECK(waiters[2]->wait().code == 0);
    CHECK(field("kill", "t") == "0");
    CHECK(queued("kill") == 0);
    CHECK(leftovers("kill").empty());
}

TEST_CASE("a wait that times out leaves no trace in Redis", "[trust][queue]") {
    fresh("trace", {"--capacity", "2", "--tokens", "0"});
    RunResult r = tb({"take", "trace", "--wait=500ms"});
    CHECK(r.code == 124);
    CHECK(queued("trace") == 0);
    CHECK(leftovers("trace").empty());
}

TEST_CASE("a one-shot take behind queued waiters is denied and says so", "[trust][queue]") {
    fresh("ahead", {"--capacity", "5", "--tokens", "1"});
    std::vector<std::unique_ptr<Child>> waiters = queue_up("ahead", 2, {"3"});
    RunResult r = tb({"--json", "take", "ahead"});
    INFO(describe(r));
    CHECK(r.code == 1);
    json j = json::parse(r.out);
    CHECK(j["queued_ahead"] == 2);
    CHECK(j["taken"] == 0);
    RunResult text = tb({"take", "ahead"});
    CHECK_THAT(text.err, Catch::Contains("2 waiters queued ahead"));
    CHECK(field("ahead", "t") == "1");
    REQUIRE(tb({"put", "ahead", "4"}).code == 0);  // 5: the first waiter's 3
    CHECK(waiters[0]->wait().code == 0);
    REQUIRE(tb({"put", "ahead", "3"}).code == 0);
    CHECK(waiters[1]->wait().code == 0);
}

TEST_CASE("waiters on a semaphore get leases in order as leases end", "[trust][queue][lease]") {
    fresh("lq", {"--capacity", "1"});
    // Held for a minute while the line forms (however slow the machine),
    // then renewed to end by itself a second later.
    RunResult held = tb({"lease", "take", "lq", "--ttl", "60s"});
    REQUIRE(held.code == 0);
    const std::string id = held.out.substr(0, held.out.find(' '));
    std::vector<std::unique_ptr<Child>> waiters;
    for (int i = 0; i < 3; ++i) {
        waiters.push_back(std::make_unique<Child>(
            tb_argv(redis().url(), {"run", "lq", "--wait=120s", "--lease", "1s", "--", "sh", "-c",
                                    "echo $TBUCKET_FENCE"})));
        REQUIRE(eventually([&] { return queued("lq") == i + 1; }));
    }
    REQUIRE(tb({"lease", "renew", "lq", id, "--ttl", "1s"}).code == 0);
    // The first lease ends by itself (no release): the first waiter gets
    // the token, gives it back, and so on down the line.
    long long last = 0;
    for (auto& w : waiters) {
        RunResult r = w->wait();
        INFO(describe(r));
        REQUIRE(r.code == 0);
        long long fence = std::stoll(r.out);
        CHECK(fence > last);
        last = fence;
    }
    CHECK(field("lq", "t") == "1");
    // Only the tombstones of the three released leases (they expire in an hour).
    for (const std::string& k : leftovers("lq")) CHECK(k.find("}:rel:") != std::string::npos);
}

TEST_CASE(
    "a waiter behind waiters served as leases they never claim is served when those leases end",
    "[trust][queue][lease]") {
    fresh("unclaimed", {"--capacity", "2", "--tokens", "0"});
    // Two lease waiters, then a taker, in line; the lease waiters stopped,
    // so that when a put serves them their leases (2 s) are never claimed.
    std::vector<std::unique_ptr<Child>> leasers;
    for (int i = 0; i < 2; ++i) {
        leasers.push_back(std::make_unique<Child>(
            tb_argv(redis().url(), {"lease", "take", "unclaimed", "--ttl", "2s", "--wait"})));
        REQUIRE(eventually([&] { return queued("unclaimed") == i + 1; }));
    }
    Child taker(tb_argv(redis().url(), {"take", "unclaimed", "--wait"}));
    REQUIRE(eventually([&] { return queued("unclaimed") == 3; }));
    for (auto& l : leasers) l->signal(SIGSTOP);
    REQUIRE(tb({"put", "unclaimed", "2"}).code == 0);
    REQUIRE(field("unclaimed", "l") == "2");  // held for the two stopped waiters
    // Their leases end after 2 s and nothing else happens to the bucket:
    // the taker, first now, must look then (it was told to), and is served.
    // Before, it was only pinged, knew of no lease, and slept for ever.
    REQUIRE(taker.exited_within(60));
    RunResult r = taker.wait();
    INFO(describe(r));
    CHECK(r.code == 0);
    for (auto& l : leasers) l->signal(SIGKILL);
}
