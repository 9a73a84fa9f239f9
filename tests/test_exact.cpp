// SPEC §8, exact under faults, end to end: the built binary against real
// redis-servers (some behind tests/support/fault_proxy.h). Every case reads
// the bucket's level on the server afterwards, so a token lost or taken
// twice fails it, not only a wrong exit code.

#include <signal.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bucket/script.h"
#include "support/e2e.h"
#include "support/fault_proxy.h"

using nlohmann::json;
using tbucket::test::Child;
using tbucket::test::describe;
using tbucket::test::eventually;
using tbucket::test::FaultProxy;
using tbucket::test::read_file;
using tbucket::test::redis;
using tbucket::test::RedisServer;
using tbucket::test::RunOptions;
using tbucket::test::RunResult;
using tbucket::test::seconds_since;
using tbucket::test::slowdown;
using tbucket::test::tb;
using tbucket::test::tb_argv;

namespace {

using Clock = std::chrono::steady_clock;
using Fault = FaultProxy::Fault;

// The level stored in the bucket's hash, as the server has it.
template <typename Server>
std::string level(Server& server, const std::string& name) {
    return server.string({"HGET", "tbucket:{" + name + "}", "t"});
}

// A bucket without refill, so that its level only moves by what tbucket does.
void semaphore(const std::string& name, int capacity, int tokens) {
    RunResult r = tb(redis().url(), {"create", name, "--capacity", std::to_string(capacity),
                                     "--tokens", std::to_string(tokens)});
    REQUIRE(r.code == 0);
}

long long script_calls(RedisServer& server) {
    return server.command_calls("evalsha") + server.command_calls("eval");
}

bool exists(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0;
}

}  // namespace

// ---------------------------------------------------------------------------
// AUTH and SELECT fail: nothing else runs.

TEST_CASE("a database out of range is exit 2 and no command touches database 0",
          "[trust][exact][select]") {
    semaphore("dbx", 10, 10);
    const long long calls = script_calls(redis());
    const std::string url = redis().url() + "/16";  // the server has 16: 0..15
    const std::string marker = redis().dir() + "/ran";
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"take", "dbx", "3"},
             {"put", "dbx", "3"},
             {"run", "dbx", "3", "--", "sh", "-c", "touch " + marker},
             {"delete", "dbx"}}) {
        RunResult r = tb(url, args);
        INFO(args[0] << ": " << describe(r));
        CHECK(r.code == 2);
        CHECK(r.out.empty());
        CHECK(tbucket::test::one_error_line(r.err));
        CHECK_THAT(r.err, Catch::Contains("database 16"));
    }
    CHECK(level(redis(), "dbx") == "10");
    CHECK_FALSE(exists(marker));
    CHECK(script_calls(redis()) == calls);
}

namespace {

// A server with a password for the default user and a user alice.
class AlicesServer {
  public:
    AlicesServer() : server_({"--requirepass", "adminpw"}), admin_(admin_options()) {
        REQUIRE(
            admin_.call({"ACL", "SETUSER", "alice", "on", ">alicepw", "~*", "&*", "+@all"})->type ==
            REDIS_REPLY_STATUS);
    }
    std::string string(const std::vector<std::string>& args) {
        tbucket::Reply r = admin_.call(args);
        return r->type == REDIS_REPLY_NIL ? "(nil)" : std::string(r->str, r->len);
    }
    long long calls(const std::string& command) {
        std::string stats = string({"INFO", "commandstats"});
        std::size_t at = stats.find("cmdstat_" + command + ":calls=");
        if (at == std::string::npos) return 0;
        return std::stoll(stats.substr(at + command.size() + 15));
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(server_.port()); }

  private:
    tbucket::ConnectionOptions admin_options() const {
        tbucket::ConnectionOptions o = server_.options();
        o.password = "adminpw";
        o.has_password = true;
        return o;
    }
    RedisServer server_;
    tbucket::Connection admin_;
};

}  // namespace

TEST_CASE("a wrong password for an ACL user is exit 77 and runs no script",
          "[trust][exact][auth]") {
    AlicesServer server;
    REQUIRE(
        tb("redis://alice:alicepw@" + server.address(), {"create", "b", "--capacity", "10"}).code ==
        0);
    long long before = server.calls("evalsha") + server.calls("eval");
    RunResult r = tb("redis://alice:wrong@" + server.address(), {"take", "b", "3"});
    INFO(describe(r));
    CHECK(r.code == 77);
    CHECK(r.out.empty());
    CHECK(r.err.find("wrong") == std::string::npos);  // the password is never shown
    CHECK(server.string({"HGET", "tbucket:{b}", "t"}) == "10");
    CHECK(server.calls("evalsha") + server.calls("eval") == before);
}

TEST_CASE("a wrong password for an ACL user is exit 77 when the default user needs none",
          "[trust][exact][auth]") {
    // Redis 6+ falls back to the default user when AUTH fails only if the
    // client carries on; tbucket must not.
    RedisServer server;
    server.command({"ACL", "SETUSER", "default", "on", "nopass", "~*", "&*", "+@all"});
    server.command({"ACL", "SETUSER", "alice", "on", ">alicepw", "~*", "&*", "+@all"});
    REQUIRE(tb(server.url(), {"create", "b", "--capacity", "10"}).code == 0);
    long long before = script_calls(server);
    RunResult r =
        tb("redis://alice:wrong@127.0.0.1:" + std::to_string(server.port()), {"take", "b", "3"});
    INFO(describe(r));
    CHECK(r.code == 77);
    CHECK(r.out.empty());
    CHECK(level(server, "b") == "10");
    CHECK(script_calls(server) == before);
}

// ---------------------------------------------------------------------------
// Lost replies: asked again with the same request id, done exactly once.

namespace {

long long script_calls(FaultProxy& proxy) {
    return proxy.commands_seen("EVALSHA") + proxy.commands_seen("EVAL");
}

// Every script in the server's cache, so that the first script call is
// the one that runs (not a NOSCRIPT answer, then sent again as EVAL): a
// fault on it then hits a change that happened.
void load_scripts(RedisServer& server) {
    using namespace tbucket::scripts;
    for (const tbucket::Script* script :
         {&create_script, &take_script, &put_script, &info_script, &reset_script, &delete_script}) {
        server.command({"SCRIPT", "LOAD", std::string(script->source)});
    }
}

// `args` through a proxy that applies `fault` to the first script call.
RunResult with_lost_reply(FaultProxy& proxy, Fault fault, std::vector<std::string> args) {
    load_scripts(redis());
    proxy.fault_nth({"EVALSHA", "EVAL"}, 1, fault);
    args.insert(args.begin(), {"--timeout-io", "1s"});
    RunOptions options;
    options.timeout_s = 40;
    return tbucket::test::run(tb_argv(proxy.url(), std::move(args)), options);
}

}  // namespace

TEST_CASE("a take whose reply is lost is asked again and takes exactly once",
          "[trust][exact][proxy]") {
    Fault fault = GENERATE(Fault::drop_reply, Fault::cut_before_reply, Fault::cut_mid_reply);
    const std::string b = "b" + std::to_string(static_cast<int>(fault));  // one per fault
    semaphore(b, 10, 10);
    FaultProxy proxy(redis().port());
    RunResult r = with_lost_reply(proxy, fault, {"--json", "take", b, "3"});
    INFO("fault " << static_cast<int>(fault) << ", " << describe(r));
    CHECK(r.code == 0);
    REQUIRE(tbucket::test::json_lines(r.out).size() == 1);
    CHECK(json::parse(r.out)["taken"] == 3);
    CHECK(level(redis(), b) == "7");
    CHECK(script_calls(proxy) >= 2);
}

TEST_CASE("take --wait whose reply is lost takes exactly once", "[trust][exact][proxy][wait]") {
    semaphore("b", 10, 10);
    FaultProxy proxy(redis().port());
    RunResult r =
        with_lost_reply(proxy, Fault::drop_reply, {"--json", "take", "b", "3", "--wait=30s"});
    INFO(describe(r));
    CHECK(r.code == 0);
    CHECK(json::parse(r.out)["taken"] == 3);
    CHECK(level(redis(), "b") == "7");
    CHECK(script_calls(proxy) >= 2);
}

TEST_CASE("watch --take whose reply is lost takes exactly once", "[trust][exact][proxy][wait]") {
    semaphore("b", 10, 10);
    FaultProxy proxy(redis().port());
    RunResult r = with_lost_reply(proxy, Fault::drop_reply,
                                  {"--json", "watch", "b", "2", "--take", "--timeout", "30s"});
    INFO(describe(r));
    CHECK(r.code == 0);
    CHECK(json::parse(r.out)["taken"] == 2);
    CHECK(level(redis(), "b") == "8");
    CHECK(script_calls(proxy) >= 2);
}

TEST_CASE("run --wait whose reply is lost takes once and runs its command once",
          "[trust][exact][proxy][wait]") {
    semaphore("b", 10, 10);
    FaultProxy proxy(redis().port());
    const std::string file = redis().dir() + "/ran";
    RunResult r = with_lost_reply(
        proxy, Fault::drop_reply,
        {"run", "b", "2", "--wait=30s", "--consume", "--", "sh", "-c", "echo ran >> " + file});
    INFO(describe(r));
    CHECK(r.code == 0);
    CHECK(read_file(file) == "ran\n");
    CHECK(level(redis(), "b") == "8");
    CHECK(script_calls(proxy) >= 2);
}

TEST_CASE("a waiter on a semaphore whose take reply is lost gets its tokens, not a timeout",
          "[trust][exact][proxy][wait]") {
    // The repeat finds the level at 0: only the first reply says it was taken.
    semaphore("s", 2, 2);
    FaultProxy proxy(redis().port());
    RunResult r =
        with_lost_reply(proxy, Fault::drop_reply, {"--json", "take", "s", "2", "--wait=20s"});
    INFO(describe(r));
    CHECK(r.code == 0);
    CHECK(json::parse(r.out)["taken"] == 2);
    CHECK(level(redis(), "s") == "0");
}

TEST_CASE("a put whose reply is cut adds exactly once", "[trust][exact][proxy]") {
    semaphore("b", 10, 2);
    FaultProxy proxy(redis().port());
    RunResult r = with_lost_reply(proxy, Fault::cut_before_reply, {"--json", "put", "b", "4"});
    INFO(describe(r));
    CHECK(r.code == 0);
    CHECK(json::parse(r.out)["added"] == 4);
    CHECK(json::parse(r.out)["overflow"] == 0);
    CHECK(level(redis(), "b") == "6");
    CHECK(script_calls(proxy) >= 2);
}

TEST_CASE(
    "a take never answered within the retry window is exit 69, outcome unknown, "
    "done at most once",
    "[trust][exact][proxy]") {
    semaphore("b", 10, 10);
    FaultProxy proxy(redis().port());
    load_scripts(redis());
    for (int i = 0; i < 30; ++i) proxy.fault_nth({"EVALSHA", "EVAL"}, 1, Fault::drop_reply);
    RunResult r =
        tb(proxy.url(), {"--timeout-io", "300ms", "--connect-timeout", "300ms", "take", "b", "3"});
    INFO(describe(r));
    CHECK(r.code == 69);
    CHECK(r.out.empty());
    CHECK(tbucket::test::one_error_line(r.err));
    CHECK_THAT(r.err, Catch::Contains("whether it happened is unknown"));
    CHECK(script_calls(proxy) >= 2);
    std::string now = level(redis(), "b");
    CHECK((now == "7" || now == "10"));
}

TEST_CASE("take --wait against a stopped server takes exactly once when it comes back",
          "[trust][exact][stop]") {
    // The original bug: the take sent to the stopped server and its repeats
    // sent on new connections all ran when it came back: the level fell by 6.
    RedisServer server;
    auto created = Clock::now();
    REQUIRE(tb(server.url(), {"create", "b", "--capacity", "10", "--rate", "3/s", "--tokens", "0"})
                .code == 0);
    load_scripts(server);
    const long long calls = script_calls(server);
    RunOptions options;
    options.timeout_s = 40;
    Child take(
        tb_argv(server.url(), {"--json", "--timeout-io", "1s", "take", "b", "3", "--wait=30s"}),
        options);
    // Its first check (denied) done, the waiter sleeps until the refill
    // brings 3 tokens, 1 s after the create; the server stops before that.
    REQUIRE(tbucket::test::wait_for_subscribers(server, "tbucket:{b}:events", 1));
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (script_calls(server) == calls && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE(script_calls(server) > calls);
    REQUIRE(kill(server.pid(), SIGSTOP) == 0);
    struct Resume {
        pid_t pid;
        ~Resume() { kill(pid, SIGCONT); }
    } resume{server.pid()};
    // The stop is the fault: about three I/O timeouts of silence after the
    // waiter woke, each followed by the take sent again on a new
    // connection. It ends once the bucket is full (10 at 3/s after 3.3 s),
    // so that a take run twice would leave 4, not 7.
    std::this_thread::sleep_until(created + std::chrono::seconds(4));
    REQUIRE(kill(server.pid(), SIGCONT) == 0);
    RunResult r = take.wait();
    INFO(describe(r));
    CHECK(r.code == 0);
    CHECK(json::parse(r.out)["taken"] == 3);
    CHECK(level(server, "b") == "7");
    CHECK(script_calls(server) - calls >= 3);  // the check, the take, and at least one repeat
}

// ---------------------------------------------------------------------------
// The server's side of request ids.

namespace {

// A redis reply as text, nested arrays flattened, to compare two replies.
std::string reply_text(const redisReply& r) {
    switch (r.type) {
        case REDIS_REPLY_INTEGER:
            return std::to_string(r.integer);
        case REDIS_REPLY_NIL:
            return "(nil)";
        case REDIS_REPLY_ARRAY: {
            std::string out = "[";
            for (std::size_t i = 0; i < r.elements; ++i) out += reply_text(*r.element[i]) + ",";
            return out + "]";
        }
        default:
            return std::string(r.str, r.len);
    }
}

// The take script run by hand, with a request id key chosen by the test.
tbucket::Reply take_with_id(const std::string& name, const std::string& id, int n) {
    const std::string key = "tbucket:{" + name + "}";
    const tbucket::Script& take = tbucket::scripts::take_script;
    return redis().command({"EVAL", std::string(take.source), "2", key, key + ":id:" + id, "60000",
                            std::to_string(n), "all", "", "", "", ""});
}

}  // namespace

TEST_CASE("a repeat of a request id gets the first reply and changes nothing",
          "[trust][exact][script]") {
    semaphore("b", 10, 10);
    tbucket::Reply first = take_with_id("b", "fixed", 3);
    tbucket::Reply again = take_with_id("b", "fixed", 3);
    REQUIRE(first->type == REDIS_REPLY_ARRAY);
    CHECK(reply_text(*again) == reply_text(*first));
    CHECK(level(redis(), "b") == "7");
}

TEST_CASE("a request id is remembered no longer than its client asked", "[trust][exact][script]") {
    semaphore("b", 10, 10);
    take_with_id("b", "fixed", 3);
    long long ttl = redis().integer({"PTTL", "tbucket:{b}:id:fixed"});
    CHECK(ttl > 0);
    CHECK(ttl <= 60000);
}

TEST_CASE("a denied take remembers no request id", "[trust][exact][script]") {
    // Only changes are remembered: a denial can be asked again freely.
    semaphore("b", 10, 5);
    tbucket::Reply denied = take_with_id("b", "denied", 8);
    REQUIRE(denied->type == REDIS_REPLY_ARRAY);
    CHECK(denied->element[6]->integer == 0);  // taken
    CHECK(redis().integer({"EXISTS", "tbucket:{b}:id:denied"}) == 0);
    CHECK(level(redis(), "b") == "5");
}

// ---------------------------------------------------------------------------
// A stored time ahead of the server clock (the clock stepped back).

namespace {

// Server time in microseconds (TIME).
long long server_now_us(RedisServer& server) {
    tbucket::Reply t = server.command({"TIME"});
    return std::stoll(std::string(t->element[0]->str, t->element[0]->len)) * 1000000 +
           std::stoll(std::string(t->element[1]->str, t->element[1]->len));
}

// A bucket refilling 10/s from empty whose stored time is `ahead_us` in the
// server's future.
void stepped_bucket(const std::string& name, long long ahead_us) {
    REQUIRE(
        tb(redis().url(), {"create", name, "--capacity", "10", "--rate", "10/s", "--tokens", "0"})
            .code == 0);
    redis().command({"HSET", "tbucket:{" + name + "}", "ts",
                     std::to_string(server_now_us(redis()) + ahead_us)});
}

}  // namespace

TEST_CASE("a waiter on a bucket stored in the future refills from now", "[trust][exact][clock]") {
    stepped_bucket("c", 2'500'000);
    long long calls_before = script_calls(redis());
    auto start = Clock::now();
    RunResult r = tb(redis().url(), {"--json", "take", "c", "--wait=5s"});
    double took = seconds_since(start);
    INFO(describe(r) << "\ntook " << took << " s");
    CHECK(r.code == 0);
    CHECK(took < 0.5 * slowdown());                    // one token at 10/s, not 2.5 s frozen
    CHECK(script_calls(redis()) - calls_before < 10);  // woke on the refill, did not poll
}

TEST_CASE("a denial on a bucket stored in the future names the refill from now",
          "[trust][exact][clock]") {
    stepped_bucket("c", 2'500'000);
    RunResult r = tb(redis().url(), {"--json", "take", "c"});
    INFO(describe(r));
    CHECK(r.code == 1);
    json j = json::parse(r.out);
    CHECK(j["ok"] == false);
    CHECK(j["retry_after_ms"].get<int64_t>() <= 100);
}

TEST_CASE("info on a bucket stored a day ahead says it is full within a second of refill",
          "[trust][exact][clock]") {
    stepped_bucket("c", 86'400'000'000);
    RunResult text = tb(redis().url(), {"info", "c"});
    INFO(describe(text));
    CHECK(text.code == 0);
    // Refilled from now: empty, and 10 at 10/s is 1 s away, not a day.
    CHECK(text.out == "c  0/10 tokens  rate: refill 10/s  full in 1s\n");
    RunResult r = tb(redis().url(), {"--json", "info", "c"});
    INFO(describe(r));
    json j = json::parse(r.out);
    CHECK(j["full_in_ms"].get<int64_t>() <= 1000);
}

TEST_CASE("reset and create --replace on a bucket stored in the future store the server's now",
          "[trust][exact][clock]") {
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"reset", "c", "--tokens", "0"},
             {"create", "c", "--capacity", "10", "--rate", "10/s", "--tokens", "0", "--replace"}}) {
        stepped_bucket("c", 86'400'000'000);
        RunResult r = tb(redis().url(), args);
        INFO(describe(r));
        CHECK(r.code == 0);
        long long stored = std::stoll(redis().string({"HGET", "tbucket:{c}", "ts"}));
        CHECK(stored <= server_now_us(redis()));
    }
}

// ---------------------------------------------------------------------------
// --expire under a waiter.

TEST_CASE("a bucket with --expire does not expire under a waiter", "[trust][exact][wait]") {
    REQUIRE(
        tb(redis().url(), {"create", "ex", "--capacity", "2", "--tokens", "0", "--expire", "1s"})
            .code == 0);
    Child waiter(tb_argv(redis().url(), {"--json", "take", "ex", "--wait=6s"}));
    REQUIRE(tbucket::test::wait_for_subscribers(redis(), "tbucket:{ex}:events", 1));
    // The passing time is what is tested: 2.5 expiries without any use
    // other than the waiter's.
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    RunResult put = tb(redis().url(), {"put", "ex"});
    INFO(describe(put));
    CHECK(put.code == 0);
    RunResult r = waiter.wait();
    INFO("waiter: " << describe(r));
    CHECK(r.code == 0);
    CHECK(json::parse(r.out)["taken"] == 1);
}

// ---------------------------------------------------------------------------
// Writes refused by the server: nothing written, nothing announced.

namespace {

// Over its maxmemory with noeviction: every write that may grow memory is
// refused with OOM. Holds bucket f (capacity 5, level 3, no refill).
class FullServer {
  public:
    FullServer() {
        REQUIRE(tb(server.url(), {"create", "f", "--capacity", "5", "--tokens", "3"}).code == 0);
        // 2 MB of filler, then a limit below what is used.
        server.command({"SET", "filler", std::string(2 << 20, 'x')});
        server.command({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
        server.command({"CONFIG", "SET", "maxmemory", "1mb"});
    }
    void make_room() { server.command({"CONFIG", "SET", "maxmemory", "0"}); }
    RedisServer server;
};

}  // namespace

TEST_CASE(
    "every change on a full server is exit 69 naming OOM, and nothing is written or "
    "announced",
    "[trust][exact][oom]") {
    FullServer full;
    RedisServer& server = full.server;
    Child follow(tb_argv(server.url(), {"--json", "watch", "f", "--follow", "--timeout", "30s"}));
    REQUIRE(follow.wait_for_output("\n", 10));
    REQUIRE(tbucket::test::wait_for_subscribers(server, "tbucket:{f}:events", 1));
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{"take", "f"},
                                               {"put", "f"},
                                               {"reset", "f"},
                                               {"create", "g", "--capacity", "1"},
                                               {"take", "h", "--capacity", "3"}}) {
        RunResult r = tb(server.url(), args);
        INFO(args[0] << " " << args[1] << ": " << describe(r));
        CHECK(r.code == 69);
        CHECK(r.out.empty());
        CHECK(tbucket::test::one_error_line(r.err));
        CHECK_THAT(r.err, Catch::Contains("OOM"));
    }
    CHECK(level(server, "f") == "3");
    CHECK(server.string({"EXISTS", "tbucket:{g}", "tbucket:{h}"}) == "0");
    // Events come in order: the put's line after room is made is the next
    // one only if none of the refused changes announced anything.
    full.make_room();
    REQUIRE(tb(server.url(), {"put", "f"}).code == 0);
    REQUIRE(follow.wait_for_output("\"tokens\":4", 10));
    std::vector<json> lines = tbucket::test::json_lines(follow.out_so_far());
    REQUIRE(lines.size() == 2);
    CHECK(lines[0]["tokens"] == 3);
    CHECK(lines[1]["tokens"] == 4);
}

TEST_CASE("a waiter whose take is refused by a full server exits 69 at once",
          "[trust][exact][oom][wait]") {
    FullServer full;
    long long before = script_calls(full.server);
    auto start = Clock::now();
    RunResult r = tb(full.server.url(), {"take", "f", "3", "--wait=120s"});
    double took = seconds_since(start);
    INFO(describe(r) << "\ntook " << took << " s");
    CHECK(r.code == 69);
    CHECK_THAT(r.err, Catch::Contains("OOM"));
    CHECK(took < 60);  // at once: not at the deadline, however slow the machine
    CHECK(script_calls(full.server) - before <= 3);
    CHECK(level(full.server, "f") == "3");
}

TEST_CASE("a waiter for more than there is on a full server cannot queue and exits 69 at once",
          "[trust][exact][oom][wait]") {
    // Taking its place in line (SPEC §10) is a write, refused by a full
    // server like the take itself: no polling, nothing left behind.
    FullServer full;
    long long before = script_calls(full.server);
    auto start = Clock::now();
    RunResult r = tb(full.server.url(), {"take", "f", "5", "--wait=120s"});
    double took = seconds_since(start);
    INFO(describe(r) << "\ntook " << took << " s");
    CHECK(r.code == 69);
    CHECK_THAT(r.err, Catch::Contains("OOM"));
    CHECK(took < 60);  // at once: not at the deadline, however slow the machine
    CHECK(script_calls(full.server) - before <= 3);
    CHECK(level(full.server, "f") == "3");
    CHECK(full.server.command({"EXISTS", "tbucket:{f}:q", "tbucket:{f}:qt"})->integer == 0);
}

namespace {

// A read-only replica of redis(), in sync, holding bucket f (capacity 5).
class Replica {
    // The primary's diskless sync waits 5 s for more replicas by default.
    static std::vector<std::string> replica_of(RedisServer& primary) {
        primary.command({"CONFIG", "SET", "repl-diskless-sync-delay", "0"});
        return {"--replicaof", "127.0.0.1", std::to_string(primary.port())};
    }

  public:
    Replica() : server(replica_of(redis())) {
        semaphore("f", 5, 5);
        auto deadline = Clock::now() + std::chrono::seconds(10);
        while (Clock::now() < deadline && !synced())
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        REQUIRE(synced());
    }
    RedisServer server;

  private:
    bool synced() {
        return server.info_field("replication", "master_link_status") == "up" &&
               level(server, "f") == "5";
    }
};

}  // namespace

TEST_CASE("a take against a read-only replica is exit 69 naming READONLY",
          "[trust][exact][readonly]") {
    Replica replica;
    RunResult r = tb(replica.server.url(), {"take", "f"});
    INFO(describe(r));
    CHECK(r.code == 69);
    CHECK(r.out.empty());
    CHECK(tbucket::test::one_error_line(r.err));
    CHECK_THAT(r.err, Catch::Contains("READONLY"));
    CHECK(level(redis(), "f") == "5");
}

TEST_CASE("a waiter against a read-only replica exits 69 at once", "[trust][exact][readonly]") {
    Replica replica;
    long long before = script_calls(replica.server);
    auto start = Clock::now();
    RunResult r = tb(replica.server.url(), {"take", "f", "--wait=120s"});
    double took = seconds_since(start);
    INFO(describe(r) << "\ntook " << took << " s");
    CHECK(r.code == 69);
    CHECK_THAT(r.err, Catch::Contains("READONLY"));
    CHECK(took < 60);  // at once: not at the deadline, however slow the machine
    CHECK(script_calls(replica.server) - before <= 3);
    CHECK(level(redis(), "f") == "5");
}

// ---------------------------------------------------------------------------
// Watching.

TEST_CASE("watch with a zero timeout looks once and says the tokens are not there now",
          "[trust][exact][watch]") {
    semaphore("b", 10, 3);
    RunResult r = tb(redis().url(), {"watch", "b", "5", "--timeout", "0"});
    INFO(describe(r));
    CHECK(r.code == 124);
    CHECK(r.out.empty());
    CHECK(tbucket::test::one_error_line(r.err));
    CHECK_THAT(r.err, Catch::Contains("not there now"));
}

TEST_CASE(
    "a message on the events channel that tbucket did not publish makes a follower show "
    "the bucket, and ends nothing",
    "[trust][exact][watch]") {
    semaphore("b", 10, 3);
    Child follow(tb_argv(redis().url(), {"--json", "watch", "b", "--follow", "--timeout", "30s"}));
    REQUIRE(follow.wait_for_output("\n", 10));
    REQUIRE(tbucket::test::wait_for_subscribers(redis(), "tbucket:{b}:events", 1));
    redis().command({"SPUBLISH", "tbucket:{b}:events", "nan 10 - 0 0 0"});
    // A real change after it: once its line is out, the bad one was read.
    REQUIRE(tb(redis().url(), {"put", "b"}).code == 0);
    bool put_seen = follow.wait_for_output("\"tokens\":4", 10);
    INFO("stdout: " << follow.out_so_far() << "\nstderr: " << follow.err_so_far());
    CHECK(put_seen);
    CHECK(follow.err_so_far().empty());
    std::vector<json> lines = tbucket::test::json_lines(follow.out_so_far());
    REQUIRE(lines.size() == 3);  // the start, the bucket read after the bad message, the put
    CHECK(lines[1]["tokens"] == 3);
    for (const json& line : lines) {
        CHECK(line["available"].get<double>() >= 0);
        CHECK(line["available"].get<double>() <= 10);
    }
}

TEST_CASE("a message on the events channel that tbucket did not publish does not end a waiter",
          "[trust][exact][wait]") {
    semaphore("b", 10, 0);
    Child waiter(tb_argv(redis().url(), {"--json", "take", "b", "--wait=20s"}));
    REQUIRE(tbucket::test::wait_for_subscribers(redis(), "tbucket:{b}:events", 1));
    redis().command({"SPUBLISH", "tbucket:{b}:events", "nan 10 - 0 0 0"});
    redis().command({"SPUBLISH", "tbucket:{b}:events", "hello"});
    REQUIRE(tb(redis().url(), {"put", "b"}).code == 0);
    RunResult r = waiter.wait();
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(json::parse(r.out)["taken"] == 1);
}
