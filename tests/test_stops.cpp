// When a waiter or a holder stops (SIGSTOP, SIGKILL, cut off), the queue and
// the leases keep their promises (issue 30): a served answer is valid only
// while what it grants exists and its deadline has not passed; the head of
// the line is checked for life wherever a command would wait on it; no
// token is lost or doubled, and never more holders than capacity.
//
// Each case failed before its fix. No timing assumption: where a lease or a
// deadline must pass, the test waits for it with a bound far above it.

#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/e2e.h"
#include "support/fault_proxy.h"

using nlohmann::json;
using tbucket::test::Child;
using tbucket::test::describe;
using tbucket::test::eventually;
using tbucket::test::redis;
using tbucket::test::RunResult;
using tbucket::test::tb;
using tbucket::test::tb_argv;

namespace {

void fresh(const std::string& name, std::vector<std::string> settings) {
    tb({"delete", name});
    std::vector<std::string> args{"create", name};
    args.insert(args.end(), settings.begin(), settings.end());
    REQUIRE(tb(args).code == 0);
}

std::string field(const std::string& name, const std::string& f) {
    return redis().string({"HGET", "tbucket:{" + name + "}", f});
}

// Tokens held by leases (and by reservations for served waiters).
std::string leased(const std::string& name) {
    std::string l = field(name, "l");
    return l.empty() ? "0" : l;
}

long long queue_size(const std::string& name) {
    return redis().command({"ZCARD", "tbucket:{" + name + "}:q"})->integer;
}

bool queued_within(const std::string& name, long long n, double seconds = 20) {
    return eventually([&] { return queue_size(name) >= n; }, seconds);
}

// The one ticket queued on `name` (its waiter's own channel is <key>:w:<id>).
std::string only_ticket(const std::string& name) {
    tbucket::Reply r = redis().command({"ZRANGE", "tbucket:{" + name + "}:q", "0", "0"});
    REQUIRE(r->elements == 1);
    return std::string(r->element[0]->str, r->element[0]->len);
}

long long subscribers(const std::string& channel) {
    tbucket::Reply r = redis().command({"PUBSUB", "SHARDNUMSUB", channel});
    long long n = r->elements == 2 ? r->element[1]->integer : 0;
    tbucket::Reply plain = redis().command({"PUBSUB", "NUMSUB", channel});
    if (plain->elements == 2) n += plain->element[1]->integer;
    return n;
}

std::string temp_dir() {
    char pattern[] = "/tmp/tbucket-stops-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    return pattern;
}

bool exists(const std::string& path) {
    return access(path.c_str(), F_OK) == 0;
}

}  // namespace

TEST_CASE("a lease waiter stopped while served does not run on the lease that ended meanwhile",
          "[trust][stops][lease]") {
    fresh("st1", {"--capacity", "1"});
    RunResult a = tb({"lease", "take", "st1", "--ttl", "60s"});
    REQUIRE(a.code == 0);
    const std::string a_id = a.out.substr(0, a.out.find_first_of(" \t\n"));
    const std::string dir = temp_dir();
    const std::string started = dir + "/started";
    Child w(tb_argv(redis().url(), {"run", "st1", "--wait", "--lease", "2s", "--", "sh", "-c",
                                    "touch " + started}));
    REQUIRE(queued_within("st1", 1));
    w.signal(SIGSTOP);
    // Served while stopped: its lease is made and its answer set aside.
    REQUIRE(tb({"lease", "release", "st1", a_id}).code == 0);
    REQUIRE(queue_size("st1") == 0);
    // That lease ends (2 s, unrenewed); another holder takes the token.
    RunResult b = tb({"--json", "lease", "take", "st1", "--ttl", "60s", "--wait=60s"});
    REQUIRE(b.code == 0);
    json bj = json::parse(b.out);
    w.signal(SIGCONT);
    // Woken, the first finds its lease gone: it waits in line again.
    REQUIRE(queued_within("st1", 1));
    CHECK_FALSE(exists(started));
    CHECK(w.exited_within(0.5) == false);
    REQUIRE(tb({"lease", "release", "st1", bj["lease"].get<std::string>()}).code == 0);
    RunResult wr = w.wait();
    CHECK(wr.code == 0);
    CHECK(exists(started));
    CHECK(field("st1", "t") == "1");
    CHECK(leased("st1") == "0");
}

TEST_CASE("lease take --wait stopped while served prints no lease that has ended",
          "[trust][stops][lease]") {
    fresh("st2", {"--capacity", "1", "--tokens", "0"});
    Child w(
        tb_argv(redis().url(), {"--json", "lease", "take", "st2", "--ttl", "1s", "--wait=120s"}));
    REQUIRE(queued_within("st2", 1));
    w.signal(SIGSTOP);
    REQUIRE(tb({"put", "st2"}).code == 0);  // served: a lease of 1 s set aside
    RunResult b = tb({"--json", "lease", "take", "st2", "--ttl", "60s", "--wait=60s"});
    REQUIRE(b.code == 0);
    w.signal(SIGCONT);
    REQUIRE(queued_within("st2", 1));  // in line again, not holding an ended lease
    CHECK(w.exited_within(0.5) == false);
    REQUIRE(tb({"lease", "release", "st2", json::parse(b.out)["lease"].get<std::string>()}).code ==
            0);
    RunResult wr = w.wait();
    REQUIRE(wr.code == 0);
    json wj = json::parse(wr.out);
    CHECK(wj["fence"].get<int64_t>() > json::parse(b.out)["fence"].get<int64_t>());
}

TEST_CASE("a bucket with an idle expiry shorter than a held lease lives until the lease ends",
          "[trust][stops][lease]") {
    fresh("ex1", {"--capacity", "1", "--expire", "1s"});
    REQUIRE(tb({"lease", "take", "ex1", "--ttl", "60s"}).code == 0);
    long long pttl = redis().command({"PTTL", "tbucket:{ex1}"})->integer;
    CHECK(pttl > 50000);
    CHECK(redis().command({"PTTL", "tbucket:{ex1}:leases"})->integer > 50000);
    // A renewal keeps it so; without leases the idle expiry is its own again.
    RunResult list = tb({"lease", "list", "ex1"});
    REQUIRE(list.code == 0);
    tb({"delete", "ex1"});
}

TEST_CASE("a waiter for more than the capacity keeps its place and the queue count stays right",
          "[trust][stops][queue]") {
    fresh("big", {"--capacity", "5", "--tokens", "0"});
    Child w(tb_argv(redis().url(), {"take", "big", "10", "--wait=120s"}));
    REQUIRE(queued_within("big", 1));
    CHECK(tb({"take", "big"}).code == 1);  // nothing there: denied
    CHECK(field("big", "q") == "1");       // and the count is still its
    // It holds up no one: a token put is taken by a one-shot take.
    REQUIRE(tb({"put", "big"}).code == 0);
    CHECK(tb({"take", "big"}).code == 0);
    CHECK(field("big", "q") == "1");
    // A forced put that brings enough serves it.
    REQUIRE(tb({"put", "big", "10", "--force"}).code == 0);
    RunResult r = w.wait();
    CHECK(r.code == 0);
    CHECK(field("big", "t") == "0");
    CHECK(field("big", "q") == "0");
}

TEST_CASE("a one-shot take does not wait on a killed waiter at the head of the line",
          "[trust][stops][queue]") {
    fresh("dead", {"--capacity", "5", "--tokens", "1"});
    Child w(tb_argv(redis().url(), {"take", "dead", "2", "--wait"}));  // no deadline
    REQUIRE(queued_within("dead", 1));
    const std::string channel = "tbucket:{dead}:w:" + only_ticket("dead");
    w.signal(SIGKILL);
    w.wait();
    REQUIRE(eventually([&] { return subscribers(channel) == 0; }));
    RunResult r = tb({"--json", "take", "dead"});
    CHECK(r.code == 0);
    CHECK(json::parse(r.out)["queued_ahead"] == 0);
    CHECK(field("dead", "t") == "0");
    CHECK(queue_size("dead") == 0);
}

TEST_CASE("a one-shot denial behind a live waiter on a semaphore does not invite a retry now",
          "[trust][stops][queue]") {
    fresh("semq", {"--capacity", "5", "--tokens", "1"});
    Child w(tb_argv(redis().url(), {"take", "semq", "2", "--wait=120s"}));
    REQUIRE(queued_within("semq", 1));
    RunResult r = tb({"--json", "take", "semq"});
    CHECK(r.code == 1);
    json j = json::parse(r.out);
    CHECK(j["queued_ahead"] == 1);
    CHECK(j["retry_after_ms"].is_null());  // only a put can bring more
    REQUIRE(tb({"put", "semq"}).code == 0);
    CHECK(w.wait().code == 0);
}

TEST_CASE("deleting the second bucket of a list ends its list waiter with exit 3",
          "[trust][stops][multi]") {
    fresh("la", {"--capacity", "5", "--tokens", "0"});
    fresh("lb", {"--capacity", "5", "--tokens", "0"});
    Child w(tb_argv(redis().url(), {"take", "la,lb", "--wait=600s"}));
    REQUIRE(queued_within("lb", 1));
    REQUIRE(tb({"delete", "lb"}).code == 0);
    REQUIRE(w.exited_within(60));
    RunResult r = w.wait();
    CHECK(r.code == 3);
    CHECK(tbucket::test::one_error_line(r.err));
    CHECK(queue_size("la") == 0);
    tb({"delete", "la"});
}

TEST_CASE("a watcher does not take a hand-published 'deleted' for a delete",
          "[trust][stops][wait]") {
    fresh("hp", {"--capacity", "5", "--tokens", "0"});
    Child w(tb_argv(redis().url(), {"watch", "hp", "--timeout", "600s"}));
    REQUIRE(tbucket::test::wait_for_subscribers(redis(), "tbucket:{hp}:events", 1, 60));
    redis().command({"SPUBLISH", "tbucket:{hp}:events", "deleted"});
    redis().command({"PUBLISH", "tbucket:{hp}:events", "deleted"});
    CHECK_FALSE(w.exited_within(1));
    REQUIRE(tb({"put", "hp"}).code == 0);
    CHECK(w.wait().code == 0);
    // A real delete still ends a watcher with 3.
    Child w2(tb_argv(redis().url(), {"watch", "hp", "3", "--timeout", "600s"}));
    REQUIRE(tbucket::test::wait_for_subscribers(redis(), "tbucket:{hp}:events", 1, 60));
    REQUIRE(tb({"delete", "hp"}).code == 0);
    CHECK(w2.wait().code == 3);
}

TEST_CASE("tokens set aside for a waiter killed before it claimed them come back",
          "[trust][stops][queue]") {
    fresh("kill", {"--capacity", "1", "--tokens", "0"});
    Child w(tb_argv(redis().url(), {"take", "kill", "--wait=10s"}));
    REQUIRE(queued_within("kill", 1));
    w.signal(SIGSTOP);
    REQUIRE(tb({"put", "kill"}).code == 0);  // set aside for the stopped waiter
    CHECK(field("kill", "t") == "0");
    w.signal(SIGKILL);
    w.wait();
    // They come back when its deadline passes: another waiter gets them.
    RunResult r = tb({"take", "kill", "--wait=120s"});
    CHECK(r.code == 0);
    CHECK(field("kill", "t") == "0");
    CHECK(leased("kill") == "0");
    CHECK(redis().command({"EXISTS", "tbucket:{kill}:g:x"})->integer == 0);
}

TEST_CASE("a waiter stopped past its deadline after it was served times out and takes nothing",
          "[trust][stops][queue]") {
    fresh("late", {"--capacity", "1", "--tokens", "0"});
    auto start = std::chrono::steady_clock::now();
    Child w(tb_argv(redis().url(), {"take", "late", "--wait=3s"}));
    REQUIRE(queued_within("late", 1));
    w.signal(SIGSTOP);
    REQUIRE(tb({"put", "late"}).code == 0);
    // Stopped until well past its deadline.
    while (tbucket::test::seconds_since(start) < 5)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    w.signal(SIGCONT);
    RunResult r = w.wait();
    CHECK(r.code == 124);
    // The token is the bucket's again: the next take gets it.
    RunResult next = tb({"take", "late"});
    CHECK(next.code == 0);
    CHECK(leased("late") == "0");
}

TEST_CASE("a holder cut off from Redis ends its command before the server can give the lease away",
          "[trust][stops][lease]") {
    fresh("cut", {"--capacity", "1"});
    // The scripts loaded first, so that each command below is one EVALSHA.
    fresh("preload", {"--capacity", "1"});
    REQUIRE(tb({"take", "preload"}).code == 0);
    REQUIRE(tb({"lease", "renew", "preload", std::string(24, '0')}).code == 3);
    tbucket::test::FaultProxy proxy(redis().port());
    // The take is the first script through the proxy; the first renewal's
    // reply never comes (the connection falls silent for the I/O timeout,
    // 10 s: longer than what is left of the 6 s lease).
    proxy.fault_nth({"EVALSHA", "EVAL"}, 2, tbucket::test::FaultProxy::Fault::drop_reply);
    const std::string dir = temp_dir();
    Child holder(tb_argv(proxy.url(),
                         {"--timeout-io", "10s", "run", "cut", "--lease", "6s", "--", "sh", "-c",
                          "trap 'date +%s%N > " + dir +
                              "/term; kill $!; exit 0' TERM; echo started; sleep 60 & wait"}));
    REQUIRE(holder.wait_for_output("started", 60));
    RunResult other = tb({"--json", "lease", "take", "cut", "--ttl", "60s", "--wait=120s"});
    REQUIRE(other.code == 0);
    long long granted_ms = json::parse(other.out)["server_time_ms"].get<long long>();
    RunResult h = holder.wait();
    INFO(describe(h));
    REQUIRE(exists(dir + "/term"));
    long long term_ms = std::stoll(tbucket::test::read_file(dir + "/term")) / 1000000;
    INFO("SIGTERM at " << term_ms << ", granted to another at " << granted_ms);
    CHECK(term_ms < granted_ms);
    CHECK(h.err.find("lost") != std::string::npos);
}

TEST_CASE("a malformed lease record is a data error (65), not a crash or a bug",
          "[trust][stops][lease]") {
    fresh("mal", {"--capacity", "2"});
    RunResult held = tb({"lease", "take", "mal"});
    REQUIRE(held.code == 0);
    const std::string id = held.out.substr(0, held.out.find(' '));
    redis().command({"HSET", "tbucket:{mal}:leases", id, "garbage"});
    RunResult r = tb({"lease", "list", "mal"});
    CHECK(r.code == 65);
    CHECK(tbucket::test::one_error_line(r.err));
}

TEST_CASE("a leased run whose take was answered after most of its lease does not start its command",
          "[trust][stops][lease]") {
    fresh("slow", {"--capacity", "1"});
    fresh("preload2", {"--capacity", "1"});
    REQUIRE(tb({"take", "preload2"}).code == 0);
    tbucket::test::FaultProxy proxy(redis().port());
    proxy.fault_nth({"EVALSHA", "EVAL"}, 1, tbucket::test::FaultProxy::Fault::delay_reply, 3500);
    const std::string dir = temp_dir();
    RunResult r = tbucket::test::run(
        tb_argv(proxy.url(), {"run", "slow", "--lease", "3s", "--", "touch", dir + "/started"}));
    INFO(describe(r));
    CHECK(r.code == 69);
    CHECK(tbucket::test::one_error_line(r.err));
    CHECK_FALSE(exists(dir + "/started"));
    CHECK(tb({"take", "slow"}).code == 0);  // given back
}

TEST_CASE("a stopped list waiter first in line holds up the others of its buckets only briefly",
          "[trust][stops][multi]") {
    fresh("ma", {"--capacity", "5"});
    fresh("mb", {"--capacity", "5", "--tokens", "0"});
    Child list(tb_argv(redis().url(), {"take", "ma=5,mb=1", "--wait=600s"}));
    REQUIRE(queued_within("ma", 1));
    REQUIRE(queued_within("mb", 1));
    list.signal(SIGSTOP);
    // First in ma with its 5 tokens there, it held ma for as long as it was
    // stopped; now only for the grace a live waiter gets to look (5 s).
    RunResult single = tb({"take", "ma", "--wait=120s"});
    CHECK(single.code == 0);
    CHECK(field("ma", "t") == "4");
    list.signal(SIGCONT);
    REQUIRE(tb({"put", "mb"}).code == 0);
    REQUIRE(tb({"put", "ma"}).code == 0);
    RunResult r = list.wait();
    INFO(describe(r));
    CHECK(r.code == 0);
    CHECK(field("ma", "t") == "0");
    CHECK(field("mb", "t") == "0");
    CHECK(queue_size("ma") == 0);
    CHECK(redis().command({"EXISTS", "tbucket:{ma}:qw"})->integer == 0);
}

TEST_CASE("names written straight into Redis are escaped in text, exact or marked in JSON",
          "[trust][stops][names]") {
    const std::string odd = std::string("evil\n\x1b]0;pwned\x07") + "x";
    const std::string bad_utf8 = "raw\xff";
    for (const std::string& name : {odd, bad_utf8}) {
        redis().command({"HSET", "tbucket:{" + name + "}", "c", "5", "t", "5", "ts", "1"});
    }
    // Written behind tbucket's back: the index of names learns them by SCAN.
    redis().command({"DEL", "tbucket:names:complete"});
    RunResult text = tb({"list", "evil*"});
    REQUIRE(text.code == 0);
    CHECK(text.out == "evil\\x0a\\x1b]0;pwned\\x07x\n");
    redis().command({"DEL", "tbucket:names:complete"});
    RunResult raw = tb({"list", "raw*"});
    CHECK(raw.out == "raw\\xff\n");
    redis().command({"DEL", "tbucket:names:complete"});
    RunResult js = tb({"--json", "list", "evil*"});
    REQUIRE(js.code == 0);
    CHECK(json::parse(js.out)["name"] == odd);  // valid UTF-8: exact
    redis().command({"DEL", "tbucket:names:complete"});
    RunResult jraw = tb({"--json", "list", "raw*"});
    json j = json::parse(jraw.out);
    CHECK(j["name"] == "raw\\xff");
    CHECK(j["name_escaped"] == true);
    redis().command({"DEL", "tbucket:names:complete"});
    RunResult prom = tb({"list", "raw*", "--format", "prometheus"});
    REQUIRE(prom.code == 0);
    CHECK(prom.out.find("bucket=\"raw\\\\xff\"") != std::string::npos);
    CHECK(prom.out.find('\xff') == std::string::npos);
    for (const std::string& name : {odd, bad_utf8})
        redis().command({"DEL", "tbucket:{" + name + "}"});
}

TEST_CASE("a waiting command's request ids are remembered no longer than a one-shot's",
          "[trust][stops][memory]") {
    fresh("mem", {"--capacity", "100"});
    REQUIRE(tb({"take", "mem", "--wait"}).code == 0);  // served at once
    REQUIRE(tb({"take", "mem", "--wait", "--capacity", "100"}).code == 0);
    REQUIRE(tb({"watch", "mem", "--take", "--timeout", "10m"}).code == 0);
    tbucket::Reply keys = redis().command({"KEYS", "tbucket:{mem}:id:*"});
    REQUIRE(keys->elements >= 3);
    for (std::size_t i = 0; i < keys->elements; ++i) {
        std::string key(keys->element[i]->str, keys->element[i]->len);
        long long pttl = redis().command({"PTTL", key})->integer;
        INFO(key);
        CHECK(pttl > 0);
        CHECK(pttl <= 24000);  // twice the default retry window (2 x 5 s + 2 s)
    }
}

TEST_CASE(
    "run's release after the command is asked again for the whole retry window, not the "
    "renewals' third of the lease",
    "[trust][stops][memory]") {
    fresh("relwin", {"--capacity", "1"});
    // A 3 s lease is renewed every second, each renewal asked again for 1 s
    // at most (its id remembered for 2 s); the take and the release get the
    // default window (their ids remembered for 24 s).
    auto id_keys = [] {
        std::set<std::string> found;
        tbucket::Reply keys = redis().command({"KEYS", "tbucket:{relwin}:id:*"});
        for (std::size_t i = 0; i < keys->elements; ++i)
            found.emplace(keys->element[i]->str, keys->element[i]->len);
        return found;
    };
    const std::set<std::string> before = id_keys();  // the create's
    RunResult r = tb({"run", "relwin", "--lease", "3s", "--", "sh", "-c", "sleep 1.5"});
    REQUIRE(r.code == 0);
    int whole_window = 0;
    for (const std::string& key : id_keys()) {
        if (before.count(key)) continue;
        long long pttl = redis().command({"PTTL", key})->integer;
        INFO(key << " " << pttl);
        CHECK(pttl > 0);
        if (pttl > 2000) ++whole_window;
    }
    CHECK(whole_window == 2);  // the take and the release
}
