// End to end: the built tbucket binary against a real redis-server,
// checking stdout, stderr and the exit status.

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/e2e.h"
#include "support/process.h"
#include "support/redis_server.h"

using nlohmann::json;
using tbucket::test::redis;
using tbucket::test::RunOptions;
using tbucket::test::RunResult;
using tbucket::test::tb;
using tbucket::test::with_env;

namespace {

// tbucket against the test's private server.
json only_json_line(const std::string& out) {
    REQUIRE(!out.empty());
    REQUIRE(out.back() == '\n');
    REQUIRE(out.find('\n') == out.size() - 1);
    return json::parse(out);
}

std::vector<json> json_lines(const std::string& out) {
    std::vector<json> lines;
    std::size_t start = 0;
    while (start < out.size()) {
        std::size_t end = out.find('\n', start);
        lines.push_back(json::parse(out.substr(start, end - start)));
        start = end + 1;
    }
    return lines;
}

bool one_error_line(const std::string& err) {
    return err.rfind("tbucket: error: ", 0) == 0 && err.find('\n') == err.size() - 1;
}

}  // namespace

TEST_CASE("help lists every command", "[e2e][help]") {
    RunResult r = tbucket::test::tbucket({"--help"});
    CHECK(r.code == 0);
    for (const char* command : {"create", "take", "put", "info", "list", "delete", "reset"}) {
        CHECK_THAT(r.out, Catch::Contains(command));
    }
}

TEST_CASE("the version flag prints the version", "[e2e][help]") {
    RunResult r = tbucket::test::tbucket({"--version"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::StartsWith("tbucket 0."));
}

TEST_CASE("create is idempotent and refuses other settings with exit 4", "[e2e][create]") {
    RunResult r = tb({"-v", "create", "api", "--capacity", "5", "--rate", "1/s"});
    CHECK(r.code == 0);
    CHECK(r.out == "api  5/5 tokens  rate: refill 1/s  full  (created)\n");
    CHECK(tb({"create", "api", "--capacity", "5", "--rate", "1/s"}).code == 0);
    r = tb({"create", "api", "--capacity", "6", "--rate", "1/s"});
    CHECK(r.code == 4);
    CHECK(one_error_line(r.err));
    CHECK_THAT(r.err, Catch::Contains("capacity 5"));
}

TEST_CASE("create --json reports created, updated and replaced", "[e2e][create][json]") {
    json j =
        only_json_line(tb({"--json", "create", "api", "--capacity", "5", "--tokens", "2"}).out);
    CHECK(j["created"] == true);
    CHECK(j["updated"] == false);
    CHECK(j["replaced"] == false);
    CHECK(j["tokens"] == 2);
    j = only_json_line(tb({"--json", "create", "api", "--capacity", "7", "--update"}).out);
    CHECK(j["updated"] == true);
    CHECK(j["tokens"] == 2);
    j = only_json_line(
        tb({"--json", "create", "api", "--capacity", "7", "--rate", "1/h", "--replace"}).out);
    CHECK(j["replaced"] == true);
    CHECK(j["tokens"] == 7);
    CHECK(j["rate"] == json{{"amount", 1}, {"period_ms", 3600000}});
}

TEST_CASE("take succeeds with exit 0 and prints the state", "[e2e][take]") {
    tb({"create", "api", "--capacity", "5", "--rate", "1/s"});
    RunResult r = tb({"-v", "take", "api", "5"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::StartsWith("api  0"));
    CHECK(r.err.empty());
}

TEST_CASE("a denied take exits 1 and says when to retry", "[e2e][take]") {
    // 1/min: no machine is slow enough between the create and the take to
    // see much of a refill.
    tb({"create", "api", "--capacity", "5", "--rate", "1/min", "--tokens", "0"});
    RunResult r = tb({"--json", "take", "api", "3"});
    CHECK(r.code == 1);
    json j = only_json_line(r.out);
    CHECK(j["ok"] == false);
    CHECK(j["requested"] == 3);
    CHECK(j["taken"] == 0);
    // 3 tokens at 1/min, less what refilled since the create: rounded up to the ms.
    double expected = (3 - j["tokens"].get<double>()) * 60000;
    CHECK(j["retry_after_ms"].get<int64_t>() >= static_cast<int64_t>(expected));
    CHECK(j["retry_after_ms"].get<int64_t>() <= static_cast<int64_t>(expected) + 1);
    CHECK(j["retry_after_ms"].get<int64_t>() > 150000);
    CHECK(j["waited_ms"] == 0);
    r = tb({"take", "api", "3"});
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Catch::StartsWith("tbucket: denied: 3 tokens asked"));
    CHECK_THAT(r.err, Catch::Contains("enough in"));
}

TEST_CASE("the -E option sets the exit status of a denial", "[e2e][take]") {
    tb({"create", "api", "--capacity", "1", "--tokens", "0"});
    CHECK(tb({"-E", "9", "take", "api"}).code == 9);
    CHECK(tb({"-E", "300", "take", "api"}).code == 2);
}

TEST_CASE("taking more than the capacity exits 5", "[e2e][take]") {
    tb({"create", "api", "--capacity", "5"});
    RunResult r = tb({"take", "api", "6"});
    CHECK(r.code == 5);
    CHECK(one_error_line(r.err));
}

// 1 token per 100 years, a million of them per token: full_in_ms and
// retry_after_ms are null, and the text must say why, the same every time.
TEST_CASE("a refill too slow to matter is said so in text, and null in JSON", "[e2e][take]") {
    RunResult r = tb(
        {"-v", "create", "tiny", "--capacity", "2", "--rate", "0.000001/36500d", "--tokens", "0"});
    CHECK(r.code == 0);
    CHECK(r.out ==
          "tiny  0/2 tokens  rate: refill 0.000001/36500d  full in over 100 years  (created)\n");
    for (int i = 0; i < 3; ++i) {
        CHECK(tb({"info", "tiny"}).out ==
              "tiny  0/2 tokens  rate: refill 0.000001/36500d  full in over 100 years\n");
    }
    CHECK(only_json_line(tb({"--json", "info", "tiny"}).out)["full_in_ms"].is_null());
    r = tb({"take", "tiny"});
    CHECK(r.code == 1);
    CHECK(r.err ==
          "tbucket: denied: 1 token asked, 0 tokens available in 'tiny'; refill 0.000001/36500d is "
          "too slow to bring them within 100 years, so only a put can\n");
    CHECK(only_json_line(tb({"--json", "take", "tiny"}).out)["retry_after_ms"].is_null());
}

TEST_CASE("put is capped and reports the overflow", "[e2e][put]") {
    tb({"create", "api", "--capacity", "5", "--tokens", "0"});
    json j = only_json_line(tb({"--json", "put", "api", "100"}).out);
    CHECK(j["tokens"] == 5);
    CHECK(j["added"] == 5);
    CHECK(j["overflow"] == 95);
    RunResult r = tb({"-v", "put", "api", "1"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("overflow 1"));
}

TEST_CASE("put --force lets the level pass capacity", "[e2e][put]") {
    tb({"create", "api", "--capacity", "5"});
    json j = only_json_line(tb({"--json", "put", "api", "3", "--force"}).out);
    CHECK(j["tokens"] == 8);
    CHECK(j["overflow"] == 0);
    CHECK(j["full_in_ms"] == 0);
}

TEST_CASE("take --partial takes what there is", "[e2e][take]") {
    tb({"create", "api", "--capacity", "5", "--tokens", "2"});
    json j = only_json_line(tb({"--json", "take", "api", "4", "--partial"}).out);
    CHECK(j["ok"] == true);
    CHECK(j["taken"] == 2);
    CHECK(tb({"take", "api", "4", "--partial"}).code == 1);
}

TEST_CASE("inline --capacity creates a missing bucket and refuses disagreement", "[e2e][inline]") {
    RunResult r = tb({"--json", "take", "cron", "--capacity", "2", "--rate", "1/h"});
    CHECK(r.code == 0);
    CHECK(only_json_line(r.out)["tokens"] == 1);
    CHECK(tb({"take", "cron", "--capacity", "2", "--rate", "1/h"}).code == 0);
    CHECK(tb({"take", "cron", "--capacity", "3", "--rate", "1/h"}).code == 4);
    CHECK(tb({"put", "cron", "--capacity", "2"}).code == 4);
    CHECK(tb({"take", "cron", "--rate", "1/h"}).code == 2);  // --rate needs --capacity
}

TEST_CASE("every JSON state has the SPEC fields", "[e2e][json]") {
    tb({"create", "api", "--capacity", "10", "--rate", "10/min", "--expire", "1h", "--tokens",
        "7"});
    json j = only_json_line(tb({"--json", "info", "api"}).out);
    for (const char* field : {"name", "capacity", "tokens", "available", "rate", "full_in_ms",
                              "expire_ms", "server_time_ms"}) {
        CHECK(j.contains(field));
    }
    CHECK(j["name"] == "api");
    CHECK(j["capacity"] == 10);
    CHECK(j["available"] == 7);
    CHECK(j["rate"] == json{{"amount", 10}, {"period_ms", 60000}});
    CHECK(j["expire_ms"] == 3600000);
    CHECK(j["full_in_ms"].get<int64_t>() > 17000);
    CHECK(j["full_in_ms"].get<int64_t>() <= 18000);
    CHECK(j["server_time_ms"].get<int64_t>() > 1700000000000);
}

TEST_CASE("a bucket without refill has null rate and full_in_ms", "[e2e][json]") {
    tb({"create", "sem", "--capacity", "3", "--tokens", "1"});
    json j = only_json_line(tb({"--json", "info", "sem"}).out);
    CHECK(j["rate"].is_null());
    CHECK(j["full_in_ms"].is_null());
    CHECK(j["expire_ms"].is_null());
}

TEST_CASE("info of a missing bucket exits 3 and still shows the others", "[e2e][info]") {
    tb({"create", "api", "--capacity", "5"});
    RunResult r = tb({"info", "api", "nosuch"});
    CHECK(r.code == 3);
    CHECK_THAT(r.out, Catch::StartsWith("api  5/5 tokens"));
    CHECK(r.err ==
          "tbucket: error: no such bucket: nosuch; create it with: tbucket create nosuch "
          "--capacity N [--rate R]\n");
}

TEST_CASE("a missing bucket's error says how to create it, inline where the command can",
          "[e2e][hint]") {
    RunResult take = tb({"take", "nosuch"});
    CHECK(take.code == 3);
    CHECK(one_error_line(take.err));
    CHECK_THAT(take.err, Catch::Contains("tbucket create nosuch --capacity N"));
    CHECK_THAT(take.err, Catch::Contains("or add --capacity N [--rate R] here"));
    RunResult run = tb({"run", "nosuch", "--", "true"});
    CHECK(run.code == 3);
    CHECK_THAT(run.err, Catch::Contains("or add --capacity N [--rate R] here"));
    RunResult reset = tb({"reset", "nosuch"});
    CHECK(reset.code == 3);
    CHECK_THAT(reset.err, Catch::Contains("tbucket create nosuch --capacity N"));
    CHECK_THAT(reset.err, !Catch::Contains("here to create"));
    RunResult deleted = tb({"delete", "nosuch"});
    CHECK(deleted.code == 3);
    CHECK(deleted.err == "tbucket: error: no such bucket: nosuch\n");
}

TEST_CASE("errors with --json are one JSON object on stderr", "[e2e][json]") {
    RunResult r = tb({"--json", "info", "nosuch"});
    CHECK(r.code == 3);
    CHECK(r.out.empty());
    json j = only_json_line(r.err);
    CHECK(j["error"] == "not_found");
    CHECK(j["exit"] == 3);
    CHECK(j["message"].is_string());
}

TEST_CASE("a usage error with --json is a JSON object too", "[e2e][json]") {
    RunResult r = tb({"--json", "take", "bad name"});
    CHECK(r.code == 2);
    CHECK(only_json_line(r.err)["error"] == "usage");
    r = tb({"--json", "frobnicate"});
    CHECK(r.code == 2);
    CHECK(only_json_line(r.err)["exit"] == 2);
}

TEST_CASE("TBUCKET_JSON=1 turns on JSON output", "[e2e][json][env]") {
    tb({"create", "api", "--capacity", "5"});
    RunResult r = tb({"info", "api"}, with_env({{"TBUCKET_JSON", "1"}}));
    CHECK(only_json_line(r.out)["name"] == "api");
}

TEST_CASE("a TBUCKET_JSON that is neither yes nor no is exit 2 naming the variable",
          "[e2e][json][env]") {
    tb({"create", "api", "--capacity", "5"});
    RunResult r = tb({"info", "api"}, with_env({{"TBUCKET_JSON", "garbage"}}));
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(r.err ==
          "tbucket: error: environment variable TBUCKET_JSON='garbage' is neither yes nor no; "
          "use 1 or 0\n");
    r = tb({"--json", "info", "api"}, with_env({{"TBUCKET_JSON", "garbage"}}));
    CHECK(r.code == 2);
    CHECK(only_json_line(r.err)["message"].get<std::string>().find("TBUCKET_JSON") !=
          std::string::npos);
    CHECK(tb({"info", "api"}, with_env({{"TBUCKET_JSON", "0"}})).out.front() == 'a');
    CHECK(tb({"info", "api"}, with_env({{"TBUCKET_JSON", "yes"}})).out.front() == '{');
}

TEST_CASE("bad names are refused with exit 2 before Redis is touched", "[e2e][usage]") {
    for (const std::string& name :
         std::vector<std::string>{"bad name!", "", "a{b}", "a*", std::string(201, 'a'), "x\x01y"}) {
        RunResult r = tb({"take", name});
        INFO("name: " << name);
        CHECK(r.code == 2);
        CHECK(one_error_line(r.err));
    }
    CHECK(redis().command_calls("evalsha") + redis().command_calls("eval") == 0);
    CHECK(redis().integer({"DBSIZE"}) == 0);
}

TEST_CASE("bad numbers, rates and durations are refused with exit 2", "[e2e][usage]") {
    const std::vector<std::vector<std::string>> cases = {
        {"take", "api", "0"},
        {"take", "api", "1.5"},
        {"take", "api", "9007199254740992"},
        {"take", "api", "abc"},
        {"create", "api", "--capacity", "0"},
        {"create", "api", "--capacity", "5", "--rate", "0/s"},
        {"create", "api", "--capacity", "5", "--rate", "1/0s"},
        {"create", "api", "--capacity", "5", "--rate", "1/s/s"},
        {"create", "api", "--capacity", "5", "--rate", "1/fortnight"},
        {"create", "api", "--capacity", "5", "--expire", "-1s"},
        {"create", "api", "--capacity", "5", "--expire", "0"},
        {"create", "api", "--capacity", "5", "--tokens", "6"},
        {"create", "api", "--capacity", "5", "--update", "--replace"},
        {"take", "api", "--bogus"},
        {"--connect-timeout", "nan", "info", "api"},
        {"frobnicate"},
        {},
    };
    for (const auto& args : cases) {
        RunResult r = tb(args);
        INFO("args: " << Catch::StringMaker<std::vector<std::string>>::convert(args)
                      << " err: " << r.err);
        CHECK(r.code == 2);
        CHECK(one_error_line(r.err));
    }
    CHECK(redis().integer({"DBSIZE"}) == 0);
    CHECK(redis().command_calls("evalsha") + redis().command_calls("eval") == 0);
}

TEST_CASE("reset above capacity is exit 2 and leaves the bucket as it was", "[e2e][reset]") {
    tb({"create", "api", "--capacity", "5", "--tokens", "1"});
    std::string before = redis().dump_hash("tbucket:{api}");
    CHECK(tb({"reset", "api", "--tokens", "6"}).code == 2);
    CHECK(redis().dump_hash("tbucket:{api}") == before);
    RunResult r = tb({"-v", "reset", "api"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::StartsWith("api  5/5 tokens"));
}

TEST_CASE("a key that is not a bucket exits 65 and is left untouched", "[e2e][data]") {
    redis().command({"SET", "tbucket:{str}", "hello"});
    RunResult r = tb({"take", "str"});
    CHECK(r.code == 65);
    CHECK(one_error_line(r.err));
    CHECK(tb({"put", "str", "--capacity", "3"}).code == 65);
    CHECK(tb({"delete", "str"}).code == 65);
    CHECK(redis().string({"GET", "tbucket:{str}"}) == "hello");
}

TEST_CASE("an unreachable server exits 69", "[e2e][faults]") {
    int port = 0;
    {
        tbucket::test::RedisServer gone;
        port = gone.port();
    }
    RunResult r =
        tbucket::test::tbucket({"-u", "redis://127.0.0.1:" + std::to_string(port), "info", "api"});
    CHECK(r.code == 69);
    CHECK(one_error_line(r.err));
    CHECK_THAT(r.err, Catch::Contains("127.0.0.1:" + std::to_string(port)));
}

TEST_CASE("a wrong password exits 77 and is never printed", "[e2e][auth]") {
    tbucket::test::RedisServer server({"--requirepass", "s3cret"});
    std::string url = "redis://:wrongpw@127.0.0.1:" + std::to_string(server.port());
    RunResult r = tbucket::test::tbucket({"-u", url, "info", "api"});
    CHECK(r.code == 77);
    CHECK(r.out.find("wrongpw") == std::string::npos);
    CHECK(r.err.find("wrongpw") == std::string::npos);
    r = tbucket::test::tbucket({"--json", "-u", url, "info", "api"});
    CHECK(r.code == 77);
    CHECK(r.err.find("wrongpw") == std::string::npos);
    r = tbucket::test::tbucket(
        {"-u", "redis://127.0.0.1:" + std::to_string(server.port()), "info", "api"});
    CHECK(r.code == 77);
}

TEST_CASE("no password for a server that needs one says so, for short and long commands",
          "[e2e][auth]") {
    tbucket::test::RedisServer server({"--requirepass", "s3cret"});
    std::string url = "redis://127.0.0.1:" + std::to_string(server.port());
    // A take sends the whole script (EVAL after NOSCRIPT): Redis 7 answers
    // that long command with "unauthenticated multibulk length".
    for (std::vector<std::string> args :
         {std::vector<std::string>{"info", "api"}, {"take", "api", "--capacity", "5"}}) {
        args.insert(args.begin(), {"-u", url});
        RunResult r = tbucket::test::tbucket(args);
        INFO(r.err);
        CHECK(r.code == 77);
        CHECK_THAT(r.err, Catch::Contains("needs a password"));
        CHECK(r.err.find("multibulk") == std::string::npos);
    }
}

TEST_CASE("a password in the URL works and draws a warning", "[e2e][auth]") {
    tbucket::test::RedisServer server({"--requirepass", "s3cret"});
    std::string url = "redis://:s3cret@127.0.0.1:" + std::to_string(server.port()) + "/2";
    RunResult r = tbucket::test::tbucket({"-u", url, "create", "api", "--capacity", "1"});
    CHECK(r.code == 0);
    CHECK_THAT(r.err, Catch::Contains("warning"));
    CHECK(r.err.find("s3cret") == std::string::npos);
    CHECK(r.out.find("s3cret") == std::string::npos);
}

TEST_CASE("passwords come from the environment and --password-file", "[e2e][auth][env]") {
    tbucket::test::RedisServer server({"--requirepass", "s3cret"});
    std::string url = "redis://127.0.0.1:" + std::to_string(server.port());
    CHECK(tbucket::test::tbucket({"-u", url, "create", "a", "--capacity", "1"},
                                 with_env({{"TBUCKET_PASSWORD", "s3cret"}}))
              .code == 0);
    CHECK(tbucket::test::tbucket({"-u", url, "info", "a"}, with_env({{"REDISCLI_AUTH", "s3cret"}}))
              .code == 0);
    std::string file = server.dir() + "/pw";
    std::ofstream(file) << "s3cret\n";
    RunResult r = tbucket::test::tbucket({"-u", url, "--password-file", file, "info", "a"});
    CHECK(r.code == 0);
    CHECK(r.err.empty());
    CHECK(
        tbucket::test::tbucket({"-u", url, "--password-file", "/nonexistent", "info", "a"}).code ==
        2);
}

TEST_CASE("the URL comes from TBUCKET_URL, then REDIS_URL", "[e2e][env]") {
    tbucket::test::tbucket({"-u", redis().url(), "create", "api", "--capacity", "1"});
    CHECK(
        tbucket::test::tbucket({"info", "api"}, with_env({{"TBUCKET_URL", redis().url()}})).code ==
        0);
    CHECK(tbucket::test::tbucket({"info", "api"}, with_env({{"REDIS_URL", redis().url()}})).code ==
          0);
    CHECK(tbucket::test::tbucket({"info", "api"}, with_env({{"TBUCKET_URL", redis().url()},
                                                            {"REDIS_URL", "redis://127.0.0.1:1"}}))
              .code == 0);
}

TEST_CASE("bad URLs exit 2 with one line", "[e2e][usage][url]") {
    for (const char* url : {"http://x", "redis://127.0.0.1:0", "redis://127.0.0.1:99999",
                            "redis://h/x", "redis://", "rediss://127.0.0.1:99999", "rediss://"}) {
        RunResult r = tbucket::test::tbucket({"-u", url, "info", "api"});
        INFO(url);
        CHECK(r.code == 2);
        CHECK(one_error_line(r.err));
    }
}

TEST_CASE("the prefix option and TBUCKET_PREFIX choose the key prefix", "[e2e][env]") {
    CHECK(tb({"--prefix", "rl:", "create", "api", "--capacity", "1"}).code == 0);
    CHECK(redis().integer({"EXISTS", "rl:{api}"}) == 1);
    CHECK(tb({"info", "api"}, with_env({{"TBUCKET_PREFIX", "rl:"}})).code == 0);
    CHECK(tb({"info", "api"}).code == 3);
    CHECK(tb({"--prefix", "a{b", "info", "api"}).code == 2);
}

TEST_CASE("list names buckets, and with --json their states", "[e2e][list]") {
    tb({"create", "b", "--capacity", "1"});
    tb({"create", "a", "--capacity", "2"});
    tb({"create", "c:1", "--capacity", "3"});
    RunResult r = tb({"list"});
    CHECK(r.code == 0);
    CHECK(r.out == "a\nb\nc:1\n");
    CHECK(tb({"list", "c:*"}).out == "c:1\n");
    std::vector<json> lines = json_lines(tb({"--json", "list"}).out);
    REQUIRE(lines.size() == 3);
    CHECK(lines[1]["name"] == "b");
    CHECK(lines[2]["capacity"] == 3);
    CHECK(redis().command_calls("keys") == 0);
}

TEST_CASE("delete removes buckets and exits 3 for a missing one", "[e2e][delete]") {
    tb({"create", "a", "--capacity", "1"});
    tb({"create", "b", "--capacity", "1"});
    RunResult r = tb({"delete", "a", "b"});
    CHECK(r.code == 0);
    CHECK(r.out == "deleted a\ndeleted b\n");
    CHECK(redis().integer({"EXISTS", "tbucket:{a}", "tbucket:{b}"}) == 0);
    CHECK(tb({"delete", "a"}).code == 3);
}

TEST_CASE("quiet mode prints nothing on success", "[e2e][quiet]") {
    RunResult r = tb({"-q", "create", "api", "--capacity", "1"});
    CHECK(r.code == 0);
    CHECK(r.out.empty());
    r = tb({"-q", "take", "api"});
    CHECK(r.out.empty());
    r = tb({"-q", "take", "api"});
    CHECK(r.code == 1);
    CHECK(r.out.empty());
    CHECK(r.err.empty());
}

TEST_CASE("global options work after the command too", "[e2e][help]") {
    tb({"create", "api", "--capacity", "1"});
    RunResult r = tbucket::test::tbucket({"info", "api", "--json", "-u", redis().url()});
    CHECK(r.code == 0);
    CHECK(only_json_line(r.out)["name"] == "api");
}

TEST_CASE("a non-waiting command costs one command in Redis", "[e2e][roundtrip]") {
    tb({"create", "api", "--capacity", "5"});
    tb({"take", "api"});  // the server now has the script cached
    redis().command({"CONFIG", "RESETSTAT"});
    CHECK(tb({"take", "api"}).code == 0);
    CHECK(redis().command_calls("evalsha") == 1);
    CHECK(redis().command_calls("eval") == 0);
    CHECK(redis().command_calls("ping") == 0);
    CHECK(redis().command_calls("hello") == 0);
    CHECK(redis().command_calls("script|exists") == 0);
}

// `[-u URL] take|put NAME [N]` skips CLI11 (main.cpp, run_short_form); a
// global option sends the same words through CLI11. Both must answer the
// same, from the same state, byte for byte.
TEST_CASE("the short form of take and put answers exactly as the full parser does",
          "[e2e][short]") {
    const std::vector<std::vector<std::string>> cases{
        {"take", "sf"},
        {"take", "sf", "3"},
        {"take", "sf", "7"},
        {"take", "sf", "0"},
        {"take", "sf", "11"},
        {"put", "sf"},
        {"put", "sf", "9"},
        {"take", "nosuch"},
        {"take", "bad name"},
        {"put", "sf", "0"},
        {"take", "sf", "007"},
        {"put", "nosuch", "1"},
        {"take", "sf", "99999999999999999999"},
        {"take", "{sf}"},
        {"take", "sf", "1", "2"},
    };
    for (const auto& words : cases) {
        std::vector<RunResult> answers;
        for (bool full : {false, true}) {
            REQUIRE(tb({"create", "sf", "--capacity", "10"}).code == 0);
            REQUIRE(tb({"reset", "sf", "--tokens", "5"}).code == 0);
            std::vector<std::string> args{"-u", redis().url()};
            if (full)
                args.insert(args.end(),
                            {"--timeout-io", "5s"});  // any option turns the short form off
            args.insert(args.end(), words.begin(), words.end());
            answers.push_back(tbucket::test::tbucket(args));
            answers.back().out += "| level " + redis().string({"HGET", "tbucket:{sf}", "t"});
        }
        INFO("tbucket " << words[0] << " " << words[1] << (words.size() > 2 ? " " + words[2] : ""));
        CHECK(answers[0].code == answers[1].code);
        CHECK(answers[0].out == answers[1].out);
        CHECK(answers[0].err == answers[1].err);
    }
}

// redis-cli's -h, -p, -n and -a, and --help as the only help.

TEST_CASE("the options -h and -p name the server, as in redis-cli, and take takes",
          "[e2e][redis-cli]") {
    std::string port = std::to_string(redis().port());
    RunResult r = tbucket::test::tbucket(
        {"-v", "-h", "127.0.0.1", "-p", port, "take", "api", "--capacity", "5"});
    CHECK(r.code == 0);
    CHECK(r.out == "api  4/5 tokens  semaphore: no refill\n");
    CHECK(r.err.empty());
}

TEST_CASE("the option -h to a server nobody listens on exits 69, so && goes no further",
          "[e2e][redis-cli][faults]") {
    std::string port = std::to_string(tbucket::test::free_port());
    RunResult r = tbucket::test::tbucket({"-h", "127.0.0.1", "-p", port, "take", "api"});
    CHECK(r.code == 69);
    CHECK(r.out.empty());
    CHECK(one_error_line(r.err));
    CHECK_THAT(r.err, Catch::Contains("127.0.0.1:" + port));
}

TEST_CASE("the options -p and -n override the port and database of the URL", "[e2e][redis-cli]") {
    std::string port = std::to_string(redis().port());
    std::string elsewhere =
        "redis://127.0.0.1:" + std::to_string(tbucket::test::free_port()) + "/0";
    RunResult r = tbucket::test::tbucket(
        {"-u", elsewhere, "-p", port, "-n", "3", "create", "api", "--capacity", "2"});
    CHECK(r.code == 0);
    CHECK(redis().integer({"EXISTS", "tbucket:{api}"}) == 0);  // not in database 0
    r = tbucket::test::tbucket({"-u", redis().url() + "/3", "info", "api"});
    CHECK(r.code == 0);
    CHECK(r.out == "api  2/2 tokens  semaphore: no refill\n");
}

TEST_CASE("the option -p overrides the port of TBUCKET_URL", "[e2e][redis-cli]") {
    std::string elsewhere = "redis://127.0.0.1:" + std::to_string(tbucket::test::free_port());
    RunResult r = tbucket::test::tbucket(
        {"-p", std::to_string(redis().port()), "create", "api", "--capacity", "1"},
        with_env({{"TBUCKET_URL", elsewhere}}));
    CHECK(r.code == 0);
    CHECK(r.err.empty());
}

TEST_CASE("the option -a PASSWORD is refused with exit 2 and a hint, and never printed",
          "[e2e][redis-cli][auth]") {
    RunResult r = tb({"-a", "s3cret", "take", "api", "--capacity", "1"});
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(one_error_line(r.err));
    CHECK_THAT(r.err, Catch::Contains("REDISCLI_AUTH") && Catch::Contains("--password-file"));
    CHECK_THAT(r.err, !Catch::Contains("s3cret"));
    CHECK(redis().integer({"EXISTS", "tbucket:{api}"}) == 0);
}

TEST_CASE(
    "the option --help with a command that would act prints the help, does nothing and exits 2",
    "[e2e][help]") {
    REQUIRE(tb({"create", "api", "--capacity", "5"}).code == 0);
    RunResult r = tb({"take", "api", "--help"});
    CHECK(r.code == 2);
    CHECK_THAT(r.out, Catch::StartsWith("Take N tokens"));
    CHECK(one_error_line(r.err));
    CHECK_THAT(r.err, Catch::Contains("--help"));
    r = tb({"--help", "run", "api", "--", "true"});
    CHECK(r.code == 2);
    CHECK(one_error_line(r.err));
    CHECK(tb({"info", "api"}).out == "api  5/5 tokens  semaphore: no refill\n");
}

TEST_CASE("the option --help alone, or with a command and no arguments, exits 0", "[e2e][help]") {
    for (std::vector<std::string> args :
         {std::vector<std::string>{"--help"}, {"take", "--help"}, {"-q", "run", "--help"}}) {
        RunResult r = tbucket::test::tbucket(args);
        CHECK(r.code == 0);
        CHECK_THAT(r.out, Catch::Contains("Usage: tbucket"));
        CHECK(r.err.empty());
    }
}

TEST_CASE("TLS without tbucket-tls beside a copied binary exits 69 saying where it looked",
          "[e2e][tls]") {
    char pattern[] = "/tmp/tbucket-copy-XXXXXX";
    REQUIRE(mkdtemp(pattern));
    std::string dir = pattern, copy = dir + "/tbucket";
    REQUIRE(tbucket::test::run({"cp", tbucket::test::tbucket_path(), copy}).code == 0);
    RunResult r = tbucket::test::run({copy, "--tls", "-u", redis().url(), "info", "api"});
    std::filesystem::remove_all(dir);
    CHECK(r.code == 69);
    CHECK(r.out.empty());
    CHECK(one_error_line(r.err));
    CHECK_THAT(r.err, Catch::Contains(dir + "/tbucket-tls"));
    CHECK_THAT(r.err, !Catch::Contains("internal error"));
}

// run --fail-open: a Redis outage runs the command instead of skipping it.

namespace {

std::string unreachable_url() {
    return "redis://127.0.0.1:" + std::to_string(tbucket::test::free_port());
}

}  // namespace

TEST_CASE("run --fail-open runs the command when Redis is unreachable, after one warning",
          "[e2e][run][fail-open]") {
    RunResult r = tbucket::test::tbucket(
        {"-u", unreachable_url(), "run", "api", "--fail-open", "--", "echo", "hi"});
    CHECK(r.code == 0);
    CHECK(r.out == "hi\n");
    CHECK_THAT(r.err, Catch::StartsWith("tbucket: warning: Redis unavailable (cannot connect"));
    CHECK_THAT(r.err, Catch::EndsWith("); running the command anyway (--fail-open)\n"));
    CHECK(r.err.find('\n') == r.err.size() - 1);
}

TEST_CASE("TBUCKET_FAIL_OPEN=1 runs the command through an outage, with its own exit status",
          "[e2e][run][fail-open]") {
    RunResult r = tbucket::test::tbucket(
        {"-u", unreachable_url(), "run", "api", "--", "sh", "-c", "echo ran; exit 7"},
        with_env({{"TBUCKET_FAIL_OPEN", "1"}}));
    CHECK(r.code == 7);
    CHECK(r.out == "ran\n");
    CHECK_THAT(r.err, Catch::Contains("--fail-open"));
}

TEST_CASE("run without --fail-open skips the command when Redis is unreachable: exit 69",
          "[e2e][run][fail-open]") {
    RunResult r =
        tbucket::test::tbucket({"-u", unreachable_url(), "run", "api", "--", "echo", "hi"});
    CHECK(r.code == 69);
    CHECK(r.out.empty());
    CHECK(one_error_line(r.err));
}

TEST_CASE("run --fail-open does not run the command when denied: exit 75",
          "[e2e][run][fail-open]") {
    REQUIRE(tb({"create", "api", "--capacity", "1", "--tokens", "0"}).code == 0);
    RunResult r = tb({"run", "api", "--fail-open", "--", "echo", "hi"});
    CHECK(r.code == 75);
    CHECK(r.out.empty());
    CHECK_THAT(r.err, Catch::StartsWith("tbucket: denied: "));
    CHECK_THAT(r.err, !Catch::Contains("--fail-open"));
}

TEST_CASE("a TBUCKET_FAIL_OPEN that is neither yes nor no is exit 2 naming it",
          "[e2e][run][fail-open]") {
    RunResult r =
        tb({"run", "api", "--", "echo", "hi"}, with_env({{"TBUCKET_FAIL_OPEN", "maybe"}}));
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(one_error_line(r.err));
    CHECK_THAT(r.err, Catch::Contains("TBUCKET_FAIL_OPEN"));
}

// Mistyped command lines get a hint, not CLI11's words.

TEST_CASE("run with its command but no -- says where the -- goes", "[e2e][run][usage]") {
    for (auto [args, hint] : std::vector<std::pair<std::vector<std::string>, std::string>>{
             {{"run", "api", "echo", "hi"}, "tbucket run api -- echo hi"},
             {{"run", "api", "2", "echo", "hi"}, "tbucket run api 2 -- echo hi"},
             {{"run", "api", "echo"}, "tbucket run api -- echo"}}) {
        RunResult r = tb(args);
        CHECK(r.code == 2);
        CHECK(r.out.empty());
        CHECK(r.err == "tbucket: error: put the command after --: " + hint + "\n");
    }
    CHECK(redis().integer({"EXISTS", "tbucket:{api}"}) == 0);
}

TEST_CASE("an unknown command names the nearest one", "[e2e][usage]") {
    RunResult r = tb({"tkae", "api"});
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(r.err ==
          "tbucket: error: unknown command 'tkae'; did you mean take? (see tbucket --help)\n");
    r = tb({"frobnicate"});
    CHECK(r.code == 2);
    CHECK(r.err == "tbucket: error: unknown command 'frobnicate' (see tbucket --help)\n");
}

TEST_CASE("an unknown option names the nearest option of the command", "[e2e][usage]") {
    RunResult r = tb({"take", "api", "--wiat", "5m"});
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(
        r.err ==
        "tbucket: error: unknown option --wiat; did you mean --wait? (see tbucket take --help)\n");
    r = tb({"put", "api", "--jsno"});
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("did you mean --json?"));
    CHECK(redis().integer({"EXISTS", "tbucket:{api}"}) == 0);
}

TEST_CASE("the option --rate accepts sec, second, min, minute, hour, day and their plurals",
          "[e2e][create][rate]") {
    for (auto [rate, shown] :
         std::vector<std::pair<std::string, std::string>>{{"10/sec", "10/s"},
                                                          {"10/seconds", "10/s"},
                                                          {"100/mins", "100/min"},
                                                          {"100/minute", "100/min"},
                                                          {"2/hours", "2/h"},
                                                          {"5/day", "5/d"},
                                                          {"3/1min30sec", "3/1m30s"}}) {
        RunResult r = tb({"-v", "create", "r", "--capacity", "5", "--rate", rate, "--replace"});
        CHECK(r.code == 0);
        CHECK_THAT(r.out, Catch::Contains("refill " + shown + " "));
    }
}

TEST_CASE("a rate with an unknown unit is one clean line naming it and the units",
          "[e2e][create][rate][usage]") {
    RunResult r = tb({"create", "r", "--capacity", "5", "--rate", "10/fortnight"});
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(r.err ==
          "tbucket: error: rate '10/fortnight': period has an unknown unit 'fortnight'; the units "
          "are ms, s, sec, secs, second, seconds, m, min, mins, minute, minutes, h, hour, hours, "
          "d, day, days\n");
}

TEST_CASE("run --help has one usage line, with the command after --", "[e2e][help]") {
    RunResult r = tbucket::test::tbucket({"run", "--help"});
    CHECK(r.code == 0);
    std::size_t usage = r.out.find("Usage:");
    CHECK(usage != std::string::npos);
    CHECK(r.out.find("Usage:", usage + 1) == std::string::npos);
    CHECK_THAT(r.out, Catch::Contains("Usage: tbucket run [OPTIONS] NAME [N] -- CMD [ARGS...]\n"));
}

TEST_CASE("the option --help shows value names, not CLI11's types, defaults or (Env:...)",
          "[e2e][help]") {
    RunResult r = tbucket::test::tbucket({"--help"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("--prefix PREFIX "));
    CHECK_THAT(r.out, Catch::Contains("-E,--denied-exit N "));
    CHECK_THAT(r.out, Catch::Contains("env TBUCKET_PREFIX"));
    for (const char* noise : {"(Env:", "TEXT", ":INT", "REQUIRED", "Needs:", "Excludes:"})
        CHECK_THAT(r.out, !Catch::Contains(noise));
}

TEST_CASE("tbucket --help ends with examples", "[e2e][help]") {
    RunResult r = tbucket::test::tbucket({"--help"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("Examples:\n  tbucket take api --capacity 10 --rate 10/min"));
    CHECK_THAT(r.out, Catch::Contains("tbucket run deploys --wait 5m -- ./deploy.sh"));
    CHECK_THAT(tbucket::test::tbucket({"take", "--help"}).out, !Catch::Contains("Examples:"));
}

TEST_CASE("an option of a command written before the command says where it goes", "[e2e][usage]") {
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    for (const Case& c : {Case{{"--lease", "3s", "run", "x", "--", "true"},
                               "--lease is an option of 'run': put it after 'run'"},
                          Case{{"--fail-open", "run", "x", "--", "true"},
                               "--fail-open is an option of 'run': put it after 'run'"},
                          Case{{"--ttl=3s", "lease", "take", "x"},
                               "--ttl is an option of 'lease take': put it after 'lease take'"}}) {
        RunResult r = tbucket::test::tbucket(c.args);
        INFO(r.err);
        CHECK(r.code == 2);
        CHECK(r.err == "tbucket: error: " + c.message + "\n");
    }
}

TEST_CASE("quiet where scripts run: a loop of takes prints nothing, -v and --json print",
          "[e2e][quiet]") {
    REQUIRE(tb({"create", "loop", "--capacity", "3"}).out.empty());
    // A producer | while read loop: the data stays the data.
    RunResult loop = tbucket::test::run(
        {"sh", "-c",
         "printf 'a\\nb\\nc\\n' | while read x; do \"$0\" -u \"$1\" take loop && echo \"$x\"; done",
         tbucket::test::tbucket_path(), redis().url()});
    CHECK(loop.code == 0);
    CHECK(loop.out == "a\nb\nc\n");
    CHECK(loop.err.empty());
    CHECK(tb({"put", "loop", "3"}).out.empty());
    CHECK(tb({"reset", "loop"}).out.empty());
    CHECK(tb({"-v", "take", "loop"}).out == "loop  2/3 tokens  semaphore: no refill\n");
    // --json prints its object, -q or not.
    RunResult j = tb({"-q", "--json", "take", "loop"});
    CHECK(j.code == 0);
    CHECK(json::parse(j.out)["ok"] == true);
}

TEST_CASE("quiet (-q): a denial and a timed-out wait print nothing, and the exit status tells them",
          "[e2e][quiet]") {
    REQUIRE(tb({"create", "none", "--capacity", "1", "--tokens", "0"}).code == 0);
    RunResult denied = tb({"take", "none"});
    CHECK(denied.code == 1);
    CHECK_THAT(denied.err, Catch::StartsWith("tbucket: denied: "));
    RunResult quiet_denied = tb({"-q", "take", "none"});
    CHECK(quiet_denied.code == 1);
    CHECK(quiet_denied.out.empty());
    CHECK(quiet_denied.err.empty());
    RunResult timed_out = tb({"take", "none", "--wait=100ms"});
    CHECK(timed_out.code == 124);
    CHECK_THAT(timed_out.err, Catch::Contains("timed out"));
    RunResult quiet_timed_out = tb({"-q", "take", "none", "--wait=100ms"});
    CHECK(quiet_timed_out.code == 124);
    CHECK(quiet_timed_out.err.empty());
    RunResult run_denied = tb({"-q", "run", "none", "--", "true"});
    CHECK(run_denied.code == 75);
    CHECK(run_denied.err.empty());
    // An error is no throttle's outcome: it prints, -q or not.
    RunResult error = tb({"-q", "take", "no-such"});
    CHECK(error.code == 3);
    CHECK_THAT(error.err, Catch::StartsWith("tbucket: error: "));
}

TEST_CASE("tbucket alone prints its usage on stderr (exit 2); help [COMMAND] on stdout (exit 0)",
          "[e2e][usage]") {
    RunResult bare = tbucket::test::tbucket({});
    CHECK(bare.code == 2);
    CHECK(bare.out.empty());
    CHECK_THAT(bare.err, Catch::Contains("Subcommands:") && Catch::Contains("take"));
    RunResult help = tbucket::test::tbucket({"help"});
    CHECK(help.code == 0);
    CHECK(help.out == tbucket::test::tbucket({"--help"}).out);
    RunResult take = tbucket::test::tbucket({"help", "take"});
    CHECK(take.code == 0);
    CHECK(take.out == tbucket::test::tbucket({"take", "--help"}).out);
    CHECK(tbucket::test::tbucket({"help", "lease", "take"}).out ==
          tbucket::test::tbucket({"lease", "take", "--help"}).out);
    RunResult unknown = tbucket::test::tbucket({"help", "nosuch"});
    CHECK(unknown.code == 2);
    CHECK(tbucket::test::one_error_line(unknown.err));
}

TEST_CASE("one word per idea: --wait on watch, --ttl on run, and no bare number after --wait",
          "[e2e][usage]") {
    redis().flush();
    REQUIRE(tb({"create", "w1", "--capacity", "2", "--tokens", "0"}).code == 0);
    // watch --wait D is --timeout D (kept as an alias).
    CHECK(tb({"watch", "w1", "--wait", "0"}).code == 124);
    CHECK(tb({"watch", "w1", "--timeout", "0"}).code == 124);
    // A bare number after --wait: seconds, or a count? Refused, Redis untouched.
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"take", "api", "--wait", "3"}, {"run", "api", "--wait", "3", "--", "true"}}) {
        RunResult r = tb(args);
        INFO(describe(r));
        CHECK(r.code == 2);
        CHECK(r.err ==
              "tbucket: error: --wait 3 is ambiguous: write --wait=3s, or put the count "
              "first: " +
                  args[0] + " api 3 --wait\n");
    }
    CHECK(redis().integer({"EXISTS", "tbucket:{api}"}) == 0);
    // run --ttl is how long the lease lives, as lease take --ttl; --lease stays.
    REQUIRE(tb({"create", "t1", "--capacity", "1"}).code == 0);
    RunResult held =
        tb({"run", "t1", "--ttl", "7s", "--", "sh", "-c", "\"$0\" -u \"$1\" --json lease list t1",
            tbucket::test::tbucket_path(), redis().url()});
    INFO(describe(held));
    REQUIRE(held.code == 0);
    json lease = json::parse(held.out);  // one line per lease
    CHECK(lease["ends_in_ms"] > 0);
    CHECK(lease["ends_in_ms"] <= 7000);
    RunResult bad = tb({"run", "t1", "--ttl", "0", "--", "true"});
    CHECK(bad.code == 2);
    CHECK_THAT(bad.err, Catch::Contains("--ttl"));
    CHECK(tb({"run", "t1", "--lease", "2s", "--", "true"}).code == 0);
}

TEST_CASE("failing open on take, watch --take and lease take: Redis down is a warning and exit 0",
          "[e2e][fail-open]") {
    const std::string down = "redis://127.0.0.1:" + std::to_string(tbucket::test::free_port());
    for (const auto& args :
         std::vector<std::vector<std::string>>{{"take", "x", "--fail-open"},
                                               {"watch", "x", "--take", "--fail-open"},
                                               {"lease", "take", "x", "--fail-open"}}) {
        RunResult r = tb(down, args);
        INFO(describe(r));
        CHECK(r.code == 0);
        CHECK(r.out.empty());
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK_THAT(r.err, Catch::StartsWith("tbucket: warning: Redis unavailable (") &&
                              Catch::EndsWith("(--fail-open)\n"));
    }
    CHECK(tb(down, {"take", "x"}).code == 69);
    CHECK(tb(down, {"take", "x"}, with_env({{"TBUCKET_FAIL_OPEN", "1"}})).code == 0);
    // A denial is no outage: --fail-open changes nothing.
    redis().flush();
    REQUIRE(tb({"create", "f1", "--capacity", "1", "--tokens", "0"}).code == 0);
    CHECK(tb({"take", "f1", "--fail-open"}).code == 1);
    RunResult watch_only = tb({"watch", "f1", "--fail-open", "--wait", "0"});
    CHECK(watch_only.code == 2);
}

TEST_CASE(
    "a dry run says whether a take would be granted now (exit 0 or 1), taking and counting nothing",
    "[e2e][dry-run]") {
    redis().flush();
    REQUIRE(tb({"create", "d1", "--capacity", "5", "--tokens", "3"}).code == 0);
    const std::string before = redis().dump_hash("tbucket:{d1}");
    RunResult yes = tb({"take", "d1", "3", "--dry-run"});
    INFO(describe(yes));
    CHECK(yes.code == 0);
    CHECK(yes.out.empty());  // quiet where scripts run
    RunResult no = tb({"take", "d1", "4", "--dry-run"});
    INFO(describe(no));
    CHECK(no.code == 1);
    CHECK_THAT(no.err, Catch::StartsWith("tbucket: dry run: denied: 4 tokens asked, 3 tokens"));
    CHECK(tb({"-q", "take", "d1", "4", "--dry-run"}).err.empty());
    RunResult j = tb({"--json", "take", "d1", "3", "--dry-run"});
    json answer = json::parse(j.out);
    CHECK(answer["dry_run"] == true);
    CHECK(answer["ok"] == true);
    CHECK(answer["taken"] == 0);
    CHECK(answer["tokens"] == 3);
    // run --dry-run runs nothing.
    const std::string marker = tbucket::test::TempDir("dry").path + "-ran";
    CHECK(tb({"run", "d1", "--dry-run", "--", "touch", marker}).code == 0);
    CHECK(tb({"run", "d1", "4", "--dry-run", "--", "touch", marker}).code == 1);
    CHECK_FALSE(std::filesystem::exists(marker));
    // Lists: all or none, the refusers named.
    REQUIRE(tb({"create", "d2", "--capacity", "1", "--tokens", "0"}).code == 0);
    RunResult list = tb({"take", "d1,d2", "--dry-run"});
    CHECK(list.code == 1);
    CHECK_THAT(list.err, Catch::Contains("'d2'") && !Catch::Contains("'d1'"));
    CHECK(tb({"take", "d1", "--dry-run", "--wait"}).code == 2);
    // Not a token moved, not a grant or denial counted.
    CHECK(redis().dump_hash("tbucket:{d1}") == before);
}
