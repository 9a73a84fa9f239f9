// The original Go library's integration cases (Count, Take, Put, Watch,
// Fill, TakeAll), translated into tbucket commands and run end to end
// against a real redis-server: what a user of that library expects still
// holds through tbucket.

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include "support/e2e.h"
#include "support/process.h"
#include "support/redis_server.h"

using nlohmann::json;
using tbucket::test::Child;
using tbucket::test::redis;
using tbucket::test::RunResult;
using tbucket::test::tb;
using tbucket::test::tb_argv;

namespace {

std::string level(const std::string& name) {
    return redis().string({"HGET", "tbucket:{" + name + "}", "t"});
}

}  // namespace

TEST_CASE("a take succeeds whenever the level holds N, even above capacity", "[e2e][library]") {
    REQUIRE(tb({"create", "b", "--capacity", "10"}).code == 0);
    REQUIRE(tb({"put", "b", "1", "--force"}).code == 0);
    RunResult r = tb({"--json", "take", "b", "11"});
    CHECK(r.code == 0);
    CHECK(json::parse(r.out)["taken"] == 11);
    CHECK(level("b") == "0");
}

TEST_CASE("a take above capacity on a bucket without refill is denied when the level is short",
          "[e2e][library]") {
    REQUIRE(tb({"create", "b", "--capacity", "10"}).code == 0);
    RunResult r = tb({"take", "b", "11"});
    CHECK(r.code == 5);
    CHECK(level("b") == "10");
}

TEST_CASE(
    "a watch above capacity on a bucket without refill ends when a forced put brings the level "
    "there",
    "[e2e][library][wait]") {
    REQUIRE(tb({"create", "w", "--capacity", "10"}).code == 0);
    Child watcher(tb_argv(redis().url(), {"--json", "watch", "w", "11", "--timeout", "20s"}));
    REQUIRE(tbucket::test::wait_for_subscribers(redis(), "tbucket:{w}:events", 1));
    REQUIRE(tb({"put", "w", "1", "--force"}).code == 0);
    RunResult watched = watcher.wait();
    INFO(watched.err);
    CHECK(watched.code == 0);
    CHECK(json::parse(watched.out)["tokens"] == 11);
    CHECK(level("w") == "11");
}

TEST_CASE(
    "a take --wait above capacity on a bucket without refill takes once a forced put brings the "
    "level there",
    "[e2e][library][wait]") {
    REQUIRE(tb({"create", "w", "--capacity", "10"}).code == 0);
    Child taker(tb_argv(redis().url(), {"--json", "take", "w", "11", "--wait=20s"}));
    REQUIRE(tbucket::test::wait_for_subscribers(redis(), "tbucket:{w}:events", 1));
    REQUIRE(tb({"put", "w", "1", "--force"}).code == 0);
    RunResult took = taker.wait();
    INFO(took.err);
    CHECK(took.code == 0);
    CHECK(json::parse(took.out)["taken"] == 11);
    CHECK(level("w") == "0");
}

TEST_CASE(
    "N above the capacity of a refilling bucket is impossible at once unless the level holds N",
    "[e2e][library][wait]") {
    REQUIRE(tb({"create", "r", "--capacity", "10", "--rate", "1/s"}).code == 0);
    auto start = std::chrono::steady_clock::now();
    CHECK(tb({"take", "r", "11"}).code == 5);
    CHECK(tb({"take", "r", "11", "--wait=10s"}).code == 5);
    CHECK(tb({"watch", "r", "11", "--take", "--timeout", "10s"}).code == 5);
    CHECK(tb({"watch", "r", "11", "--timeout", "10s"}).code == 5);
    CHECK(tbucket::test::seconds_since(start) < 5);  // at once, not at the deadline
    REQUIRE(tb({"put", "r", "5", "--force"}).code == 0);
    RunResult r = tb({"--json", "take", "r", "11", "--wait=10s"});
    CHECK(r.code == 0);
    CHECK(json::parse(r.out)["taken"] == 11);
}

TEST_CASE("take all takes every whole token there is, credits too, and says how many",
          "[e2e][library][all]") {
    REQUIRE(tb({"create", "a", "--capacity", "10"}).code == 0);
    REQUIRE(tb({"put", "a", "2", "--force"}).code == 0);
    RunResult r = tb({"--json", "take", "a", "all"});
    CHECK(r.code == 0);
    json j = json::parse(r.out);
    CHECK(j["ok"] == true);
    CHECK(j["taken"] == 12);
    CHECK(j["requested"] == 12);
    CHECK(j["available"] == 0);
    CHECK(level("a") == "0");
}

TEST_CASE("take all on an empty bucket is denied with exit 1, as --partial",
          "[e2e][library][all]") {
    REQUIRE(tb({"create", "a", "--capacity", "10", "--rate", "1/h", "--tokens", "0"}).code == 0);
    RunResult r = tb({"--json", "take", "a", "all"});
    CHECK(r.code == 1);
    json j = json::parse(r.out);
    CHECK(j["ok"] == false);
    CHECK(j["taken"] == 0);
    CHECK(j["retry_after_ms"].get<int64_t>() <= 3600000);  // one token at 1/h
    RunResult text = tb({"take", "a", "all"});
    CHECK(text.code == 1);
    CHECK_THAT(text.err, Catch::Contains("denied: all tokens asked"));
}

TEST_CASE("take all keeps the fraction of a refilling bucket", "[e2e][library][all]") {
    REQUIRE(tb({"create", "f", "--capacity", "10", "--rate", "1/h", "--tokens", "3"}).code == 0);
    json j = json::parse(tb({"--json", "take", "f", "all"}).out);
    CHECK(j["taken"] == 3);
    CHECK(j["tokens"].get<double>() < 1);
}

TEST_CASE("take all creates a missing bucket inline and takes it whole", "[e2e][library][all]") {
    RunResult r = tb({"--json", "take", "new", "all", "--capacity", "5"});
    CHECK(r.code == 0);
    CHECK(json::parse(r.out)["taken"] == 5);
    CHECK(level("new") == "0");
}

TEST_CASE("take all does not wait, and other words than all are not counts",
          "[e2e][library][all]") {
    REQUIRE(tb({"create", "a", "--capacity", "10"}).code == 0);
    RunResult waiting = tb({"take", "a", "all", "--wait=1s"});
    CHECK(waiting.code == 2);
    CHECK(tbucket::test::one_error_line(waiting.err));
    CHECK_THAT(waiting.err, Catch::Contains("does not --wait"));
    CHECK(tb({"take", "a", "everything"}).code == 2);
    CHECK(tb({"put", "a", "all"}).code == 2);
    CHECK(level("a") == "10");
}
