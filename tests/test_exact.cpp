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

#include "script.h"
#include "support/e2e.h"
#include "support/fault_proxy.h"

using nlohmann::json;
using tbucket::test::Child;
using tbucket::test::FaultProxy;
using tbucket::test::redis;
using tbucket::test::RedisServer;
using tbucket::test::RunOptions;
using tbucket::test::RunResult;
using tbucket::test::seconds_since;
using tbucket::test::slowdown;
using tbucket::test::tb_argv;

namespace {

using Clock = std::chrono::steady_clock;
using Fault = FaultProxy::Fault;

RunResult tb(const std::string& url, std::vector<std::string> args) {
    return tbucket::test::run(tb_argv(url, std::move(args)));
}

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

std::string describe(const RunResult& r) {
    return "exit " + std::to_string(r.code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
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
