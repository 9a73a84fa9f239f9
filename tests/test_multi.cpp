// Several buckets, one decision (SPEC §11), through the built binary: all
// or none under concurrency, one command, a waiter that holds nothing while
// it waits, each bucket's queue respected, and errors that leave every
// bucket as it was.

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bucket/script.h"
#include "support/e2e.h"
#include "support/fault_proxy.h"

using nlohmann::json;
using tbucket::test::Child;
using tbucket::test::count_lines;
using tbucket::test::redis;
using tbucket::test::RunResult;
using tbucket::test::tb;

namespace {

const int scale =
    tbucket::test::sanitized() ? 10 : 1;  // a sanitizer build's tbucket starts 15x slower

std::unique_ptr<Child> shell_loop(const std::string& script) {
    return tbucket::test::shell_loop(redis().url(), script, {}, 120);
}

std::string level(const std::string& name) {
    return redis().string({"HGET", "tbucket:{" + name + "}", "t"});
}

}  // namespace

TEST_CASE("8 processes x 200 take a,b: exactly a's capacity granted, b loses nothing to denials",
          "[trust][multi]") {
    const int each = 200 / scale;
    REQUIRE(tb({"create", "a", "--capacity", "50"}).code == 0);
    REQUIRE(tb({"create", "b", "--capacity", "120"}).code == 0);
    const std::string script = "for i in $(seq " + std::to_string(each) +
                               "); do \"$TB\" -q -u \"$URL\" take a,b; echo $?; done";
    std::vector<std::unique_ptr<Child>> loops;
    for (int i = 0; i < 8; ++i) loops.push_back(shell_loop(script));
    std::map<std::string, int> codes;
    for (auto& loop : loops) {
        RunResult r = loop->wait();
        CHECK(r.code == 0);
        CHECK(r.err.empty());
        for (const auto& [code, n] : count_lines(r.out)) codes[code] += n;
    }
    INFO("0 x" << codes["0"] << ", 1 x" << codes["1"] << ", " << codes.size() << " kinds");
    CHECK(codes["0"] == 50);
    CHECK(codes["1"] == 8 * each - 50);
    CHECK(codes.size() == 2);
    CHECK(level("a") == "0");
    CHECK(level("b") == "70");  // 120 - 50: the denials took nothing from b
}

TEST_CASE("take a,b is one script call and names each bucket's result", "[trust][multi]") {
    REQUIRE(tb({"create", "a", "--capacity", "5"}).code == 0);
    REQUIRE(tb({"create", "b", "--capacity", "10", "--rate", "1/s"}).code == 0);
    REQUIRE(tb({"take", "a,b"}).code == 0);  // caches the script
    redis().command({"CONFIG", "RESETSTAT"});
    RunResult r = tb({"--json", "take", "a=2,b=3"});
    REQUIRE(r.code == 0);
    CHECK(redis().command_calls("evalsha") + redis().command_calls("eval") == 1);
    json j = json::parse(r.out);
    CHECK(j["ok"] == true);
    CHECK(j["taken"] == 5);
    CHECK(j["retry_after_ms"] == 0);
    REQUIRE(j["buckets"].size() == 2);
    CHECK(j["buckets"][0]["name"] == "a");
    CHECK(j["buckets"][0]["taken"] == 2);
    CHECK(j["buckets"][0]["tokens"] == 2);
    CHECK(j["buckets"][1]["name"] == "b");
    CHECK(j["buckets"][1]["taken"] == 3);
    // One script: one server time for both.
    CHECK(j["buckets"][0]["server_time_ms"] == j["buckets"][1]["server_time_ms"]);
    RunResult text = tb({"-v", "take", "a,b"});
    CHECK(text.code == 0);
    CHECK(tbucket::test::text_lines(text.out).size() == 2);  // a line each
}

TEST_CASE("a denial names the buckets that said no, with when all will have enough",
          "[trust][multi]") {
    REQUIRE(tb({"create", "a", "--capacity", "5"}).code == 0);
    // 10/h: five tokens take 30 minutes, so no command is slow enough to
    // see r refill between its create and the takes below.
    REQUIRE(tb({"create", "r", "--capacity", "10", "--rate", "10/h", "--tokens", "0"}).code == 0);
    RunResult r = tb({"--json", "take", "a=2,r=5"});
    CHECK(r.code == 1);
    json j = json::parse(r.out);
    CHECK(j["ok"] == false);
    CHECK(j["taken"] == 0);
    CHECK(j["refused"] == json::array({"r"}));
    CHECK(j["retry_after_ms"].get<int64_t>() > 1800000 - 60000);
    CHECK(j["retry_after_ms"].get<int64_t>() <= 1800000);
    CHECK(level("a") == "5");
    RunResult text = tb({"take", "a=2,r=5"});
    CHECK(text.code == 1);
    CHECK(text.err.find("'r' has 0 tokens of 5") != std::string::npos);
    CHECK(text.err.find("'a' has") == std::string::npos);
    RunResult never = tb({"--json", "take", "a=6,r=1", "-E", "1"});
    CHECK(never.code == 5);  // more than a can hold: impossible, named
    CHECK(never.err.find("'a'") != std::string::npos);
}

TEST_CASE("a bucket missing from the list leaves the others untouched", "[trust][multi]") {
    REQUIRE(tb({"create", "a", "--capacity", "5"}).code == 0);
    RunResult r = tb({"take", "a,nope"});
    CHECK(r.code == 3);
    CHECK(tbucket::test::one_error_line(r.err));
    CHECK(r.err.find("no such bucket: nope") != std::string::npos);
    CHECK(level("a") == "5");
}

TEST_CASE("take a,b is denied while a waiter is queued on b, and takes nothing from a",
          "[trust][multi]") {
    REQUIRE(tb({"create", "a", "--capacity", "5"}).code == 0);
    REQUIRE(tb({"create", "b", "--capacity", "5", "--tokens", "1"}).code == 0);
    Child waiter(tbucket::test::tb_argv(redis().url(), {"take", "b", "3", "--wait=10s"}));
    REQUIRE(tbucket::test::wait_for_subscribers(redis(), "tbucket:{b}:events", 1));
    RunResult r = tb({"--json", "take", "a,b"});
    CHECK(r.code == 1);
    json j = json::parse(r.out);
    CHECK(j["refused"] == json::array({"b"}));
    CHECK(j["buckets"][1]["queued_ahead"] == 1);
    CHECK(level("a") == "5");
    CHECK(level("b") == "1");
    REQUIRE(tb({"put", "b", "2"}).code == 0);
    CHECK(waiter.wait().code == 0);
}

TEST_CASE("take a=2,b=3 --wait while others take: 0 means both dropped in one script",
          "[trust][multi][wait]") {
    REQUIRE(tb({"create", "a", "--capacity", "100", "--tokens", "0"}).code == 0);
    REQUIRE(tb({"create", "b", "--capacity", "100", "--tokens", "100"}).code == 0);
    Child waiter(
        tbucket::test::tb_argv(redis().url(), {"--json", "take", "a=2,b=3", "--wait=20s"}));
    REQUIRE(tbucket::test::wait_for_subscribers(redis(), "tbucket:{a}:events", 1));
    // Others take from b and a, and put into a one token at a time: a never
    // holds 2 for long, but sometimes does.
    auto b_taker =
        shell_loop("for i in $(seq 30); do \"$TB\" -q -u \"$URL\" take b; echo $?; done");
    auto a_taker =
        shell_loop("for i in $(seq 30); do \"$TB\" -q -u \"$URL\" take a; echo $?; done");
    auto a_putter = shell_loop("for i in $(seq 40); do \"$TB\" -q -u \"$URL\" put a 1; done");
    RunResult w = waiter.wait();
    std::map<std::string, int> bt = count_lines(b_taker->wait().out);
    std::map<std::string, int> at = count_lines(a_taker->wait().out);
    REQUIRE(a_putter->wait().code == 0);
    INFO("waiter " << w.code << " " << w.out << w.err);
    REQUIRE((w.code == 0 || w.code == 124));
    const int mine = w.code == 0 ? 1 : 0;
    if (mine) {
        json j = json::parse(w.out);
        CHECK(j["taken"] == 5);
        CHECK(j["retry_after_ms"] == 0);
        CHECK(j["buckets"][0]["server_time_ms"] == j["buckets"][1]["server_time_ms"]);
    }
    // Every token accounted for: a got 40 by puts, each grant took its own.
    CHECK(std::stod(level("a")) == 40 - at["0"] - 2 * mine);
    CHECK(std::stod(level("b")) == 100 - bt["0"] - 3 * mine);
}

TEST_CASE("take a=2,b=3 --wait that times out (124) took nothing from either",
          "[trust][multi][wait]") {
    REQUIRE(tb({"create", "a", "--capacity", "10", "--tokens", "10"}).code == 0);
    REQUIRE(tb({"create", "b", "--capacity", "10", "--tokens", "2"}).code == 0);
    Child waiter(tbucket::test::tb_argv(redis().url(), {"take", "a=2,b=3", "--wait=2s"}));
    REQUIRE(tbucket::test::wait_for_subscribers(redis(), "tbucket:{b}:events", 1));
    RunResult w = waiter.wait();
    CHECK(w.code == 124);
    CHECK(tbucket::test::one_error_line(w.err));
    CHECK(level("a") == "10");
    CHECK(level("b") == "2");
    // It left both queues: the next take is served.
    CHECK(redis().command({"ZCARD", "tbucket:{a}:q"})->integer == 0);
    CHECK(redis().command({"ZCARD", "tbucket:{b}:q"})->integer == 0);
    CHECK(tb({"take", "a"}).code == 0);
}

TEST_CASE("while take a=2,b=3 --wait is queued, one-shot takes of a and b are denied",
          "[trust][multi][wait]") {
    REQUIRE(tb({"create", "a", "--capacity", "10", "--tokens", "10"}).code == 0);
    REQUIRE(tb({"create", "b", "--capacity", "10", "--tokens", "2"}).code == 0);
    // No deadline that a slow machine could outrun: the waiter stays in line
    // until it is stopped, after the one-shot takes.
    Child waiter(tbucket::test::tb_argv(redis().url(), {"take", "a=2,b=3", "--wait"}));
    REQUIRE(tbucket::test::wait_for_subscribers(redis(), "tbucket:{b}:events", 1));
    REQUIRE(redis().command({"ZCARD", "tbucket:{b}:q"})->integer == 1);
    // Others try to take from both meanwhile: while the waiter is queued
    // (it is first in both) a one-shot take is denied, as SPEC §10 says.
    int a_taken = 0, b_taken = 0;
    for (int i = 0; i < 5; ++i) {
        b_taken += tb({"take", "b"}).code == 0 ? 1 : 0;
        a_taken += tb({"take", "a"}).code == 0 ? 1 : 0;
    }
    CHECK(a_taken == 0);
    CHECK(b_taken == 0);
    waiter.signal(SIGTERM);
    RunResult w = waiter.wait();
    CHECK(w.code == 128 + SIGTERM);
    CHECK(level("a") == "10");
    CHECK(level("b") == "2");
    CHECK(redis().command({"ZCARD", "tbucket:{a}:q"})->integer == 0);
    CHECK(redis().command({"ZCARD", "tbucket:{b}:q"})->integer == 0);
}

TEST_CASE("a list waiter wakes for the bucket that said no, then takes all at once",
          "[trust][multi][wait]") {
    REQUIRE(tb({"create", "a", "--capacity", "5", "--tokens", "0"}).code == 0);
    REQUIRE(tb({"create", "b", "--capacity", "5", "--tokens", "0"}).code == 0);
    Child waiter(tbucket::test::tb_argv(redis().url(),
                                        {"--json", "watch", "a,b", "--take", "--timeout", "20s"}));
    REQUIRE(tbucket::test::wait_for_subscribers(redis(), "tbucket:{a}:events", 1));
    REQUIRE(tb({"put", "a", "1"}).code == 0);
    REQUIRE(tbucket::test::wait_for_subscribers(redis(), "tbucket:{b}:events", 1));
    CHECK(level("a") == "1");  // not held while b is awaited
    REQUIRE(tb({"put", "b", "1"}).code == 0);
    RunResult w = waiter.wait();
    CHECK(w.code == 0);
    CHECK(json::parse(w.out)["retry_after_ms"] == 0);
    CHECK(level("a") == "0");
    CHECK(level("b") == "0");
}

TEST_CASE("run api,deploys -- CMD: the rate token is spent, the semaphore's comes back",
          "[trust][multi][lease]") {
    REQUIRE(tb({"create", "api", "--capacity", "10", "--rate", "1/h"}).code == 0);
    REQUIRE(tb({"create", "deploys", "--capacity", "2"}).code == 0);
    const std::string probe = "redis-cli -p " + std::to_string(redis().port()) +
                              " HGET tbucket:{deploys} l; echo \"$TBUCKET_LEASE $TBUCKET_FENCE\"";
    RunResult r = tb({"run", "api,deploys", "--", "sh", "-c", probe});
    REQUIRE(r.code == 0);
    std::vector<std::string> lines = tbucket::test::text_lines(r.out);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == "1");                 // held as a lease while the command ran
    CHECK(lines[1].size() > 25);            // the lease id and its fence
    CHECK(level("deploys") == "2");         // given back after it
    CHECK(std::stod(level("api")) < 9.01);  // spent: an hour's refill is 1
    CHECK(redis().string({"HGET", "tbucket:{deploys}", "l"}) == "0");
}

TEST_CASE("run a list that is denied runs nothing and takes nothing (exit 75)", "[trust][multi]") {
    REQUIRE(tb({"create", "api", "--capacity", "10", "--rate", "1/h"}).code == 0);
    REQUIRE(tb({"create", "deploys", "--capacity", "1", "--tokens", "0"}).code == 0);
    RunResult r = tb({"run", "api,deploys", "--", "echo", "ran"});
    CHECK(r.code == 75);
    CHECK(r.out.empty());
    CHECK(r.err.find("'deploys' has 0 tokens of 1") != std::string::npos);
    CHECK(level("api") == "10");
}

TEST_CASE("take a,b whose reply is lost is asked again and takes exactly once",
          "[trust][multi][proxy]") {
    using Fault = tbucket::test::FaultProxy::Fault;
    Fault fault = GENERATE(Fault::drop_reply, Fault::cut_before_reply, Fault::cut_mid_reply);
    const std::string a = std::string("a").append(std::to_string(static_cast<int>(fault)));
    const std::string b = std::string("b").append(a);
    REQUIRE(tb({"create", a, "--capacity", "10"}).code == 0);
    REQUIRE(tb({"create", b, "--capacity", "10"}).code == 0);
    redis().command({"SCRIPT", "LOAD", std::string(tbucket::scripts::take_many_script.source)});
    tbucket::test::FaultProxy proxy(redis().port());
    proxy.fault_nth({"EVALSHA", "EVAL"}, 1, fault);
    tbucket::test::RunOptions options;
    options.timeout_s = 40;
    RunResult r = tbucket::test::run(
        tbucket::test::tb_argv(proxy.url(),
                               {"--timeout-io", "1s", "--json", "take", a + "=2," + b + "=3"}),
        options);
    INFO("fault " << static_cast<int>(fault) << ": exit " << r.code << " " << r.out << r.err);
    CHECK(r.code == 0);
    CHECK(json::parse(r.out)["taken"] == 5);
    CHECK(level(a) == "8");
    CHECK(level(b) == "7");
    CHECK(proxy.commands_seen("EVALSHA") + proxy.commands_seen("EVAL") >= 2);
}

TEST_CASE("a list waiter wakes when a lease in it ends, and takes its tokens back",
          "[trust][multi][wait][lease]") {
    REQUIRE(tb({"create", "sem", "--capacity", "1"}).code == 0);
    REQUIRE(tb({"create", "api", "--capacity", "5"}).code == 0);
    RunResult held = tb({"--json", "lease", "take", "sem", "--ttl", "1s"});  // never released
    REQUIRE(held.code == 0);
    int64_t held_ms = json::parse(held.out)["server_time_ms"].get<int64_t>();
    RunResult r = tb({"--json", "take", "api,sem", "--wait=60s"});
    CHECK(r.code == 0);
    json j = json::parse(r.out);
    // The lease had to end first: granted a second after it was taken, by
    // the server's clock (1 ms for the truncation of both times).
    CHECK(j["buckets"][1]["server_time_ms"].get<int64_t>() - held_ms >= 999);
    CHECK(level("sem") == "0");
    CHECK(level("api") == "4");
    CHECK(redis().string({"HGET", "tbucket:{sem}", "l"}) == "0");  // the dead lease reclaimed
}

TEST_CASE("a list waiter whose connections are cut reconnects and still takes all",
          "[trust][multi][wait][proxy]") {
    REQUIRE(tb({"create", "a", "--capacity", "5"}).code == 0);
    REQUIRE(tb({"create", "b", "--capacity", "5", "--tokens", "0"}).code == 0);
    tbucket::test::FaultProxy proxy(redis().port());
    Child waiter(tbucket::test::tb_argv(proxy.url(), {"--json", "take", "a,b=2", "--wait=30s"}));
    REQUIRE(tbucket::test::wait_for_subscribers(redis(), "tbucket:{b}:events", 1));
    proxy.cut_all();
    REQUIRE(tb({"put", "b", "2"}).code == 0);  // perhaps while it is away: it looks when back
    RunResult w = waiter.wait();
    INFO(w.out << w.err);
    CHECK(w.code == 0);
    CHECK(level("a") == "4");
    CHECK(level("b") == "0");
}

TEST_CASE("a list waiter with a zero timeout looks once and says so", "[trust][multi][wait]") {
    REQUIRE(tb({"create", "a", "--capacity", "5", "--tokens", "0"}).code == 0);
    REQUIRE(tb({"create", "b", "--capacity", "5"}).code == 0);
    CHECK(tb({"take", "a,b", "--wait=0"}).code == 1);  // as take a --wait=0: no wait
    RunResult r = tb({"watch", "a,b", "--take", "--timeout", "0"});
    CHECK(r.code == 124);
    CHECK(r.err.find("not there now") != std::string::npos);
    CHECK(level("b") == "5");
}

namespace {

long long queued(const std::string& name) {
    return redis().command({"ZCARD", "tbucket:{" + name + "}:q"})->integer;
}

// Until `name`'s queue holds n tickets (bounded).
bool until_queued(const std::string& name, long long n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        if (queued(name) >= n) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

}  // namespace

TEST_CASE("a list waiter queued first is served before a single waiter that came after",
          "[trust][multi][wait][fair]") {
    REQUIRE(tb({"create", "a", "--capacity", "5"}).code == 0);
    REQUIRE(tb({"create", "b", "--capacity", "5", "--tokens", "0"}).code == 0);
    Child list(tbucket::test::tb_argv(redis().url(), {"take", "a,b=2", "--wait=20s"}));
    REQUIRE(until_queued("b", 1));
    Child single(tbucket::test::tb_argv(redis().url(), {"take", "b", "--wait=20s"}));
    REQUIRE(until_queued("b", 2));
    REQUIRE(tb({"put", "b", "1"}).code == 0);  // enough for the single one, not for the list
    CHECK_FALSE(single.exited_within(0.3));    // it is behind the list waiter
    REQUIRE(tb({"put", "b", "1"}).code == 0);
    CHECK(list.wait().code == 0);
    CHECK(level("a") == "4");
    CHECK(level("b") == "0");
    REQUIRE(tb({"put", "b", "1"}).code == 0);
    CHECK(single.wait().code == 0);
    CHECK(queued("a") + queued("b") == 0);
}

TEST_CASE("a single waiter queued first is served before a list waiter",
          "[trust][multi][wait][fair]") {
    REQUIRE(tb({"create", "a", "--capacity", "5"}).code == 0);
    REQUIRE(tb({"create", "b", "--capacity", "5", "--tokens", "0"}).code == 0);
    Child single(tbucket::test::tb_argv(redis().url(), {"take", "b", "--wait=20s"}));
    REQUIRE(until_queued("b", 1));
    Child list(tbucket::test::tb_argv(redis().url(), {"take", "a,b", "--wait=20s"}));
    REQUIRE(until_queued("b", 2));
    REQUIRE(tb({"put", "b", "1"}).code == 0);
    CHECK(single.wait().code == 0);
    CHECK_FALSE(list.exited_within(0.3));
    CHECK(level("a") == "5");  // nothing held while it waits
    REQUIRE(tb({"put", "b", "1"}).code == 0);
    CHECK(list.wait().code == 0);
    CHECK(level("a") == "4");
}

TEST_CASE("waiters on a,b and on b,a cannot deadlock: the earlier is served first",
          "[trust][multi][wait][fair]") {
    REQUIRE(tb({"create", "a", "--capacity", "5", "--tokens", "0"}).code == 0);
    REQUIRE(tb({"create", "b", "--capacity", "5", "--tokens", "0"}).code == 0);
    Child first(tbucket::test::tb_argv(redis().url(), {"take", "a,b", "--wait=20s"}));
    REQUIRE(until_queued("a", 1));
    Child second(tbucket::test::tb_argv(redis().url(), {"take", "b,a", "--wait=20s"}));
    REQUIRE(until_queued("a", 2));
    REQUIRE(until_queued("b", 2));
    REQUIRE(tb({"put", "b", "1"}).code == 0);  // first in b's queue too, whatever the order named
    REQUIRE(tb({"put", "a", "1"}).code == 0);
    CHECK(first.wait().code == 0);
    CHECK_FALSE(second.exited_within(0.3));
    REQUIRE(tb({"put", "a", "1"}).code == 0);
    REQUIRE(tb({"put", "b", "1"}).code == 0);
    CHECK(second.wait().code == 0);
    CHECK(level("a") == "0");
    CHECK(level("b") == "0");
}

TEST_CASE("a killed list waiter holds no place", "[trust][multi][wait][fair]") {
    REQUIRE(tb({"create", "a", "--capacity", "5"}).code == 0);
    REQUIRE(tb({"create", "b", "--capacity", "5", "--tokens", "0"}).code == 0);
    {
        Child dead(tbucket::test::tb_argv(redis().url(), {"take", "a,b", "--wait=60s"}));
        REQUIRE(until_queued("b", 1));
        dead.signal(SIGKILL);
        dead.wait();
    }
    REQUIRE(queued("b") == 1);  // the dead ticket, until someone meets it
    // The single waiter, joining, meets it first: its channel is silent, so
    // it is dropped, and the single waiter is first.
    Child single(tbucket::test::tb_argv(redis().url(), {"take", "b", "--wait=20s"}));
    REQUIRE(tbucket::test::wait_for_subscribers(redis(), "tbucket:{b}:events", 1));
    CHECK(queued("b") == 1);
    REQUIRE(tb({"put", "b", "1"}).code == 0);
    CHECK(single.wait().code == 0);
    CHECK(level("a") == "5");
    CHECK(tb({"take", "a"}).code == 0);  // a's queue does not hold the dead ticket for long
}

TEST_CASE("a list counts a grant on every bucket and a denial on each that said no",
          "[trust][multi][metrics]") {
    REQUIRE(tb({"create", "a", "--capacity", "5"}).code == 0);
    REQUIRE(tb({"create", "b", "--capacity", "5", "--tokens", "3"}).code == 0);
    REQUIRE(tb({"take", "a=2,b=3"}).code == 0);
    CHECK(tb({"take", "a,b"}).code == 1);  // b said no
    json a = json::parse(tb({"--json", "info", "a"}).out)["counters"];
    json b = json::parse(tb({"--json", "info", "b"}).out)["counters"];
    CHECK(a["grants"] == 1);
    CHECK(a["taken"] == 2);
    CHECK(a["denials"] == 0);
    CHECK(b["grants"] == 1);
    CHECK(b["taken"] == 3);
    CHECK(b["denials"] == 1);
}
