// Waiting commands end to end: take --wait, watch, watch --follow, run,
// against a real redis-server. Times are generous: they check behaviour
// (woke on the put, waited for the refill), not speed; bench/ measures that.

#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/e2e.h"
#include "support/process.h"
#include "support/redis_server.h"

using nlohmann::json;
using tbucket::test::Child;
using tbucket::test::redis;
using tbucket::test::RunResult;
using tbucket::test::slowdown;
using tbucket::test::tb;
using tbucket::test::tb_argv;

namespace {

using Clock = std::chrono::steady_clock;

// Until `n` clients are subscribed to the bucket's channel: the waiter is
// then past its first check and asleep.
bool subscribed(tbucket::test::RedisServer& server, const std::string& name, long long n = 1) {
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
        if (tbucket::test::waiters(server, "tbucket:{" + name + "}:events") >= n) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

void until_subscribed(tbucket::test::RedisServer& server, const std::string& name,
                      long long n = 1) {
    if (!subscribed(server, name, n))
        FAIL("waiters did not subscribe to " << name << " on port " << server.port());
}

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

TEST_CASE("watch wakes on a put", "[wait][watch]") {
    tb({"create", "w", "--capacity", "5", "--tokens", "0"});
    Child watcher(tb_argv(redis().url(), {"watch", "w", "3", "--timeout", "10s"}));
    until_subscribed(redis(), "w");
    CHECK(tb({"put", "w", "2"}).code == 0);
    CHECK_FALSE(watcher.exited_within(0.3));  // 2 of 3: still waiting
    CHECK(tb({"put", "w", "1"}).code == 0);
    auto put_done = Clock::now();     // the put's own process start-up is not the watcher's
    CHECK(watcher.exited_within(8));  // woke on the put, before its 10 s timeout
    RunResult r = watcher.wait();
    INFO("woke " << seconds_since(put_done) << " s after the put returned");
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::StartsWith("w  3/5 tokens"));
    CHECK(tb({"--json", "info", "w"}).out.find("\"tokens\":3") !=
          std::string::npos);  // watch took nothing
}

TEST_CASE("watch times out with 124 when the bucket cannot fill in time", "[wait][watch]") {
    tb({"create", "w", "--capacity", "5", "--tokens", "0"});
    auto start = Clock::now();
    RunResult r = tb({"watch", "w", "5", "--timeout", "1s"});
    double took = seconds_since(start);
    CHECK(r.code == 124);
    CHECK_THAT(r.err, Catch::StartsWith("tbucket: error: timed out after 1s"));
    CHECK(took >= 1.0);
    CHECK(took < 30);  // not waiting on: generous, for a loaded machine
}

TEST_CASE("take --wait wakes when the refill brings the tokens", "[wait][take]") {
    RunResult created =
        tb({"--json", "create", "r", "--capacity", "5", "--rate", "1/s", "--tokens", "0"});
    int64_t created_ms = json::parse(created.out)["server_time_ms"].get<int64_t>();
    auto start = Clock::now();
    RunResult r = tb({"--json", "take", "r", "2", "--wait=120s"});
    double took = seconds_since(start);
    CHECK(r.code == 0);
    json j = json::parse(r.out);
    CHECK(j["ok"] == true);
    CHECK(j["taken"] == 2);
    // 2 tokens at 1/s from an empty bucket: granted 2 s after the create by
    // the server's clock (1 ms for the truncation of both times), however
    // long the take's own start took.
    CHECK(j["server_time_ms"].get<int64_t>() - created_ms >= 1999);
    CHECK(took < 60);  // woke, long before its deadline
}

TEST_CASE("a zero wait does not wait", "[wait][take]") {
    tb({"create", "r", "--capacity", "5", "--tokens", "0"});
    CHECK(tb({"take", "r", "--wait=0"}).code == 1);
    CHECK(tb({"watch", "r", "--timeout", "0"}).code == 124);
}

TEST_CASE("waiting for more than the capacity is impossible at once", "[wait]") {
    tb({"create", "r", "--capacity", "5", "--rate", "1/s"});
    auto start = Clock::now();
    CHECK(tb({"take", "r", "6", "--wait=120s"}).code == 5);
    CHECK(tb({"watch", "r", "6", "--timeout", "120s"}).code == 5);
    CHECK(seconds_since(start) < 60);  // at once, not at a deadline
}

TEST_CASE("two watch --take waiters and one token: exactly one wins", "[wait][watch]") {
    tb({"create", "one", "--capacity", "5", "--tokens", "0"});
    Child a(tb_argv(redis().url(), {"--json", "watch", "one", "--take", "--timeout", "3s"}));
    Child b(tb_argv(redis().url(), {"--json", "watch", "one", "--take", "--timeout", "3s"}));
    until_subscribed(redis(), "one", 2);
    tb({"put", "one", "1"});
    RunResult ra = a.wait();
    RunResult rb = b.wait();
    CHECK(((ra.code == 0 && rb.code == 124) || (ra.code == 124 && rb.code == 0)));
    const RunResult& winner = ra.code == 0 ? ra : rb;
    CHECK(json::parse(winner.out)["taken"] == 1);
    CHECK(tb({"--json", "info", "one"}).out.find("\"tokens\":0") != std::string::npos);
}

TEST_CASE("SIGINT while waiting exits 130 and takes nothing", "[wait][signal]") {
    tb({"create", "s", "--capacity", "5", "--tokens", "1"});
    Child waiter(tb_argv(redis().url(), {"take", "s", "3", "--wait"}));
    until_subscribed(redis(), "s");
    waiter.signal(SIGINT);
    RunResult r = waiter.wait();
    CHECK(r.code == 130);
    CHECK_THAT(r.err, Catch::Contains("nothing taken"));
    CHECK(redis().string({"HGET", "tbucket:{s}", "t"}) == "1");
}

TEST_CASE("SIGTERM while waiting exits 143", "[wait][signal]") {
    tb({"create", "s", "--capacity", "5", "--tokens", "0"});
    Child waiter(tb_argv(redis().url(), {"watch", "s"}));
    until_subscribed(redis(), "s");
    waiter.signal(SIGTERM);
    CHECK(waiter.wait().code == 143);
}

TEST_CASE("deleting the bucket ends its waiters with exit 3", "[wait][delete]") {
    tb({"create", "d", "--capacity", "5", "--tokens", "0"});
    Child waiter(tb_argv(redis().url(), {"take", "d", "--wait=10s"}));
    until_subscribed(redis(), "d");
    tb({"delete", "d"});
    RunResult r = waiter.wait();
    CHECK(r.code == 3);
    CHECK_THAT(r.err, Catch::Contains("deleted"));
}

TEST_CASE("watch --follow prints the state at start and after each change", "[wait][follow]") {
    tb({"create", "f", "--capacity", "5", "--tokens", "1"});
    Child follower(
        tb_argv(redis().url(), {"--json", "watch", "f", "--follow", "--timeout", "10s"}));
    until_subscribed(redis(), "f");
    tb({"put", "f", "2"});
    tb({"take", "f", "1"});
    tb({"delete", "f"});
    RunResult r = follower.wait();
    CHECK(r.code == 3);
    std::vector<double> levels;
    std::size_t start = 0;
    while (start < r.out.size()) {
        std::size_t end = r.out.find('\n', start);
        levels.push_back(json::parse(r.out.substr(start, end - start))["tokens"].get<double>());
        start = end + 1;
    }
    CHECK(levels == std::vector<double>{1, 3, 2});
}

TEST_CASE("watch --follow ends with 0 at its timeout", "[wait][follow]") {
    tb({"create", "f", "--capacity", "5"});
    RunResult r = tb({"watch", "f", "--follow", "--timeout", "300ms"});
    CHECK(r.code == 0);
    CHECK(r.out == "f  5/5 tokens  semaphore: no refill\n");
}

TEST_CASE("run passes the command's exit status through and denies with 75", "[wait][run]") {
    RunResult r = tb(
        {"run", "job", "--capacity", "1", "--rate", "1/h", "--", "sh", "-c", "echo ran; exit 7"});
    CHECK(r.code == 7);
    CHECK(r.out == "ran\n");
    r = tb(
        {"run", "job", "--capacity", "1", "--rate", "1/h", "--", "sh", "-c", "echo ran; exit 7"});
    CHECK(r.code == 75);
    CHECK(r.out.find("ran") == std::string::npos);
    CHECK_THAT(r.err, Catch::Contains("denied"));
    CHECK(tb({"-E", "3", "run", "job", "--", "true"}).code == 3);
}

TEST_CASE("run of a command that does not exist exits 127 and takes nothing", "[wait][run]") {
    tb({"create", "job", "--capacity", "1"});
    RunResult r = tb({"run", "job", "--", "no-such-command-xyz"});
    CHECK(r.code == 127);
    CHECK_THAT(r.err, Catch::Contains("not found"));
    CHECK(redis().string({"HGET", "tbucket:{job}", "t"}) == "1");
    CHECK(tb({"run", "job"}).code == 2);  // no command
}

TEST_CASE("run --wait waits for its token, then runs", "[wait][run]") {
    tb({"create", "job", "--capacity", "1", "--rate", "5/s", "--tokens", "0"});
    RunResult r = tb({"run", "job", "--wait", "60s", "--", "echo", "hello"});
    CHECK(r.code == 0);
    CHECK(r.out == "hello\n");
}

TEST_CASE("the command run replaces tbucket and gets its signals", "[wait][run]") {
    Child child(tb_argv(redis().url(), {"run", "job", "--capacity", "1", "--", "sleep", "30"}));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    child.signal(SIGTERM);
    CHECK(child.wait().code == 128 + SIGTERM);  // sleep died of it: no tbucket in between
}

TEST_CASE("idle waiters send Redis (almost) no commands", "[wait][idle]") {
    tb({"create", "idle", "--capacity", "5", "--tokens", "0"});
    std::vector<std::unique_ptr<Child>> waiters;
    for (int i = 0; i < 20; ++i) {
        waiters.push_back(
            std::make_unique<Child>(tb_argv(redis().url(), {"watch", "idle", "--timeout", "30s"})));
    }
    until_subscribed(redis(), "idle", 20);
    // Subscribed comes before the first check: let the last checks land.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    long long before = std::stoll(redis().info_field("stats", "total_commands_processed"));
    std::this_thread::sleep_for(std::chrono::seconds(3));
    long long after = std::stoll(redis().info_field("stats", "total_commands_processed"));
    INFO("commands in 3s: " << after - before);
    CHECK(after - before <= 3);  // the INFO calls of this test themselves
    tb({"put", "idle", "1"});
    for (auto& w : waiters) CHECK(w->wait().code == 0);
}

TEST_CASE("a waiter survives a Redis restart and wakes on the next put", "[wait][faults]") {
    tbucket::test::RedisServer server;
    tbucket::test::run(tb_argv(server.url(), {"create", "rs", "--capacity", "5", "--tokens", "0"}));
    Child waiter(tb_argv(server.url(), {"take", "rs", "2", "--wait=20s"}));
    until_subscribed(server, "rs");
    server.command({"SAVE"});  // keep the bucket across the restart
    server.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    server.start();
    if (!subscribed(server, "rs")) {
        RunResult r = waiter.wait();
        FAIL("the waiter did not come back: exit " << r.code << ", stderr: " << r.err);
    }
    CHECK(tbucket::test::run(tb_argv(server.url(), {"put", "rs", "2"})).code == 0);
    RunResult r = waiter.wait();
    CHECK(r.code == 0);
    CHECK_THAT(r.err, Catch::Contains("reconnecting"));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);  // one warning line
}

TEST_CASE("a wait with the server gone for good ends at its deadline with 69", "[wait][faults]") {
    tbucket::test::RedisServer server;
    tbucket::test::run(tb_argv(server.url(), {"create", "g", "--capacity", "5", "--tokens", "0"}));
    Child waiter(tb_argv(server.url(), {"take", "g", "--wait=1s"}));
    until_subscribed(server, "g");
    auto start = Clock::now();
    server.stop();
    RunResult r = waiter.wait();
    CHECK(r.code == 69);
    CHECK(seconds_since(start) < 30);  // at its 1 s deadline, not waiting on
}

TEST_CASE("on a terminal a long wait shows a countdown on stderr, cleared at the end",
          "[wait][tty]") {
    tb({"create", "c", "--capacity", "2", "--rate", "1/s", "--tokens", "0"});
    std::string command =
        tbucket::test::tbucket_path() + " -u " + redis().url() + " take c 2 --wait=5s";
    // script(1) gives the command a pseudo-terminal; its output is the terminal's.
    RunResult r = tbucket::test::run({"script", "-qec", command, "/dev/null"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("waiting for 2 tokens on c: ready in "));
    CHECK_THAT(r.out, !Catch::Contains("restart_grace"));   // no grace holds a plain take
    RunResult quiet = tb({"take", "c", "1", "--wait=5s"});  // stderr is a pipe here
    CHECK(quiet.err.empty());
}

namespace {

// What a terminal `columns` wide shows while tbucket waits for `args`
// (script(1) gives it a pseudo-terminal); each redraw of the countdown is
// one element, the rest of the output (the final error line) the last.
std::vector<std::string> terminal_lines(int columns, const std::string& args, RunResult& r) {
    std::string command = "stty cols " + std::to_string(columns) + "; exec " +
                          tbucket::test::tbucket_path() + " -u " + redis().url() + " " + args;
    r = tbucket::test::run({"script", "-qfec", command, "/dev/null"}, {{}, "", 20});
    std::vector<std::string> lines;
    std::string rest = r.out;
    for (std::size_t at; (at = rest.find("\r\x1b[K")) != std::string::npos;) {
        if (at > 0) lines.push_back(rest.substr(0, at));
        rest.erase(0, at + 4);
    }
    lines.push_back(rest);
    return lines;
}

}  // namespace

TEST_CASE("the countdown counts to the deadline when it comes before the tokens", "[wait][tty]") {
    tb({"create", "d", "--capacity", "1", "--rate", "1/10s", "--tokens", "0"});
    RunResult r;
    std::vector<std::string> lines = terminal_lines(80, "take d --wait=1.5s", r);
    CHECK(r.code == 124);
    REQUIRE(lines.size() >= 2);
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
        INFO(lines[i]);
        CHECK_THAT(lines[i], Catch::StartsWith("waiting for 1 token on d: timing out in "));
        CHECK_THAT(lines[i], Catch::EndsWith("ms"));  // under a second left, never "9.x s"
    }
    CHECK_THAT(lines.back(), Catch::StartsWith("tbucket: error: timed out after"));
}

TEST_CASE("the countdown fits a narrow terminal, cutting the bucket name short", "[wait][tty]") {
    std::string name = "a-bucket-name-longer-than-the-terminal-is-wide";
    tb({"create", name, "--capacity", "1", "--rate", "1/10s", "--tokens", "0"});
    RunResult r;
    std::vector<std::string> lines = terminal_lines(30, "take " + name + " --wait=1.5s", r);
    CHECK(r.code == 124);
    REQUIRE(lines.size() >= 2);
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
        INFO(lines[i]);
        CHECK(lines[i].size() < 30);
        CHECK_THAT(lines[i], Catch::StartsWith("a-bu"));
        CHECK_THAT(lines[i], Catch::Contains("...: timing out in "));
        CHECK(lines[i].find('\n') == std::string::npos);
    }
}

TEST_CASE("^C to a shell loop of waits stops the loop, as tbucket dies by SIGINT",
          "[wait][signal]") {
    tb({"create", "d", "--capacity", "1", "--tokens", "0"});
    // Every command that waits: each form of waiting, in line and not.
    const char* waits[] = {"take d --wait",        "take d --wait=30s",
                           "watch d --take",       "watch d 1",
                           "run d --wait -- true", "run d --wait=30s -- true",
                           "lease take d --wait",  "take d,d2 --wait"};
    tb({"create", "d2", "--capacity", "1"});
    for (const char* wait : waits) {
        SECTION(wait) {
            tbucket::test::RunOptions options;
            options.env = {{"TB", tbucket::test::tbucket_path()}, {"URL", redis().url()}};
            // Child makes its own process group: the signal goes to the whole
            // group, as a terminal's ^C does. bash gets it too, and goes on
            // with the loop only when its child did not die of it.
            Child loop({"bash", "-c",
                        std::string("for i in 1 2 3; do \"$TB\" -u \"$URL\" ") + wait +
                            "; echo next; done; echo finished"},
                       options);
            until_subscribed(redis(), "d");
            REQUIRE(kill(-loop.pid(), SIGINT) == 0);
            RunResult r = loop.wait();
            INFO("stdout: " << r.out << "stderr: " << r.err);
            CHECK(r.code == 128 + SIGINT);
            CHECK(r.out.empty());  // neither "next" nor "finished"
            CHECK(redis().string({"HGET", "tbucket:{d}", "t"}) == "0");
            CHECK(redis().string({"HGET", "tbucket:{d2}", "t"}) == "1");
        }
    }
}
