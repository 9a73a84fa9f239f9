// End to end: what tbucket's output does when its reader goes away or the
// disk is full, and how its lines look (rounding, columns, the countdown).

#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include "support/e2e.h"

using nlohmann::json;
using tbucket::test::redis;
using tbucket::test::RunResult;
using tbucket::test::tb;

namespace {

// `count` copies of bucket `name` as b1..bcount, made on the server in one
// script: thousands of buckets without thousands of processes.
void copy_bucket(const std::string& name, int count) {
    redis().command({"EVAL",
                     "local h = redis.call('HGETALL', KEYS[1]) "
                     "for i = 1, tonumber(ARGV[1]) do "
                     "redis.call('HSET', 'tbucket:{b' .. i .. '}', unpack(h)) end",
                     "1", "tbucket:{" + name + "}", std::to_string(count)});
}

// sh -c SCRIPT with the built tbucket as $0 and the server's URL as $1.
std::vector<std::string> shell(const std::string& script) {
    return {"bash", "-c", script, tbucket::test::tbucket_path(), redis().url()};
}

}  // namespace

TEST_CASE("watch --follow on an idle bucket dies by SIGPIPE at once when its reader is gone",
          "[e2e][output]") {
    REQUIRE(tb({"create", "i", "--capacity", "5"}).code == 0);
    // head leaves after the first line (the state at start); nothing changes after.
    tbucket::test::Child pipeline(shell(
        R"("$0" -u "$1" watch i --follow | head -1 >/dev/null; echo "status ${PIPESTATUS[0]}")"));
    REQUIRE(pipeline.exited_within(10));
    RunResult r = pipeline.wait();
    CHECK(r.out == "status " + std::to_string(128 + SIGPIPE) + "\n");
    CHECK(r.err.empty());
}

TEST_CASE("watch --follow dies by SIGPIPE at its next line once its reader is gone",
          "[e2e][output]") {
    REQUIRE(tb({"create", "w", "--capacity", "1000000", "--tokens", "0"}).code == 0);
    tbucket::test::Child pipeline(shell(
        R"("$0" -u "$1" watch w --follow | head -2 >/dev/null; echo "status ${PIPESTATUS[0]}")"));
    // Each put is a line for the follower: the first two reach head, the
    // third finds the pipe closed. Bounded: 200 puts, about 20 s at worst.
    bool ended = false;
    for (int i = 0; i < 200 && !ended; ++i) {
        REQUIRE(tb({"put", "w"}).code == 0);
        ended = pipeline.exited_within(0.1);
    }
    REQUIRE(ended);
    RunResult r = pipeline.wait();
    CHECK(r.out == "status " + std::to_string(128 + SIGPIPE) + "\n");
    CHECK(r.err.empty());
}

TEST_CASE("list --json into head -1 stops at once instead of reading every bucket",
          "[e2e][output]") {
    REQUIRE(tb({"create", "b0", "--capacity", "5"}).code == 0);
    copy_bucket("b0", 5000);
    redis().command({"CONFIG", "RESETSTAT"});
    RunResult r = tbucket::test::run(
        shell(R"("$0" -u "$1" --json list | head -1; echo "status ${PIPESTATUS[0]}")"));
    std::vector<std::string> lines = tbucket::test::text_lines(r.out);
    REQUIRE(lines.size() >= 2);
    CHECK(json::parse(lines[0])["capacity"] == 5);
    CHECK(lines[1] == "status " + std::to_string(128 + SIGPIPE));
    CHECK(r.err.empty());
    // One pipelined batch (500 reads) fills the pipe; the 5001 are not all read.
    CHECK(redis().command_calls("evalsha") + redis().command_calls("eval") <= 1000);
}

TEST_CASE("info into a full disk exits 74 with one error line", "[e2e][output]") {
    REQUIRE(tb({"create", "a", "--capacity", "5"}).code == 0);
    RunResult r = tbucket::test::run(shell(R"(exec "$0" -u "$1" info a > /dev/full)"));
    CHECK(r.code == 74);
    CHECK(tbucket::test::one_error_line(r.err));
    CHECK_THAT(r.err, Catch::Contains("No space left on device"));
}

TEST_CASE("list --json into a full disk exits 74 as an error object", "[e2e][output]") {
    REQUIRE(tb({"create", "a", "--capacity", "5"}).code == 0);
    RunResult r = tbucket::test::run(shell(R"(exec "$0" -u "$1" --json list > /dev/full)"));
    CHECK(r.code == 74);
    json error = json::parse(r.err);
    CHECK(error["error"] == "output");
    CHECK(error["exit"] == 74);
}

TEST_CASE("a take that cannot print its result still took its tokens", "[e2e][output]") {
    REQUIRE(tb({"create", "t", "--capacity", "5"}).code == 0);
    RunResult r = tbucket::test::run(shell(R"(exec "$0" -v -u "$1" take t 2 > /dev/full)"));
    CHECK(r.code == 74);
    CHECK(tbucket::test::one_error_line(r.err));
    json state = json::parse(tb({"--json", "info", "t"}).out);
    CHECK(state["available"] == 3);
}

namespace {

// A bucket without refill whose stored level is exactly `level`, as a
// long refill would leave it.
void bucket_at(const std::string& name, const std::string& level) {
    REQUIRE(tb({"create", name, "--capacity", "10"}).code == 0);
    redis().command({"HSET", "tbucket:{" + name + "}", "t", level});
}

}  // namespace

TEST_CASE("JSON levels are rounded to micro-tokens", "[e2e][output][json]") {
    bucket_at("n", "5.004973000000001");
    RunResult r = tb({"--json", "info", "n"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains(R"("tokens":5.004973,"available":5,)"));
}

TEST_CASE("a level just under a whole token is not rounded up to it", "[e2e][output][json]") {
    bucket_at("n", "4.9999999999");
    CHECK_THAT(tb({"--json", "info", "n"}).out,
               Catch::Contains(R"("tokens":4.999999,"available":4,)"));
    CHECK_THAT(tb({"info", "n"}).out, Catch::StartsWith("n  4.99/10 tokens"));
}

TEST_CASE("text levels are the micro-token level cut to two decimals", "[e2e][output]") {
    bucket_at("n", "7.259999999999999");  // the double just below 7.26
    CHECK(tb({"info", "n"}).out == "n  7.26/10 tokens  semaphore: no refill\n");
}

TEST_CASE("put reports added and overflow rounded to micro-tokens", "[e2e][output][json]") {
    bucket_at("n", "9.3");
    RunResult r = tb({"--json", "put", "n", "1"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains(R"("tokens":10,)"));
    CHECK_THAT(r.out, Catch::EndsWith(R"("added":0.7,"overflow":0.3})"
                                      "\n"));
    bucket_at("m", "9.3");
    CHECK(tb({"-v", "put", "m", "1"}).out ==
          "m  10/10 tokens  semaphore: no refill  overflow 0.3\n");
}

TEST_CASE("watch --follow rounds levels to micro-tokens too", "[e2e][output][json]") {
    bucket_at("n", "5.004973000000001");
    RunResult r = tb({"--json", "watch", "n", "--follow", "--timeout", "0"});
    CHECK_THAT(r.out, Catch::Contains(R"("tokens":5.004973,)"));
}

TEST_CASE("info lines up the name and level columns of its lines", "[e2e][output]") {
    REQUIRE(tb({"create", "a", "--capacity", "5", "--rate", "1/s"}).code == 0);
    REQUIRE(tb({"create", "long-name", "--capacity", "100", "--tokens", "7"}).code == 0);
    REQUIRE(tb({"create", "mid", "--capacity", "10"}).code == 0);
    RunResult r = tb({"info", "a", "long-name", "nope", "mid"});
    CHECK(r.code == 3);
    CHECK(r.out ==
          "a          5/5 tokens    rate: refill 1/s  full\n"
          "long-name  7/100 tokens  semaphore: no refill\n"
          "mid        10/10 tokens  semaphore: no refill\n");
    CHECK(tbucket::test::one_error_line(r.err));
}

TEST_CASE("info of one bucket has no padding", "[e2e][output]") {
    REQUIRE(tb({"create", "a", "--capacity", "5"}).code == 0);
    CHECK(tb({"info", "a"}).out == "a  5/5 tokens  semaphore: no refill\n");
}

TEST_CASE("the option --version names the version, the commit and the build",
          "[e2e][output][help]") {
    RunResult r = tbucket::test::tbucket({"--version"});
    CHECK(r.code == 0);
    std::vector<std::string> lines = tbucket::test::text_lines(r.out);
    REQUIRE(lines.size() == 3);
    CHECK_THAT(lines[0], Catch::Matches("tbucket [0-9]+\\.[0-9]+\\.[0-9]+"));
    CHECK_THAT(lines[1], Catch::Matches("commit [0-9A-Za-z.-]+"));  // describe, or "unknown"
    CHECK_THAT(lines[2], Catch::Matches("build (Release|Debug|RelWithDebInfo|MinSizeRel|default)"
                                        "( ASan UBSan)?"));
}

TEST_CASE("the option --version --json is one object with version, commit and build",
          "[e2e][output][help][json]") {
    RunResult r = tbucket::test::tbucket({"--json", "--version"});
    CHECK(r.code == 0);
    json j = json::parse(r.out);
    CHECK(j.size() == 3);
    CHECK_THAT(j["version"].get<std::string>(), Catch::Matches("[0-9]+\\.[0-9]+\\.[0-9]+"));
    CHECK_FALSE(j["commit"].get<std::string>().empty());
    CHECK_FALSE(j["build"].get<std::string>().empty());
}

TEST_CASE("the option --version into a full disk exits 74", "[e2e][output][help]") {
    RunResult r = tbucket::test::run(
        {"sh", "-c", "exec \"$0\" --version > /dev/full", tbucket::test::tbucket_path()});
    CHECK(r.code == 74);
    CHECK(tbucket::test::one_error_line(r.err));
}
