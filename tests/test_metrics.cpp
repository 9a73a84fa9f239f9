// Counters kept by the scripts (grants, denials, tokens taken and put,
// waits served), as info --json shows them, against a real redis-server.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "bucket/bucket.h"
#include "bucket/names.h"
#include "bucket/script.h"
#include "support/e2e.h"

using nlohmann::json;
using tbucket::test::redis;
using tbucket::test::RunResult;
using tbucket::test::tb;

namespace {

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
    CHECK(counters("a") == json{{"grants", 0},
                                {"denials", 0},
                                {"taken", 0},
                                {"put", 0},
                                {"waits_served", 0},
                                {"leases_expired", 0},
                                {"leases_lost", 0},
                                {"data_losses", 0}});
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

TEST_CASE_METHOD(Fresh, "leased runs count as grants and taken tokens", "[metrics][lease]") {
    REQUIRE(tb({"create", "sem", "--capacity", "2"}).code == 0);
    for (int i = 0; i < 3; ++i) REQUIRE(tb({"run", "sem", "--", "true"}).code == 0);
    REQUIRE(tb({"lease", "take", "sem", "2"}).code == 0);
    json c = counters("sem");
    CHECK(c["grants"] == 4);
    CHECK(c["taken"] == 5);
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
    client.create("a", tbucket::Settings{5, std::nullopt, std::nullopt, std::nullopt}, std::nullopt,
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
    // Grants, taken, put, waits served, leases expired, lost with data.
    CHECK(redis().string({"HGET", "tbucket:{a}", "n"}) == "1 1 0 0 0 0");
}

// Versions before the counters were packed into n kept each in a field of
// its own; such a bucket reads and counts on, with no migration step.
TEST_CASE_METHOD(Fresh,
                 "counters written one field each (before n) read and count on; the first "
                 "counted change packs them",
                 "[metrics]") {
    REQUIRE(tb({"create", "a", "--capacity", "5"}).code == 0);
    const std::string key = "tbucket:{a}";
    redis().command({"HDEL", key, "n"});
    redis().command({"HSET", key, "ng", "3", "nt", "4", "np", "1.5", "nw", "1", "ne", "2", "nl",
                     "1", "nd", "5", "nx", "1"});
    json before = counters("a");
    CHECK(before == json{{"grants", 3},
                         {"denials", 5},
                         {"taken", 4},
                         {"put", 1.5},
                         {"waits_served", 1},
                         {"leases_expired", 2},
                         {"leases_lost", 1},
                         {"data_losses", 1}});
    CHECK(redis().integer({"HEXISTS", key, "n"}) == 0);  // reading writes nothing

    REQUIRE(tb({"take", "a", "2"}).code == 0);
    json after = counters("a");
    CHECK(after["grants"] == 4);
    CHECK(after["taken"] == 6);
    CHECK(after["put"] == 1.5);
    CHECK(after["denials"] == 5);
    CHECK(redis().string({"HGET", key, "n"}) == "4 6 1.5 1 2 1");
    for (const char* old : {"ng", "nt", "np", "nw", "ne", "nl"})
        CHECK(redis().integer({"HEXISTS", key, old}) == 0);
    CHECK(redis().string({"HGET", key, "nd"}) == "5");  // denials stay a field of their own
}

// --- list on an exact name ------------------------------------------------------

TEST_CASE_METHOD(Fresh, "list NAME without glob characters reads that bucket and runs no SCAN",
                 "[metrics][list]") {
    REQUIRE(tb({"create", "api", "--capacity", "5"}).code == 0);
    REQUIRE(tb({"create", "api2", "--capacity", "5"}).code == 0);
    redis().command({"CONFIG", "RESETSTAT"});
    RunResult r = tb({"list", "api"});
    CHECK(r.code == 0);
    CHECK(r.out == "api\n");
    RunResult missing = tb({"list", "nosuch"});
    CHECK(missing.code == 0);
    CHECK(missing.out.empty());
    CHECK(redis().command_calls("scan") == 0);
    CHECK(tb({"list", "api*"}).out == "api\napi2\n");  // a glob still scans
    CHECK(redis().command_calls("scan") >= 1);
}

TEST_CASE_METHOD(Fresh, "list NAME on a key that is not a bucket warns and lists nothing",
                 "[metrics][list]") {
    redis().command({"SET", "tbucket:{str}", "x"});
    RunResult r = tb({"list", "str"});
    CHECK(r.code == 0);
    CHECK(r.out.empty());
    CHECK(r.err.find("warning") != std::string::npos);
}

// --- Prometheus -----------------------------------------------------------------

TEST_CASE_METHOD(Fresh, "list --format prometheus shows gauges and counters of every bucket",
                 "[metrics][prometheus]") {
    REQUIRE(tb({"create", "api", "--capacity", "10", "--rate", "2/s"}).code == 0);
    REQUIRE(tb({"create", "sem", "--capacity", "3"}).code == 0);
    REQUIRE(tb({"take", "sem", "2"}).code == 0);
    REQUIRE(tb({"take", "sem", "2"}).code == 1);
    RunResult r = tb({"list", "--format", "prometheus"});
    REQUIRE(r.code == 0);
    CHECK(r.out.find("# TYPE tbucket_grants_total counter\n") != std::string::npos);
    CHECK(r.out.find("tbucket_grants_total{bucket=\"sem\"} 1\n") != std::string::npos);
    CHECK(r.out.find("tbucket_denials_total{bucket=\"sem\"} 1\n") != std::string::npos);
    CHECK(r.out.find("tbucket_capacity_tokens{bucket=\"api\"} 10\n") != std::string::npos);
    CHECK(r.out.find("tbucket_refill_tokens_per_second{bucket=\"api\"} 2\n") != std::string::npos);
    CHECK(r.out.find("tbucket_refill_tokens_per_second{bucket=\"sem\"}") == std::string::npos);
    CHECK(r.out.find("node=") == std::string::npos);  // one server
}

TEST_CASE_METHOD(Fresh, "info --format prometheus reports a missing bucket and exits 3",
                 "[metrics][prometheus]") {
    REQUIRE(tb({"create", "api", "--capacity", "10"}).code == 0);
    RunResult r = tb({"info", "--format", "prometheus", "api", "nosuch"});
    CHECK(r.code == 3);
    CHECK(r.out.find("tbucket_tokens{bucket=\"api\"} 10\n") != std::string::npos);
    CHECK(tbucket::test::one_error_line(r.err));
}

TEST_CASE_METHOD(Fresh, "an unknown --format is a usage error", "[metrics][prometheus]") {
    RunResult r = tb({"list", "--format", "xml"});
    CHECK(r.code == 2);
    CHECK(tbucket::test::one_error_line(r.err));
}

#ifdef TBUCKET_PROMTOOL
TEST_CASE_METHOD(Fresh, "promtool check metrics accepts list --format prometheus of 3 buckets",
                 "[metrics][prometheus]") {
    REQUIRE(tb({"create", "api", "--capacity", "10", "--rate", "2/s"}).code == 0);
    REQUIRE(tb({"create", "sem", "--capacity", "3"}).code == 0);
    REQUIRE(tb({"create", "x.y-z@a/b+c:d", "--capacity", "1"}).code == 0);
    REQUIRE(tb({"take", "sem"}).code == 0);
    std::string cmd = std::string("\"") + tbucket::test::tbucket_path() + "\" -u " + redis().url() +
                      " list --format prometheus | " TBUCKET_PROMTOOL " check metrics";
    RunResult r = tbucket::test::run({"sh", "-c", cmd});
    INFO(r.out << r.err);
    CHECK(r.code == 0);
}
#endif

// --- the index of names -----------------------------------------------------------

namespace {

long long scans_of(const std::vector<std::string>& args, RunResult* out = nullptr) {
    redis().command({"CONFIG", "RESETSTAT"});
    RunResult r = tb(args);
    if (out) *out = r;
    return redis().command_calls("scan");
}

std::string index_key(const std::string& name) {
    return tbucket::index_key_of("tbucket:{" + name + "}");
}

}  // namespace

TEST_CASE_METHOD(Fresh, "list of a prefix reads the index, with no SCAN once it is complete",
                 "[metrics][list][index]") {
    for (const char* name : {"ab1", "ab2", "abc", "b", "xab"})
        REQUIRE(tb({"create", name, "--capacity", "1"}).code == 0);
    CHECK(scans_of({"list", "zz*"}) >= 1);  // the first list completes the index
    CHECK(redis().string({"GET", "tbucket:names:complete"}) == "2");  // with names:all
    RunResult r;
    CHECK(scans_of({"list", "ab*"}, &r) == 0);
    CHECK(r.out == "ab1\nab2\nabc\n");
    // Without cluster mode: the one set of all names, not one set per slot.
    CHECK(redis().command_calls("zrangebylex") == 1);
    CHECK(scans_of({"list", "a?[12]"}, &r) == 0);
    CHECK(r.out == "ab1\nab2\n");
    CHECK(scans_of({"list"}, &r) == 0);
    CHECK(r.out == "ab1\nab2\nabc\nb\nxab\n");
}

TEST_CASE_METHOD(
    Fresh,
    "buckets written without the index are listed: the first list scans once and indexes them",
    "[metrics][list][index]") {
    redis().command(
        {"HSET", "tbucket:{old}", "c", "5", "t", "5", "ts", "0"});  // as before the index
    RunResult r;
    CHECK(scans_of({"list", "o*"}, &r) >= 1);
    CHECK(r.out == "old\n");
    CHECK(redis().command({"ZSCORE", index_key("old"), "old"})->type == REDIS_REPLY_STRING);
    CHECK(scans_of({"list", "o*"}, &r) == 0);
    CHECK(r.out == "old\n");
}

TEST_CASE_METHOD(Fresh,
                 "an index completed before names:all (marker 1) gets it from one more SCAN, "
                 "then list reads it alone",
                 "[metrics][list][index]") {
    for (const char* name : {"ab1", "ab2", "b"})
        REQUIRE(tb({"create", name, "--capacity", "1"}).code == 0);
    redis().command({"DEL", "tbucket:names:all"});  // as the version before names:all left it
    redis().command({"SET", "tbucket:names:complete", "1"});
    RunResult r;
    CHECK(scans_of({"list", "ab*"}, &r) >= 1);
    CHECK(r.out == "ab1\nab2\n");
    CHECK(redis().string({"GET", "tbucket:names:complete"}) == "2");
    CHECK(redis().integer({"ZCARD", "tbucket:names:all"}) == 3);
    CHECK(scans_of({"list", "ab*"}, &r) == 0);
    CHECK(r.out == "ab1\nab2\n");
    CHECK(redis().command_calls("zrangebylex") == 1);
}

TEST_CASE_METHOD(Fresh, "list --scan finds a bucket the index misses, and adds it",
                 "[metrics][list][index]") {
    REQUIRE(tb({"create", "a", "--capacity", "1"}).code == 0);
    REQUIRE(tb({"list"}).out == "a\n");                                          // index complete
    redis().command({"HSET", "tbucket:{late}", "c", "5", "t", "5", "ts", "0"});  // an old client
    CHECK(tb({"list"}).out == "a\n");
    CHECK(tb({"list", "--scan"}).out == "a\nlate\n");
    CHECK(scans_of({"list"}) == 0);
    CHECK(tb({"list"}).out == "a\nlate\n");
}

TEST_CASE_METHOD(Fresh, "create, an inline create and delete keep the index in the bucket's slot",
                 "[metrics][list][index]") {
    REQUIRE(tb({"create", "a", "--capacity", "1"}).code == 0);
    REQUIRE(tb({"take", "t", "--capacity", "3"}).code == 0);
    REQUIRE(tb({"put", "p", "--capacity", "3"}).code == 0);
    for (const char* name : {"a", "t", "p"}) {
        INFO(name);
        CHECK(redis().command({"ZSCORE", index_key(name), name})->type == REDIS_REPLY_STRING);
        CHECK(redis().command({"ZSCORE", "tbucket:names:all", name})->type == REDIS_REPLY_STRING);
        CHECK(tbucket::key_slot(index_key(name)) ==
              tbucket::key_slot(std::string("tbucket:{") + name + "}"));
    }
    REQUIRE(tb({"delete", "a"}).code == 0);
    CHECK(redis().command({"ZSCORE", index_key("a"), "a"})->type == REDIS_REPLY_NIL);
    CHECK(redis().command({"ZSCORE", "tbucket:names:all", "a"})->type == REDIS_REPLY_NIL);
}

TEST_CASE_METHOD(Fresh,
                 "a bucket gone without delete (idle expiry) is dropped from the index by list",
                 "[metrics][list][index]") {
    REQUIRE(tb({"create", "gone", "--capacity", "1", "--expire", "1h"}).code == 0);
    REQUIRE(tb({"create", "kept", "--capacity", "1"}).code == 0);
    REQUIRE(tb({"list"}).out == "gone\nkept\n");
    redis().command({"DEL", "tbucket:{gone}"});  // what the expiry does: no script runs
    CHECK(tb({"list"}).out == "kept\n");
    CHECK(redis().command({"ZSCORE", index_key("gone"), "gone"})->type == REDIS_REPLY_NIL);
    CHECK(redis().command({"ZSCORE", "tbucket:names:all", "gone"})->type == REDIS_REPLY_NIL);
}

TEST_CASE_METHOD(Fresh, "a read-only user still lists buckets written before the index, by SCAN",
                 "[metrics][list][index]") {
    redis().command({"HSET", "tbucket:{old}", "c", "5", "t", "5", "ts", "0"});
    redis().command({"ACL", "SETUSER", "reader", "on", ">pw", "~*", "&*", "+@read", "+@scripting",
                     "+time", "+cluster", "+ping"});
    RunResult r = tbucket::test::run(tbucket::test::tb_argv(
        "redis://reader:pw@127.0.0.1:" + std::to_string(redis().port()), {"list", "o*"}));
    redis().command({"ACL", "DELUSER", "reader"});
    CHECK(r.code == 0);
    CHECK(r.out == "old\n");
    CHECK(redis().integer({"EXISTS", "tbucket:names:complete"}) == 0);
}

TEST_CASE_METHOD(
    Fresh, "a user whose ACL predates counters and the index still takes, creates and deletes",
    "[metrics][acl]") {
    // The minimal rules of the README before issue 18: no HINCRBY, no ZADD/ZREM.
    redis().command({"ACL",        "SETUSER",   "old",      "on",    ">pw",     "~tbucket:*",
                     "&tbucket:*", "-@all",     "+evalsha", "+eval", "+scan",   "+ssubscribe",
                     "+time",      "+hmget",    "+hset",    "+del",  "+exists", "+type",
                     "+pexpire",   "+spublish", "+get",     "+set"});
    std::string url = "redis://old:pw@127.0.0.1:" + std::to_string(redis().port());
    auto as_old = [&url](std::vector<std::string> args) {
        return tbucket::test::run(tbucket::test::tb_argv(url, std::move(args)));
    };
    CHECK(as_old({"create", "a", "--capacity", "1"}).code == 0);
    CHECK(as_old({"take", "a"}).code == 0);
    CHECK(as_old({"take", "a"}).code == 1);
    CHECK(as_old({"put", "a"}).code == 0);
    CHECK(as_old({"take", "n", "--capacity", "2"}).code == 0);
    CHECK(as_old({"delete", "n"}).code == 0);
    redis().command({"ACL", "DELUSER", "old"});
    CHECK(redis().string({"HGET", "tbucket:{a}", "t"}) == "1");
    CHECK(counters("a")["grants"] == 1);   // written with the level (HSET)
    CHECK(counters("a")["denials"] == 0);  // not counted: the ACL refused HINCRBY
}

TEST_CASE_METHOD(Fresh, "a user who may not read the index lists by SCAN, as before it",
                 "[metrics][list][index][acl]") {
    REQUIRE(tb({"create", "a", "--capacity", "1"}).code == 0);
    REQUIRE(tb({"list"}).out == "a\n");  // the index is complete
    redis().command(
        {"ACL", "SETUSER", "noindex", "on", ">pw", "~*", "&*", "+@all", "-zrangebylex"});
    RunResult r = tbucket::test::run(tbucket::test::tb_argv(
        "redis://noindex:pw@127.0.0.1:" + std::to_string(redis().port()), {"list", "a*"}));
    redis().command({"ACL", "DELUSER", "noindex"});
    CHECK(r.code == 0);
    CHECK(r.out == "a\n");
}
