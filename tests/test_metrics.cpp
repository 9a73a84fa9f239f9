// Counters kept by the scripts (grants, denials, tokens taken and put,
// waits served), as info --json shows them, against a real redis-server.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "bucket.h"
#include "script.h"
#include "support/e2e.h"

using nlohmann::json;
using tbucket::test::redis;
using tbucket::test::RunResult;

namespace {

RunResult tb(std::vector<std::string> args) {
    return tbucket::test::run(tbucket::test::tb_argv(redis().url(), std::move(args)));
}

json counters(const std::string& name) {
    RunResult r = tb({"--json", "info", name});
    REQUIRE(r.code == 0);
    return json::parse(r.out)["counters"];
}

struct Fresh {
    Fresh() { redis().flush(); }
};

}  // namespace

TEST_CASE_METHOD(Fresh, "a new bucket's counters are all zero", "[metrics]") {
    REQUIRE(tb({"create", "a", "--capacity", "5"}).code == 0);
    CHECK(counters("a") ==
          json{{"grants", 0}, {"denials", 0}, {"taken", 0}, {"put", 0}, {"waits_served", 0}});
}

TEST_CASE_METHOD(Fresh,
                 "grants count requests and taken counts tokens, a partial take what it took",
                 "[metrics]") {
    REQUIRE(tb({"create", "a", "--capacity", "5"}).code == 0);
    REQUIRE(tb({"take", "a", "3"}).code == 0);
    REQUIRE(tb({"take", "a", "9", "--partial"}).code == 0);  // takes the 2 left
    CHECK(tb({"take", "a"}).code == 1);
    CHECK(tb({"take", "a", "--partial"}).code == 1);
    json c = counters("a");
    CHECK(c["grants"] == 2);
    CHECK(c["taken"] == 5);
    CHECK(c["denials"] == 2);
}

TEST_CASE_METHOD(Fresh, "put counts what went in, not the overflow", "[metrics]") {
    REQUIRE(tb({"create", "a", "--capacity", "5", "--tokens", "3"}).code == 0);
    REQUIRE(tb({"put", "a", "4"}).code == 0);  // 2 in, 2 overflow
    REQUIRE(tb({"put", "a", "1"}).code == 0);  // all overflow
    CHECK(counters("a")["put"] == 2);
}

TEST_CASE_METHOD(Fresh, "a waiter's grant counts as a wait served, its re-checks not as denials",
                 "[metrics]") {
    REQUIRE(tb({"create", "a", "--capacity", "2", "--tokens", "0"}).code == 0);
    tbucket::test::Child waiter(
        tbucket::test::tb_argv(redis().url(), {"take", "a", "2", "--wait=20s"}));
    REQUIRE(tbucket::test::wait_for_subscribers(redis(), "tbucket:{a}:events", 1));
    REQUIRE(tb({"put", "a", "1"}).code == 0);  // wakes it: a re-check, still short
    REQUIRE(tb({"put", "a", "1"}).code == 0);
    CHECK(waiter.wait().code == 0);
    json c = counters("a");
    CHECK(c["grants"] == 1);
    CHECK(c["waits_served"] == 1);
    CHECK(c["taken"] == 2);
    CHECK(c["denials"] == 0);
}

TEST_CASE_METHOD(Fresh, "check-only requests (watch without --take) count nothing", "[metrics]") {
    REQUIRE(tb({"create", "a", "--capacity", "2"}).code == 0);
    REQUIRE(tb({"watch", "a", "1", "--timeout", "1s"}).code == 0);
    CHECK(counters("a")["grants"] == 0);
    CHECK(counters("a")["denials"] == 0);
}

TEST_CASE_METHOD(Fresh, "a repeat of a request id counts once", "[metrics]") {
    tbucket::Client client(redis().options(), "tbucket:");
    client.create("a", tbucket::Settings{5, std::nullopt, std::nullopt}, std::nullopt,
                  tbucket::CreateMode::ensure);
    tbucket::ScriptCall call =
        tbucket::change_call(tbucket::scripts::take_script, client.key("a"),
                             tbucket::take_args(1, tbucket::TakeMode::all, std::nullopt), 60000);
    tbucket::run_scripts(client.nodes(), {call});
    tbucket::run_scripts(client.nodes(), {call});  // the same id: the first answer again
    CHECK(counters("a")["grants"] == 1);
    CHECK(counters("a")["taken"] == 1);
}

TEST_CASE_METHOD(Fresh, "under maxmemory a denial stays a denial (exit 1), uncounted",
                 "[metrics]") {
    REQUIRE(tb({"create", "a", "--capacity", "1", "--tokens", "0"}).code == 0);
    REQUIRE(tb({"take", "a"}).code == 1);
    redis().command({"CONFIG", "SET", "maxmemory", "1"});
    RunResult r = tb({"take", "a"});
    redis().command({"CONFIG", "SET", "maxmemory", "0"});
    CHECK(r.code == 1);
    CHECK(counters("a")["denials"] == 1);
}

TEST_CASE_METHOD(Fresh, "counters do not change the reply of take or the events", "[metrics]") {
    REQUIRE(tb({"create", "a", "--capacity", "1"}).code == 0);
    json j = json::parse(tb({"--json", "take", "a"}).out);
    CHECK(!j.contains("counters"));
    CHECK(redis().string({"HGET", "tbucket:{a}", "ng"}) == "1");
}
