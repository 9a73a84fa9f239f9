// tbucket as a Redis ACL user with the least it needs: every command works
// with each way of giving the password; another prefix, a wrong password
// or a missing permission is exit 77; the password never shows, not in
// output, not in JSON errors, not in /proc/PID/cmdline while waiting.

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>

#include "support/e2e.h"

using nlohmann::json;
using tbucket::test::Child;
using tbucket::test::RunOptions;
using tbucket::test::RunResult;

namespace {

const std::string admin_password = "adminpw";
const std::string password = "limitedpw";

// What tbucket sends: EVALSHA (EVAL after a SCRIPT FLUSH or restart), SCAN
// for list, SSUBSCRIBE for waiting; inside the scripts TIME, HMGET, HSET, DEL,
// EXISTS (when HMGET finds no field: a missing key, or a hash that is no
// bucket), TYPE (a key of another type), PEXPIRE (--expire), SPUBLISH
// (change events, sharded pub/sub), GET and SET (request ids); for leases
// and the waiters' queue HGET, HDEL and the sorted-set commands ZADD, ZREM,
// ZRANGE, ZRANGEBYSCORE, ZSCORE, ZRANK, ZCARD. AUTH needs no rule; SELECT
// only with a /DB in the URL.
const std::vector<std::string> minimal_rules = {
    "+evalsha", "+eval", "+scan",    "+ssubscribe", "+time",  "+hmget", "+hset",         "+del",
    "+exists",  "+type", "+pexpire", "+spublish",   "+get",   "+set",   "+hget",         "+hdel",
    "+zadd",    "+zrem", "+zrange",  "+zscore",     "+zrank", "+zcard", "+zrangebyscore"};

// A server that wants a password, with a user "limited" whose rules the
// test sets; the test's own connection is the default user's.
class AclServer {
  public:
    AclServer() : server_({"--requirepass", admin_password}), admin_(admin_options()) {}

    tbucket::Reply command(const std::vector<std::string>& args) { return admin_.call(args); }
    int port() const { return server_.port(); }
    std::string address() const { return "127.0.0.1:" + std::to_string(server_.port()); }
    std::string dir() const { return server_.dir(); }

    std::string dump_hash(const std::string& key) {
        return tbucket::test::hash_text(*command({"HGETALL", key}));
    }

    // ACL SETUSER limited reset on >limitedpw ~tbucket:* &tbucket:* RULES...
    void set_user(const std::vector<std::string>& rules, bool with_channels = true) {
        std::vector<std::string> args{"ACL", "SETUSER",      "limited",   "reset",
                                      "on",  ">" + password, "~tbucket:*"};
        if (with_channels) args.push_back("&tbucket:*");
        args.insert(args.end(), rules.begin(), rules.end());
        tbucket::Reply reply = command(args);
        REQUIRE(reply->type == REDIS_REPLY_STATUS);
        command({"FLUSHALL"});
        command({"SCRIPT", "FLUSH"});  // so that EVAL is needed too
    }

  private:
    tbucket::ConnectionOptions admin_options() const {
        tbucket::ConnectionOptions o = server_.options();
        o.password = admin_password;
        o.has_password = true;
        return o;
    }
    tbucket::test::RedisServer server_;
    tbucket::Connection admin_;
};

// One way of giving the limited user's password.
struct Auth {
    std::string what;
    std::string url;
    std::map<std::string, std::string> env = {};
    std::vector<std::string> options = {};  // global options
    bool warns = false;                     // a password typed in --url draws a warning
};

std::vector<Auth> auths(AclServer& server) {
    std::string file = server.dir() + "/limited.pw";
    std::ofstream(file) << password << "\n";
    std::string with_user = "redis://limited@" + server.address();
    return {
        {"password in --url", "redis://limited:" + password + "@" + server.address(), {}, {}, true},
        {"TBUCKET_PASSWORD", with_user, {{"TBUCKET_PASSWORD", password}}},
        {"REDISCLI_AUTH", with_user, {{"REDISCLI_AUTH", password}}},
        {"--password-file", with_user, {}, {"--password-file", file}},
    };
}

RunResult run_as(const Auth& auth, std::vector<std::string> args,
                 std::vector<std::string> extra_options = {}) {
    std::vector<std::string> argv = auth.options;
    argv.insert(argv.end(), extra_options.begin(), extra_options.end());
    argv.insert(argv.end(), {"-u", auth.url});
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions options = tbucket::test::with_env(auth.env);
    options.timeout_s = 20;
    return tbucket::test::tbucket(argv, options);
}

bool shows_password(const RunResult& r) {
    return r.out.find(password) != std::string::npos || r.err.find(password) != std::string::npos;
}

// stderr of a successful command: nothing, or the one URL-password warning.
bool quiet_stderr(const Auth& auth, const std::string& err) {
    if (!auth.warns) return err.empty();
    return err.rfind("tbucket: warning: ", 0) == 0 && err.find('\n') == err.size() - 1 &&
           err.find("TBUCKET_PASSWORD") != std::string::npos;
}

// list warns about each key under the prefix that is not a bucket (the
// fixtures below make two; test_bad_input.cpp checks those warnings).
std::string without_not_a_bucket_warnings(const std::string& err) {
    std::string kept;
    for (const std::string& line : tbucket::test::text_lines(err)) {
        if (!line.empty() && line.find("not a tbucket bucket") == std::string::npos)
            kept += line + "\n";
    }
    return kept;
}

struct Step {
    std::vector<std::string> args;
    int code;
    bool waits = false;
};

const bool sanitized = tbucket::test::sanitized();

// Every command once, in an order where each one succeeds (or, for a key
// that is not a bucket, fails with 65): with the minimal rules all of them
// must behave so; without one rule at least one must not.
std::vector<Step> every_command(const std::string& b) {
    return {
        {{"create", b, "--capacity", "5", "--rate", "10/s"}, 0},
        {{"take", b}, 0},
        {{"take", b, "5", "--wait=5s"}, 0, true},  // 4 there: waits ~100ms for the refill
        {{"put", b}, 0},
        {{"info", b}, 0},
        {{"list"}, 0},
        {{"reset", b, "--tokens", "0"}, 0},
        {{"watch", b, "--timeout", "5s"}, 0, true},
        {{"watch", b, "--take", "--timeout", "5s"}, 0, true},
        {{"watch", b, "--follow", "--timeout", "300ms"}, 0, true},
        {{"run", b, "--wait=5s", "--", "true"}, 0, true},
        {{"take", b + "-inline", "--capacity", "3", "--expire", "1h"}, 0},
        // A semaphore: leases (run, lease take, info, lease list, reset)
        // and the queue (a waiter that gives up leaves it).
        {{"create", b + "-sem", "--capacity", "2"}, 0},
        {{"run", b + "-sem", "--", "true"}, 0},
        {{"lease", "take", b + "-sem", "--ttl", "1m"}, 0},
        {{"info", b + "-sem"}, 0},
        {{"lease", "list", b + "-sem"}, 0},
        {{"take", b + "-sem", "2", "--wait=300ms"}, 124, true},
        {{"reset", b + "-sem"}, 0},
        {{"take", "not-a-bucket"}, 65},
        {{"take", "empty-hash"}, 65},
        {{"delete", b}, 0},
    };
}

void make_non_buckets(AclServer& server) {
    server.command({"SET", "tbucket:{not-a-bucket}", "x"});
    server.command({"HSET", "tbucket:{empty-hash}", "foo", "bar"});
}

}  // namespace

TEST_CASE("with the minimal ACL rules every command works, however the password is given",
          "[trust][security][acl]") {
    AclServer server;
    server.set_user(minimal_rules);
    make_non_buckets(server);
    int i = 0;
    for (const Auth& auth : auths(server)) {
        const std::string b = "acl" + std::to_string(i++);
        server.command({"SCRIPT", "FLUSH"});
        for (const Step& step : every_command(b)) {
            // A sanitizer build's tbucket starts in ~150ms: there the other
            // ways of giving the password run the non-waiting commands only.
            if (sanitized && i > 1 && step.waits) continue;
            RunResult r = run_as(auth, step.args);
            INFO(auth.what << ": "
                           << Catch::StringMaker<std::vector<std::string>>::convert(step.args)
                           << "\nexit " << r.code << "\nstdout: " << r.out
                           << "\nstderr: " << r.err);
            CHECK(r.code == step.code);
            CHECK_FALSE(shows_password(r));
            bool list = step.args[0] == "list";
            if (step.code == 0)
                CHECK(quiet_stderr(auth, list ? without_not_a_bucket_warnings(r.err) : r.err));
            if (step.args[0] == "list") CHECK_THAT(r.out, Catch::Contains(b));
        }
    }
}

TEST_CASE("each of the minimal ACL rules is needed by some command", "[trust][security][acl]") {
    AclServer server;
    Auth auth = auths(server)[1];  // TBUCKET_PASSWORD
    for (const std::string& missing : minimal_rules) {
        std::vector<std::string> rules;
        for (const std::string& rule : minimal_rules) {
            if (rule != missing) rules.push_back(rule);
        }
        server.set_user(rules);
        make_non_buckets(server);
        bool failed = false;
        for (const Step& step : every_command("need")) {
            RunResult r = run_as(auth, step.args);
            CHECK_FALSE(shows_password(r));
            failed = r.code != step.code;
            if (failed) break;  // one is enough
        }
        INFO("without " << missing);
        CHECK(failed);
    }
}

// SPEC §5: 77 is "Redis refused: authentication or ACL permission". Redis
// 7.0 answers a command a script may not run with "ERR The user executing
// the script can't run this command or subcommand" (not NOPERM), and the
// scripts read any error of HMGET as "the key is of another type".
TEST_CASE("a permission missing inside a script is exit 77", "[trust][security][acl]") {
    AclServer server;
    Auth auth = auths(server)[1];
    struct Missing {
        std::string what;
        std::vector<std::string> rules;
        bool channels;
    };
    auto without = [](const std::string& rule) {
        std::vector<std::string> rules;
        for (const std::string& r : minimal_rules) {
            if (r != rule) rules.push_back(r);
        }
        return rules;
    };
    for (const Missing& m : std::vector<Missing>{{"+time", without("+time"), true},
                                                 {"+hmget", without("+hmget"), true},
                                                 {"+hset", without("+hset"), true},
                                                 {"+spublish", without("+spublish"), true},
                                                 {"&tbucket:* (channels)", minimal_rules, false}}) {
        server.set_user(m.rules, m.channels);
        RunResult r = run_as(auth, {"create", "denied", "--capacity", "5"});
        INFO("without " << m.what << ": exit " << r.code << ", stderr: " << r.err);
        CHECK(r.code == 77);
        CHECK(tbucket::test::one_error_line(r.err));
        CHECK(server.command({"EXISTS", "tbucket:{denied}"})->integer == 0);
    }
}

// Redis 7 gives a new ACL user no channels (acl-pubsub-default is
// resetchannels), so "~tbucket:* +@all" without "&tbucket:*" is a likely
// set-up. The scripts write the level, then PUBLISH; Redis does not roll a
// script back when a later command fails, so the token is gone while the
// caller hears an error (and run does not run its command).
TEST_CASE("a script refused midway leaves nothing half-done", "[trust][security][acl]") {
    AclServer server;
    server.set_user({"+@all"}, false);
    Auth auth = auths(server)[1];
    Auth admin{"admin", "redis://" + server.address(), {{"TBUCKET_PASSWORD", admin_password}}};
    REQUIRE(run_as(admin, {"create", "h", "--capacity", "5", "--tokens", "3"}).code == 0);
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{"take", "h"},
                                               {"put", "h"},
                                               {"put", "h", "--force"},
                                               {"reset", "h"},
                                               {"run", "h", "--", "true"},
                                               {"create", "h", "--capacity", "6", "--replace"},
                                               {"delete", "h"}}) {
        std::string before = server.dump_hash("tbucket:{h}");
        RunResult r = run_as(auth, args);
        INFO(Catch::StringMaker<std::vector<std::string>>::convert(args)
             << ": exit " << r.code << ", stderr: " << r.err);
        CHECK(r.code == 77);
        CHECK(server.dump_hash("tbucket:{h}") == before);
        if (before != server.dump_hash("tbucket:{h}")) {
            server.command({"DEL", "tbucket:{h}"});
            REQUIRE(run_as(admin, {"create", "h", "--capacity", "5", "--tokens", "3"}).code == 0);
        }
    }
    RunResult r = run_as(auth, {"take", "fresh", "--capacity", "5"});
    CHECK(r.code == 77);
    CHECK(server.command({"EXISTS", "tbucket:{fresh}"})->integer == 0);
}

TEST_CASE("another prefix than the ACL allows is exit 77 for every bucket command",
          "[trust][security][acl]") {
    AclServer server;
    server.set_user(minimal_rules);
    Auth auth = auths(server)[1];
    REQUIRE(run_as(auth, {"create", "p", "--capacity", "5"}).code == 0);
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{"create", "p", "--capacity", "5"},
                                               {"take", "p"},
                                               {"take", "p", "--wait=1s"},
                                               {"put", "p"},
                                               {"info", "p"},
                                               {"reset", "p"},
                                               {"delete", "p"},
                                               {"watch", "p", "--timeout", "1s"},
                                               {"watch", "p", "--follow", "--timeout", "1s"},
                                               {"run", "p", "--", "true"}}) {
        for (bool as_json : {false, true}) {
            std::vector<std::string> options{"--prefix", "other:"};
            if (as_json) options.push_back("--json");
            RunResult r = run_as(auth, args, options);
            INFO(Catch::StringMaker<std::vector<std::string>>::convert(args)
                 << (as_json ? " --json" : "") << ": stderr " << r.err);
            CHECK(r.code == 77);
            CHECK(r.out.empty());
            CHECK_FALSE(shows_password(r));
            if (as_json) {
                json j = json::parse(r.err);
                CHECK(j["error"] == "refused");
                CHECK(j["exit"] == 77);
            } else {
                CHECK(tbucket::test::one_error_line(r.err));
            }
        }
    }
    // SCAN is not a key command: list cannot be refused, and finds nothing.
    RunResult r = run_as(auth, {"list"}, {"--prefix", "other:"});
    CHECK(r.code == 0);
    CHECK(r.out.empty());
    CHECK(server.command({"EXISTS", "other:{p}"})->integer == 0);
}

TEST_CASE("a wrong password is exit 77 and no password is ever printed",
          "[trust][security][auth]") {
    AclServer server;
    server.set_user(minimal_rules);
    const std::string wrong = "wrongpw123";
    std::string file = server.dir() + "/wrong.pw";
    std::ofstream(file) << wrong << "\n";
    const std::string with_user = "redis://limited@" + server.address();
    for (const Auth& auth : std::vector<Auth>{
             {"--url", "redis://limited:" + wrong + "@" + server.address(), {}, {}, true},
             {"TBUCKET_PASSWORD", with_user, {{"TBUCKET_PASSWORD", wrong}}},
             {"REDISCLI_AUTH", with_user, {{"REDISCLI_AUTH", wrong}}},
             {"--password-file", with_user, {}, {"--password-file", file}},
             {"the default user's password for limited",
              with_user,
              {{"TBUCKET_PASSWORD", admin_password}}},
             {"no user, a wrong password",
              "redis://:" + wrong + "@" + server.address(),
              {},
              {},
              true},
             {"no password at all", "redis://" + server.address(), {}, {}}}) {
        for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
                 {"info", "x"}, {"take", "x", "--wait=1s"}, {"list"}, {"--json", "take", "x"}}) {
            RunResult r = run_as(auth, args);
            INFO(auth.what << ": " << Catch::StringMaker<std::vector<std::string>>::convert(args)
                           << "\nstderr: " << r.err);
            CHECK(r.code == 77);
            CHECK(r.out.empty());
            CHECK(r.err.find(wrong) == std::string::npos);
            CHECK(r.err.find(admin_password) == std::string::npos);
            CHECK(r.err.find(password) == std::string::npos);
            if (args[0] == "--json") {
                json j = json::parse(tbucket::test::text_lines(r.err).back());
                CHECK(j["error"] == "refused");
                CHECK(j["exit"] == 77);
            }
        }
    }
}

namespace {

std::string cmdline(pid_t pid) {
    return tbucket::test::read_file("/proc/" + std::to_string(pid) + "/cmdline");
}

}  // namespace

TEST_CASE("a waiting process does not show the password in /proc/PID/cmdline",
          "[trust][security][auth]") {
    AclServer server;
    server.set_user(minimal_rules);
    server.command(
        {"ACL", "SETUSER", "odd", "reset", "on", ">p@ss/w:rd%", "~tbucket:*", "&tbucket:*"});
    std::vector<std::string> cmd{"ACL", "SETUSER", "odd"};
    cmd.insert(cmd.end(), minimal_rules.begin(), minimal_rules.end());
    server.command(cmd);
    Auth auth = auths(server)[1];
    struct Waiter {
        std::string url;
        std::vector<std::string> secrets;
    };
    int n = 0;
    for (const Waiter& w :
         std::vector<Waiter>{{"redis://limited:" + password + "@" + server.address(), {password}},
                             {"redis://odd:p%40ss%2Fw%3Ard%25@" + server.address(),
                              {"p%40ss%2Fw%3Ard%25", "p@ss/w:rd%"}}}) {
        for (bool equals_form : {false, true}) {
            std::string name = "x";  // and a channel of its own
            name += std::to_string(n++);
            REQUIRE(run_as(auth, {"create", name, "--capacity", "1", "--tokens", "0"}).code == 0);
            std::vector<std::string> argv{tbucket::test::tbucket_path()};
            if (equals_form) {
                argv.push_back("--url=" + w.url);
            } else {
                argv.insert(argv.end(), {"-u", w.url});
            }
            argv.insert(argv.end(), {"take", name, "--wait=10s"});
            Child waiter(argv);
            REQUIRE(
                tbucket::test::wait_for_subscribers(server, "tbucket:{" + name + "}:events", 1));
            std::string line = cmdline(waiter.pid());
            INFO("cmdline: " << line);
            for (const std::string& secret : w.secrets)
                CHECK(line.find(secret) == std::string::npos);
            CHECK(line.find(name) != std::string::npos);  // it is the waiter's
            CHECK(line.find(server.address()) != std::string::npos);
            REQUIRE(run_as(auth, {"put", name}).code == 0);
            RunResult r = waiter.wait();
            CHECK(r.code == 0);  // the percent-encoded password worked too
            for (const std::string& secret : w.secrets) {
                CHECK(r.out.find(secret) == std::string::npos);
                CHECK(r.err.find(secret) == std::string::npos);
            }
        }
    }
}

TEST_CASE("a password in --url draws one warning, one from the environment none",
          "[trust][security][auth]") {
    AclServer server;
    server.set_user(minimal_rules);
    std::vector<Auth> all = auths(server);
    RunResult r = run_as(all[0], {"create", "w", "--capacity", "1"});
    CHECK(r.code == 0);
    CHECK(tbucket::test::text_lines(r.err).size() == 1);
    CHECK_THAT(r.err, Catch::StartsWith("tbucket: warning: "));
    CHECK_THAT(r.err, Catch::Contains("TBUCKET_PASSWORD"));
    CHECK(r.err.find(password) == std::string::npos);
    for (std::size_t i = 1; i < all.size(); ++i) {
        r = run_as(all[i], {"info", "w"});
        INFO(all[i].what);
        CHECK(r.code == 0);
        CHECK(r.err.empty());
    }
    // The whole URL, password included, from the environment: no warning.
    RunOptions env = tbucket::test::with_env({{"TBUCKET_URL", all[0].url}});
    r = tbucket::test::tbucket({"info", "w"}, env);
    CHECK(r.code == 0);
    CHECK(r.err.empty());
}
