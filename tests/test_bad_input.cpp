// Bad input, end to end: every malformed name, number, rate, duration, URL
// and option is refused with exit 2, one "tbucket: error:" line naming the
// problem, nothing on stdout, and Redis exactly as it was. Keys that are not
// buckets are refused with exit 65 and left byte for byte as they were. The
// Lua scripts check their own arguments too, for callers other than us.

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>

#include "bucket/script.h"
#include "support/e2e.h"
#include "util/parse.h"

using tbucket::test::redis;
using tbucket::test::RunOptions;
using tbucket::test::RunResult;

namespace {

// Everything a command could change in Redis, and what it sent there.
struct Snapshot {
    std::string keys;  // each key with its type, TTL and DUMP bytes
    long long script_calls = 0;
    long long connections = 0;
    bool operator==(const Snapshot&) const = default;
};

Snapshot snapshot() {
    Snapshot s;
    tbucket::Reply reply = redis().command({"KEYS", "*"});
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < reply->elements; ++i)
        keys.emplace_back(reply->element[i]->str, reply->element[i]->len);
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys) {
        // A request id is remembered for a while after a change; the change
        // itself shows in the bucket.
        if (key.find(":id:") != std::string::npos) continue;
        std::string type = redis().string({"TYPE", key});
        s.keys += key + " " + type + " pttl=" + std::to_string(redis().integer({"PTTL", key}));
        if (type == "hash") s.keys += " {" + redis().dump_hash(key) + "}";
        s.keys += " dump=" + redis().string({"DUMP", key}) + "\n";
    }
    s.script_calls = redis().command_calls("evalsha") + redis().command_calls("eval");
    s.connections = std::stoll(redis().info_field("stats", "total_connections_received"));
    return s;
}

// A few buckets for bad commands to (not) touch. No expiry: TTLs stay -1.
void make_buckets() {
    const std::string url = redis().url();
    for (std::vector<std::string> args :
         {std::vector<std::string>{"create", "b", "--capacity", "5", "--tokens", "1"},
          {"create", "api", "--capacity", "10", "--rate", "1/s", "--tokens", "3"},
          {"create", "sem", "--capacity", "3"}}) {
        REQUIRE(tbucket::test::run(tbucket::test::tb_argv(url, args)).code == 0);
    }
}

struct Case {
    std::vector<std::string> args;
    std::string needle;    // what the message must name; alternatives split by \n
    bool own_url = false;  // the case gives its own -u (else the test server's)
    std::map<std::string, std::string> env = {};
    bool reaches_redis = false;  // only the bucket knows its capacity
};

std::string printable(const std::vector<std::string>& args) {
    std::string out;
    for (const std::string& a : args) out += " '" + tbucket::printable(a) + "'";
    return out.size() > 300 ? out.substr(0, 300) + "..." : out;
}

bool names(const std::string& err, const std::string& needles) {
    std::size_t start = 0;
    while (start <= needles.size()) {
        std::size_t bar = needles.find('\n', start);
        if (bar == std::string::npos) bar = needles.size();
        if (err.find(needles.substr(start, bar - start)) != std::string::npos) return true;
        start = bar + 1;
    }
    return false;
}

RunResult run_case(const Case& c) {
    std::vector<std::string> args = c.args;
    for (std::string& a : args) {
        std::size_t at = a.find("%PORT%");
        if (at != std::string::npos) a.replace(at, 6, std::to_string(redis().port()));
    }
    if (!c.own_url) args.insert(args.begin(), {"-u", redis().url()});
    RunOptions options = tbucket::test::with_env(c.env);
    options.timeout_s = 10;
    return tbucket::test::tbucket(args, options);
}

// Runs each case and checks the usage-error contract; returns how many ran.
int check_usage_cases(const std::vector<Case>& cases) {
    make_buckets();
    Snapshot before = snapshot();
    int ran = 0;
    for (const Case& c : cases) {
        RunResult r = run_case(c);
        ++ran;
        INFO("args:" << printable(c.args) << "\nexit " << r.code << "\nstdout: " << r.out
                     << "\nstderr: " << r.err);
        CHECK(r.code == 2);
        CHECK(r.out.empty());
        CHECK(tbucket::test::one_error_line(r.err));
        CHECK(names(r.err, c.needle));
        Snapshot after = snapshot();
        if (c.reaches_redis) {
            CHECK(after.keys == before.keys);
        } else {
            CHECK(after == before);
        }
        if (after.keys != before.keys) {  // start the next case from a clean slate
            redis().flush();
            make_buckets();
        }
        before = snapshot();
    }
    return ran;
}

const std::vector<Case>& usage_cases() {
    static const std::vector<Case> cases = {
        // Names: 1-200 bytes of A-Z a-z 0-9 . _ - : / @ +, the offending byte named.
        {{"take", ""}, "bucket name is empty"},
        {{"take", "a b"}, "a space"},
        {{"take", "a{b"}, "'{'"},
        {{"take", "a}b"}, "'}'"},
        {{"take", "a*"}, "'*'"},
        {{"take", "a?"}, "'?'"},
        {{"take", "a[1]"}, "'['"},
        {{"take", "a]"}, "']'"},
        {{"take", "x\x01y"}, "byte 0x01"},
        {{"take", "x\ny"}, "byte 0x0a"},
        {{"take", "x\x7fy"}, "byte 0x7f"},
        {{"take", "\xff\xfe"}, "byte 0xff"},
        {{"take", "caf\xc3\xa9"}, "byte 0xc3"},
        {{"take", std::string(201, 'a')}, "201 bytes"},
        {{"put", "a b"}, "a space"},
        {{"info", "b", "a*"}, "'*'"},
        {{"delete", "b", "x{y}"}, "'{'"},
        {{"reset", "a;b"}, "';'"},
        {{"watch", "a\"b"}, "'\"'"},
        {{"create", "a/b\\c", "--capacity", "5"}, "'\\'"},
        {{"run", "a|b", "--", "true"}, "'|'"},
        {{"list", "a b"}, "a space"},
        {{"list", "a{"}, "'{'"},
        // Counts: whole numbers 1..2^53-1 (--tokens from 0).
        {{"take", "b", "0"}, "at least 1"},
        {{"take", "b", "-3"}, "'-3'"},
        {{"take", "b", "1.5"}, "'1.5'"},
        {{"take", "b", "9007199254740992"}, "above 9007199254740991"},
        {{"take", "b", "abc"}, "'abc'"},
        {{"take", "b", "1e3x"}, "'1e3x'"},
        {{"take", "b", "NaN"}, "'NaN'"},
        {{"take", "b", "inf"}, "'inf'"},
        {{"put", "b", "0x10"}, "'0x10'"},
        {{"put", "b", " 1"}, "' 1'"},
        {{"watch", "b", "99999999999999999999"}, "above 9007199254740991"},
        {{"create", "n", "--capacity", "0"}, "--capacity must be at least 1"},
        {{"create", "n", "--capacity", "1.5"}, "--capacity '1.5'"},
        {{"create", "n", "--capacity", "5", "--tokens", "-1"}, "--tokens '-1'"},
        {{"create", "n", "--capacity", "5", "--tokens", "6"}, "--tokens 6 is above --capacity 5"},
        {{"take", "n", "--capacity", "9007199254740992"}, "--capacity '9007199254740992'"},
        {{"reset", "b", "--tokens", "2.5"}, "--tokens '2.5'"},
        {{"reset", "b", "--tokens", "6"}, "above the capacity 5", false, {}, true},
        // Rates: AMOUNT/PERIOD, amount a positive decimal <= 1e15, period > 0.
        {{"create", "n", "--capacity", "5", "--rate", "0/s"}, "amount must be above 0"},
        {{"create", "n", "--capacity", "5", "--rate", "-1/s"}, "amount '-1'"},
        {{"create", "n", "--capacity", "5", "--rate", "1/0s"}, "period is zero"},
        {{"create", "n", "--capacity", "5", "--rate", "1/0"}, "period is zero"},
        {{"create", "n", "--capacity", "5", "--rate", "1/fortnight"}, "unknown unit 'fortnight'"},
        {{"create", "n", "--capacity", "5", "--rate", "1/s/s"}, "'1/s/s'"},
        {{"create", "n", "--capacity", "5", "--rate", "1e16/s"}, "amount '1e16'"},
        {{"create", "n", "--capacity", "5", "--rate", "2000000000000000/s"}, "above 1e15"},
        {{"create", "n", "--capacity", "5", "--rate", "nan/s"}, "amount 'nan'"},
        {{"create", "n", "--capacity", "5", "--rate", "inf/s"}, "amount 'inf'"},
        {{"create", "n", "--capacity", "5", "--rate", "10"}, "has no '/'"},
        {{"create", "n", "--capacity", "5", "--rate", "1/"}, "period is empty"},
        {{"create", "n", "--capacity", "5", "--rate", "1/-1s"}, "negative"},
        {{"create", "n", "--capacity", "5", "--rate", "1/36501d"}, "longer than 100 years"},
        {{"create", "n", "--capacity", "5", "--rate", ".5/s"}, "amount '.5'"},
        {{"take", "n", "--capacity", "5", "--rate", "0/s"}, "amount must be above 0"},
        // A period is stored in whole milliseconds: 1/1.5ms was stored as 1/2ms.
        {{"create", "n", "--capacity", "5", "--rate", "1/1.5ms"}, "write 2/3ms"},
        {{"create", "n", "--capacity", "5", "--rate", "1/0.0005s"}, "write 2/1ms"},
        {{"take", "n", "--capacity", "5", "--rate", "1/0.5ms"}, "whole number of milliseconds"},
        // Durations: units ms s m h d, combinations, bare seconds; <= 100 years.
        {{"create", "n", "--capacity", "5", "--expire", "0"}, "--expire must be above 0"},
        {{"create", "n", "--capacity", "5", "--expire", "-1s"}, "negative"},
        {{"create", "n", "--capacity", "5", "--expire", "36501d"}, "longer than 100 years"},
        {{"create", "n", "--capacity", "5", "--expire", "1y"}, "unknown unit 'y'"},
        {{"create", "n", "--capacity", "5", "--expire", "1m30"}, "without a unit"},
        {{"create", "n", "--capacity", "5", "--expire", "1.5.5s"}, "'1.5.5s'"},
        // --expire is stored: whole milliseconds or refused (waits and
        // timeouts round to the millisecond instead; see test_parse.cpp).
        {{"create", "n", "--capacity", "5", "--expire", "1.5ms"}, "whole number of milliseconds"},
        {{"create", "n", "--capacity", "5", "--expire", "0.0001"}, "--expire '0.0001'"},
        {{"put", "n", "--capacity", "5", "--expire", "1s0.25ms"}, "whole number of milliseconds"},
        {{"take", "b", "--wait=abc"}, "--wait 'abc'"},
        {{"take", "b", "--wait=3153600000001ms"}, "longer than 100 years"},
        {{"watch", "b", "--timeout", "10x"}, "unknown unit 'x'"},
        {{"watch", "b", "--timeout", "-5s"}, "negative"},
        {{"--connect-timeout", "nan", "info", "b"}, "--connect-timeout 'nan'"},
        {{"--timeout-io", "0", "info", "b"}, "must be above 0"},
        {{"--timeout-io", "99999999999999999999s", "info", "b"}, "longer than 100 years"},
        // URLs.
        {{"-u", "http://127.0.0.1", "info", "b"}, "unknown scheme 'http'", true},
        {{"-u", "redis://127.0.0.1:0", "info", "b"}, "port 0", true},
        {{"-u", "redis://127.0.0.1:99999", "info", "b"}, "port 99999", true},
        {{"-u", "redis://127.0.0.1:6379/x", "info", "b"}, "database 'x'", true},
        {{"-u", "redis://127.0.0.1/-1", "info", "b"}, "database '-1'", true},
        {{"-u", "redis://", "info", "b"}, "host is missing", true},
        {{"-u", "redis://:6379", "info", "b"}, "host is missing", true},
        {{"-u", "redis://127.0.0.1:abc", "info", "b"}, "port 'abc'", true},
        // Malformed URLs are refused before any name lookup (was exit 69).
        {{"-u", "redis://127.0.0.1:1:1", "info", "b"}, "host '127.0.0.1:1'", true},
        {{"-u", "redis://::1", "info", "b"}, "brackets", true},
        {{"-u", "redis://:", "info", "b"}, "port is empty", true},
        {{"-u", "redis://127.0.0.1:", "info", "b"}, "port is empty", true},
        {{"-u", "redis://127.0.0.1 1", "info", "b"}, "a space", true},
        {{"-u", "redis://127.0.0.1?db=1", "info", "b"}, "'?'", true},
        {{"-u", "redis://127.0.0.1:%PORT%:", "info", "b"}, "port is empty", true},
        {{"-u", "unix://relative/sock", "info", "b"}, "absolute", true},
        {{"-u", "unix:///tmp/x.sock?db=abc", "info", "b"}, "database 'abc'", true},
        {{"-u", "127.0.0.1:6379", "info", "b"}, "expected redis://", true},
        {{"-u", "redis://u:p%zz@127.0.0.1", "info", "b"}, "password has a '%'", true},
        {{"-u", "redis://127.0.0.1:%PORT%,", "info", "b"}, "empty entry", true},
        {{"-u", "redis://bob@127.0.0.1:%PORT%", "info", "b"}, "user 'bob'", true},
        {{"info", "b"}, "unknown scheme 'ftp'", true, {{"TBUCKET_URL", "ftp://127.0.0.1"}}},
        // A bad yes/no variable is named, not the option it stands for.
        {{"info", "b"}, "TBUCKET_JSON='garbage'", false, {{"TBUCKET_JSON", "garbage"}}},
        {{"take", "b"}, "TBUCKET_JSON='maybe'", false, {{"TBUCKET_JSON", "maybe"}}},
        {{"info", "b"}, "TBUCKET_TLS='sometimes'", false, {{"TBUCKET_TLS", "sometimes"}}},
        // Commands and options.
        {{"frobnicate"}, "unknown command 'frobnicate'"},
        {{}, "subcommand is required"},
        {{"take", "b", "--bogus"}, "--bogus"},
        {{"--bogus", "info", "b"}, "--bogus"},
        {{"take", "b", "1", "2"}, "not expected: 2"},
        {{"create", "n", "--capacity", "5", "--update", "--replace"},
         "--update excludes --replace"},
        {{"take", "b", "--wait=1s", "--partial"}, "--partial excludes --wait"},
        {{"watch", "b", "--follow", "--take"}, "excludes"},
        {{"-E", "300", "take", "b"}, "300"},
        {{"-E", "abc", "take", "b"}, "abc"},
        {{"run", "b"}, "needs a command"},
        {{"take", "b", "--", "true"}, "only run takes a command after --"},
        {{"create", "n"}, "--capacity is required"},
        {{"take", "n", "--rate", "1/s"}, "--rate requires --capacity"},
        {{"--prefix", "a{b", "info", "b"}, "--prefix"},
        {{"--prefix", "a b", "info", "b"}, "--prefix"},
        {{"--password-file", "/nonexistent/pw", "info", "b"}, "--password-file"},
    };
    return cases;
}

}  // namespace

TEST_CASE("bad input exits 2 with one line naming the problem, and Redis is untouched",
          "[trust][usage]") {
    const std::vector<Case>& cases = usage_cases();
    REQUIRE(cases.size() >= 40);
    CHECK(check_usage_cases(cases) == static_cast<int>(cases.size()));
}

// Bucket lists (SPEC §11): refused before any connection, in every command
// that takes a NAME, so that nothing is taken from some and not others.
TEST_CASE("bad bucket lists exit 2 with one line, and Redis is untouched", "[trust][usage]") {
    std::string many, wide;
    for (int i = 0; i < 101; ++i) many += (i ? ",n" : "n") + std::to_string(i);
    for (int i = 0; i < 21; ++i)
        wide += (i ? "," : "") + std::string(200, static_cast<char>('a' + i));
    const std::vector<Case> cases = {
        {{"take", "b,,api"}, "element 2"},
        {{"take", ",b"}, "element 1"},
        {{"take", "b,"}, "element 2"},
        {{"take", "b=0,api"}, "count for 'b'"},
        {{"take", "b=x,api"}, "count for 'b'"},
        {{"take", "="}, "no name"},
        {{"take", "b,b"}, "named twice"},
        {{"take", "b,api=2,b=3"}, "named twice"},
        {{"take", many}, "more than 100"},
        {{"take", wide}, "at most 4096"},
        {{"take", "b,api", "0"}, "count"},
        {{"take", "b,api", "all"}, "one bucket"},
        {{"take", "b,api", "--partial"}, "one bucket"},
        {{"take", "b,api", "--capacity", "5"}, "create each"},
        {{"take", "b,,api", "--wait=1s"}, "element 2"},
        {{"watch", "b,,api", "--take"}, "element 2"},
        {{"watch", "b=0,api", "--take"}, "count for 'b'"},
        {{"run", "b,b", "--", "true"}, "named twice"},
        {{"run", "b,=2", "--", "true"}, "element 2"},
        {{"lease", "take", "sem,sem"}, "named twice\nlist"},
        {{"info", "b,,api"}, "element 2"},
        {{"info", "b,api=2"}, "names only"},
        {{"delete", "b,b"}, "named twice"},
        {{"delete", "b=1"}, "names only"},
    };
    check_usage_cases(cases);
}

// An empty value, as "$RATE" gives when RATE is unset, is not "not given":
// `reset b --tokens ""` must not fill the bucket, `--rate ""` must not
// create a bucket without refill, `--timeout ""` must not wait forever.
// (--wait "" is --wait to CLI11: a wait without limit, documented.)
TEST_CASE("empty option values are refused, not taken as absent", "[trust][usage]") {
    const std::vector<Case> cases = {
        {{"create", "n", "--capacity", "5", "--rate", ""}, "rate"},
        {{"create", "n", "--capacity", "5", "--expire", ""}, "--expire"},
        {{"create", "n", "--capacity", "5", "--tokens", ""}, "--tokens"},
        {{"reset", "b", "--tokens", ""}, "--tokens"},
        {{"take", "n", "--capacity", ""}, "--capacity"},
        {{"watch", "sem", "--timeout", ""}, "--timeout"},
        {{"--password-file", "", "info", "b"}, "--password-file"},
    };
    check_usage_cases(cases);
}

namespace {

// A sanitizer build's tbucket starts in ~150ms, not ~10ms: there each
// command meets every third kind of key (all still meet several).
const std::size_t every_nth = tbucket::test::sanitized() ? 3 : 1;

struct NotABucket {
    std::string name;
    std::vector<std::string> write;  // the command that makes the key
};

std::vector<NotABucket> not_buckets() {
    using std::chrono::duration_cast;
    std::string now = std::to_string(duration_cast<std::chrono::microseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
    auto hash = [](const std::string& name, std::vector<std::string> fields) {
        fields.insert(fields.begin(), {"HSET", "tbucket:{" + name + "}"});
        return NotABucket{name, fields};
    };
    return {
        {"str", {"SET", "tbucket:{str}", "hello"}},
        {"list", {"RPUSH", "tbucket:{list}", "a", "b"}},
        {"set", {"SADD", "tbucket:{set}", "a", "b"}},
        {"zset", {"ZADD", "tbucket:{zset}", "1", "a"}},
        hash("nofields", {"foo", "bar"}),
        hash("nots", {"c", "5", "t", "1"}),
        hash("notnum", {"c", "five", "t", "1", "ts", now}),
        hash("negative", {"c", "5", "t", "-1", "ts", now}),
        hash("nan", {"c", "5", "t", "nan", "ts", now}),
        hash("inf", {"c", "5", "t", "inf", "ts", now}),
        hash("badrate", {"c", "5", "t", "1", "ts", now, "r", "nan", "p", "1000"}),
    };
}

}  // namespace

TEST_CASE("keys that are not buckets exit 65 for every command and stay byte for byte",
          "[trust][data]") {
    for (const NotABucket& k : not_buckets()) redis().command(k.write);
    std::size_t run = 0;
    for (const NotABucket& k : not_buckets()) {
        const std::string key = "tbucket:{" + k.name + "}";
        const std::string dump = redis().string({"DUMP", key});
        const std::string type = redis().string({"TYPE", key});
        const std::vector<std::vector<std::string>> commands = {
            {"take", k.name},
            {"take", k.name, "--capacity", "5"},
            {"put", k.name},
            {"put", k.name, "--force"},
            {"reset", k.name},
            {"info", k.name},
            {"delete", k.name},
            {"watch", k.name, "--timeout", "0"},
            {"create", k.name, "--capacity", "5", "--replace"},
        };
        for (const auto& args : commands) {
            if (run++ % every_nth != 0) continue;
            RunResult r = tbucket::test::run(tbucket::test::tb_argv(redis().url(), args));
            INFO("key " << key << " (" << type << "), args:" << printable(args) << "\nexit "
                        << r.code << "\nstderr: " << r.err);
            CHECK(r.code == 65);
            CHECK(r.out.empty());
            CHECK(tbucket::test::one_error_line(r.err));
            CHECK_THAT(r.err, Catch::Contains(key));
            CHECK(redis().string({"TYPE", key}) == type);
            CHECK(redis().string({"DUMP", key}) == dump);
            CHECK(redis().integer({"PTTL", key}) == -1);
        }
    }
}

TEST_CASE("list reads keys that are not buckets without touching them", "[trust][data][list]") {
    for (const NotABucket& k : not_buckets()) redis().command(k.write);
    std::map<std::string, std::string> dumps;
    for (const NotABucket& k : not_buckets())
        dumps[k.name] = redis().string({"DUMP", "tbucket:{" + k.name + "}"});
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"list"}, {"--json", "list"}}) {
        RunResult r = tbucket::test::run(tbucket::test::tb_argv(redis().url(), args));
        INFO("args:" << printable(args) << "\nexit " << r.code << "\nstdout: " << r.out
                     << "\nstderr: " << r.err);
        CHECK((r.code == 0 || r.code == 65));
        for (const NotABucket& k : not_buckets()) {
            CHECK(redis().string({"DUMP", "tbucket:{" + k.name + "}"}) == dumps[k.name]);
            if (k.write[0] != "HSET")
                CHECK(r.out.find(k.name) == std::string::npos);  // not even a hash
        }
    }
}

// SPEC §2 gives list no exit but 0 and calls what it prints "buckets": both
// forms skip keys under the prefix that are not buckets (a string as well
// as a hash without the fields), each named once in a warning, exit 0.
TEST_CASE("list and list --json skip keys that are not buckets, warn once each, and exit 0",
          "[trust][data][list]") {
    for (const NotABucket& k : not_buckets()) redis().command(k.write);
    REQUIRE(tbucket::test::run(
                tbucket::test::tb_argv(redis().url(), {"create", "ok", "--capacity", "1"}))
                .code == 0);
    RunResult text = tbucket::test::run(tbucket::test::tb_argv(redis().url(), {"list"}));
    RunResult json = tbucket::test::run(tbucket::test::tb_argv(redis().url(), {"--json", "list"}));
    std::vector<std::string> from_json;
    for (const nlohmann::json& j : tbucket::test::json_lines(json.out))
        from_json.push_back(j["name"]);
    INFO("list: exit " << text.code << "\n"
                       << text.out << text.err << "list --json: exit " << json.code << "\n"
                       << json.err);
    CHECK(text.code == 0);
    CHECK(json.code == 0);
    CHECK(text.out == "ok\n");
    CHECK(from_json == std::vector<std::string>{"ok"});
    for (const RunResult* r : {&text, &json}) {
        std::vector<std::string> lines = tbucket::test::text_lines(r->err);
        if (!lines.empty() && lines.back().empty()) lines.pop_back();
        CHECK(lines.size() == not_buckets().size());
        for (const std::string& line : lines) {
            CHECK_THAT(line, Catch::StartsWith("tbucket: warning: "));
            CHECK_THAT(line, Catch::Contains("not a tbucket bucket"));
        }
        for (const NotABucket& k : not_buckets()) {
            const std::string key = "tbucket:{" + k.name + "}";
            std::size_t first = r->err.find(key);
            CHECK(first != std::string::npos);
            CHECK(r->err.find(key, first + 1) == std::string::npos);  // once
        }
    }
}

// The request ids the scripts keep beside a bucket, <prefix>{NAME}:id:HEX,
// are not keys of the form <prefix>{NAME}: list neither shows nor warns.
TEST_CASE("list ignores other keys that only start with a bucket's key", "[trust][data][list]") {
    REQUIRE(tbucket::test::run(
                tbucket::test::tb_argv(redis().url(), {"create", "a", "--capacity", "1"}))
                .code == 0);
    redis().command({"SET", "tbucket:{a}:id:0123", "x"});
    redis().command({"SET", "tbucket:{b}:id:0123", "x"});
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"list"}, {"--json", "list"}}) {
        RunResult r = tbucket::test::run(tbucket::test::tb_argv(redis().url(), args));
        INFO("args:" << printable(args) << "\nstdout: " << r.out << "\nstderr: " << r.err);
        CHECK(r.code == 0);
        CHECK(r.err.empty());
        CHECK(r.out.find(":id:") == std::string::npos);
        CHECK(r.out.find("\"b\"") == std::string::npos);
    }
    CHECK(tbucket::test::run(tbucket::test::tb_argv(redis().url(), {"list"})).out == "a\n");
}

namespace {

// A script that changes a bucket called directly, as another client could:
// EVAL source 2 key id-key id-memory args...
tbucket::Reply eval(const tbucket::Script& script, const std::string& key,
                    std::vector<std::string> args, const std::string& memory = "60000") {
    std::vector<std::string> command{"EVAL", std::string(script.source), "2",
                                     key,    key + ":id:direct",         memory};
    command.insert(command.end(), args.begin(), args.end());
    return redis().command(command);
}

std::string error_text(const tbucket::Reply& reply) {
    if (reply->type != REDIS_REPLY_ERROR) return "(not an error)";
    return std::string(reply->str, reply->len);
}

}  // namespace

TEST_CASE("the Lua scripts refuse NaN, negative, fractional, huge and non-numeric arguments",
          "[trust][lua]") {
    using namespace tbucket::scripts;
    REQUIRE(tbucket::test::run(
                tbucket::test::tb_argv(redis().url(), {"create", "b", "--capacity", "5", "--rate",
                                                       "1/h", "--tokens", "2"}))
                .code == 0);
    const std::string key = "tbucket:{b}", missing = "tbucket:{missing}";
    const std::string before = redis().dump_hash(key);
    const std::string huge = std::string(400, '9');  // tonumber: inf
    const std::vector<std::string> bad_counts = {
        "nan", "-1", "1.5", "1e400", "abc", "0", "9007199254740992", "", " 1", "0x10", "inf", huge};
    struct Call {
        const tbucket::Script* script;
        std::string key;
        std::vector<std::string> args;
    };
    std::vector<Call> calls;
    for (const std::string& n : bad_counts) {
        calls.push_back({&take_script, key, {n, "all", "", "", "", ""}});
        calls.push_back({&take_script, missing, {n, "all", "5", "", "", ""}});
        calls.push_back({&put_script, key, {n, "all", "", "", "", ""}});
        calls.push_back({&put_script, key, {n, "1", "", "", "", ""}});
        // For reset, "" means full and "0" is a level: both valid.
        if (!n.empty() && n != "0") calls.push_back({&reset_script, key, {n}});
    }
    for (const std::string& c :
         std::vector<std::string>{"0", "nan", "-1", "1.5", "1e400", "abc", huge}) {
        calls.push_back({&create_script, missing, {c, "", "", "", "", ""}});
        calls.push_back({&take_script, missing, {"1", "all", c, "", "", ""}});
    }
    for (const std::string& r : std::vector<std::string>{"nan", "-1", "inf", "0", "1e16", "1e400",
                                                         huge, "2000000000000000", "abc"}) {
        calls.push_back({&create_script, missing, {"5", r, "1000", "", "", ""}});
        calls.push_back({&create_script, key, {"5", r, "1000", "", "", "replace"}});
        calls.push_back({&put_script, missing, {"1", "0", "5", r, "1000", ""}});
    }
    for (const std::string& p : std::vector<std::string>{"0", "-1", "1.5", "nan", "inf", ""}) {
        calls.push_back({&create_script, missing, {"5", "1", p, "", "", ""}});
    }
    for (const std::string& x : std::vector<std::string>{"0", "-1", "abc", "1.5"}) {
        calls.push_back({&create_script, missing, {"5", "", "", x, "", ""}});
    }
    for (const std::string& t : std::vector<std::string>{"-1", "1.5", "nan", "6", "abc"}) {
        calls.push_back({&create_script, missing, {"5", "", "", "", t, ""}});
        calls.push_back({&create_script, key, {"5", "1", "3600000", "", t, "replace"}});
        calls.push_back({&reset_script, key, {t}});
    }
    calls.push_back(
        {&put_script, key, {"9007199254740991", "1", "", "", "", ""}});  // level would pass 2^53-1
    for (const std::string& memory : std::vector<std::string>{"0", "-1", "1.5", "nan", "", "abc"}) {
        tbucket::Reply reply = eval(take_script, key, {"1", "all", "", "", "", ""}, memory);
        INFO("take with id memory '" << memory << "' -> " << error_text(reply));
        CHECK_THAT(error_text(reply), Catch::StartsWith("TBUSAGE "));
    }
    for (const Call& call : calls) {
        tbucket::Reply reply = eval(*call.script, call.key, call.args);
        INFO(call.script->name << " on " << call.key << " with" << printable(call.args) << " -> "
                               << error_text(reply));
        CHECK_THAT(error_text(reply), Catch::StartsWith("TBUSAGE "));
        CHECK(redis().dump_hash(key) == before);
        CHECK(redis().integer({"EXISTS", missing}) == 0);
    }
}

// ARGV[2] of take ('0' all, '1' partial, '2' check), of put ('1' force) and
// ARGV[6] of create ('', 'update', 'replace') are not checked: anything else
// silently means the default.
TEST_CASE("the Lua scripts refuse an unknown mode", "[trust][lua]") {
    using namespace tbucket::scripts;
    REQUIRE(tbucket::test::run(tbucket::test::tb_argv(redis().url(), {"create", "b", "--capacity",
                                                                      "5", "--tokens", "2"}))
                .code == 0);
    for (const auto& [script, args] :
         std::vector<std::pair<const tbucket::Script*, std::vector<std::string>>>{
             {&take_script, {"1", "0", "", "", "", ""}},
             {&take_script, {"1", "wait-partial", "", "", "", ""}},
             {&take_script, {"1", "", "", "", "", ""}},
             {&put_script, {"1", "yes", "", "", "", ""}},
             {&create_script, {"6", "", "", "", "", "replace!"}}}) {
        const std::string before = redis().dump_hash("tbucket:{b}");
        tbucket::Reply reply = eval(*script, "tbucket:{b}", args);
        INFO(script->name << " with" << printable(args) << " -> " << error_text(reply));
        CHECK_THAT(error_text(reply), Catch::StartsWith("TBUSAGE "));
        CHECK(redis().dump_hash("tbucket:{b}") == before);
    }
}
