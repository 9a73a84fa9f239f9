// TLS end to end: the built tbucket against a redis-server with a TLS port,
// certificates from a throw-away CA made by support/make_certs.sh. The
// server also keeps a plain port, which only the test itself uses to look
// at what happened (commandstats, keys, subscribers).

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>

#include "support/e2e.h"
#include "support/tls_server.h"

using tbucket::test::Child;
using tbucket::test::free_port;
using tbucket::test::one_error_line;
using tbucket::test::RedisServer;
using tbucket::test::run;
using tbucket::test::RunResult;
using tbucket::test::slowdown;
using tbucket::test::tbucket_path;

using tbucket::test::TlsServer;

TEST_CASE("every command works over rediss:// with --cacert", "[tls][e2e]") {
    TlsServer tls;
    CHECK(tls.tb({"create", "api", "--capacity", "5", "--rate", "1/min"}).code == 0);
    RunResult take = tls.tb({"-v", "take", "api", "2"});
    CHECK(take.code == 0);
    CHECK_THAT(take.out, Catch::StartsWith("api  3"));
    CHECK(tls.tb({"take", "api", "4"}).code == 1);
    CHECK(tls.tb({"put", "api", "1"}).code == 0);
    RunResult info = tls.tb({"--json", "info", "api"});
    REQUIRE(info.code == 0);
    CHECK(nlohmann::json::parse(info.out)["capacity"] == 5);
    RunResult list = tls.tb({"list"});
    CHECK(list.code == 0);
    CHECK_THAT(list.out, Catch::StartsWith("api"));
    CHECK(tls.tb({"reset", "api"}).code == 0);
    CHECK(tls.tb({"watch", "api", "5", "--timeout", "2s"}).code == 0);
    RunResult run = tls.tb({"run", "api", "--", "echo", "ran"});
    CHECK(run.code == 0);
    CHECK(run.out == "ran\n");
    CHECK(tls.tb({"delete", "api"}).code == 0);
    CHECK(tls.server->integer({"EXISTS", "tbucket:{api}"}) == 0);
}

TEST_CASE("over TLS a take is still one command once the script is cached", "[tls][e2e]") {
    TlsServer tls;
    REQUIRE(tls.tb({"create", "one", "--capacity", "100"}).code == 0);
    REQUIRE(tls.tb({"take", "one"}).code == 0);  // caches the take script
    tls.server->command({"CONFIG", "RESETSTAT"});
    for (int i = 0; i < 5; ++i) REQUIRE(tls.tb({"take", "one"}).code == 0);
    CHECK(tls.server->command_calls("evalsha") == 5);
    for (const char* other :
         {"eval", "ping", "hello", "auth", "select", "script|exists", "script|load"}) {
        INFO(other);
        CHECK(tls.server->command_calls(other) == 0);
    }
}

TEST_CASE("a redis:// URL with --tls connects over TLS, and TBUCKET_CACERT names the CA",
          "[tls][e2e]") {
    TlsServer tls;
    std::string plain_url = "redis://127.0.0.1:" + std::to_string(tls.tls_port);
    RunResult r = tbucket::test::tbucket({"-u", plain_url, "--tls", "--cacert", tls.cert("ca.crt"),
                                          "create", "a", "--capacity", "3"});
    CHECK(r.code == 0);
    RunResult env = tbucket::test::tbucket(
        {"take", "a"}, tbucket::test::with_env(
                           {{"TBUCKET_URL", tls.url()}, {"TBUCKET_CACERT", tls.cert("ca.crt")}}));
    CHECK(env.code == 0);
    CHECK(tls.server->dump_hash("tbucket:{a}").find("t=2 ") != std::string::npos);
}

TEST_CASE("the certificate is checked against the host name, by name or address", "[tls][e2e]") {
    TlsServer tls;
    std::vector<std::string> base{"--cacert", tls.cert("ca.crt"), "create", "a", "--capacity", "1"};
    auto with_url = [&](const std::string& url, std::vector<std::string> more = {}) {
        std::vector<std::string> args{"-u", url};
        args.insert(args.end(), more.begin(), more.end());
        args.insert(args.end(), base.begin(), base.end());
        return tbucket::test::tbucket(args);
    };
    CHECK(with_url(tls.url("localhost")).code == 0);
    CHECK(with_url(tls.url("127.0.0.1")).code == 0);
    RunResult wrong = with_url(tls.url(), {"--sni", "redis.example.com"});
    CHECK(wrong.code == 69);
    CHECK(one_error_line(wrong.err));
    CHECK_THAT(wrong.err, Catch::Contains("does not match the name 'redis.example.com'"));
}

TEST_CASE("an untrusted server certificate is 69 with a reason, and --insecure skips the check",
          "[tls][e2e]") {
    TlsServer tls;
    RunResult other = tbucket::test::tbucket(
        {"-u", tls.url(), "--cacert", tls.cert("other-ca.crt"), "info", "x"});
    CHECK(other.code == 69);
    CHECK(one_error_line(other.err));
    CHECK_THAT(other.err, Catch::Contains("unknown CA"));
    // The system store does not know the test CA either.
    RunResult system = tbucket::test::tbucket({"-u", tls.url(), "info", "x"});
    CHECK(system.code == 69);
    CHECK_THAT(system.err, Catch::Contains("unknown CA"));
    RunResult insecure =
        tbucket::test::tbucket({"-u", tls.url(), "--insecure", "create", "x", "--capacity", "1"});
    CHECK(insecure.code == 0);
    CHECK(insecure.err ==
          "tbucket: warning: --insecure: the server's certificate is not checked; anyone in "
          "between can listen\n");
}

TEST_CASE("mutual TLS works with --cert and --key and fails with 69 without them", "[tls][e2e]") {
    TlsServer tls(true);
    RunResult with = tls.tb({"--cert", tls.cert("client.crt"), "--key", tls.cert("client.key"),
                             "create", "m", "--capacity", "2"});
    CHECK(with.code == 0);
    RunResult env =
        tls.tb({"take", "m"}, tbucket::test::with_env({{"TBUCKET_CERT", tls.cert("client.crt")},
                                                       {"TBUCKET_KEY", tls.cert("client.key")}}));
    CHECK(env.code == 0);
    RunResult without = tls.tb({"take", "m"});
    CHECK(without.code == 69);
    CHECK(one_error_line(without.err));
    CHECK_THAT(without.err, Catch::Contains("client certificate"));
    CHECK(tls.server->dump_hash("tbucket:{m}").find("t=1 ") != std::string::npos);
}

TEST_CASE("a waiter over TLS wakes on a put", "[tls][e2e][wait]") {
    TlsServer tls;
    REQUIRE(tls.tb({"create", "w", "--capacity", "2", "--tokens", "0"}).code == 0);
    Child waiter({tbucket::test::tbucket_path(), "-u", tls.url(), "--cacert", tls.cert("ca.crt"),
                  "watch", "w", "1", "--take", "--timeout", "20s"});
    REQUIRE(tbucket::test::wait_for_subscribers(*tls.server, "tbucket:{w}:events", 1));
    auto put_at = std::chrono::steady_clock::now();
    REQUIRE(tls.tb({"put", "w", "1"}).code == 0);
    RunResult woke = waiter.wait();
    CHECK(woke.code == 0);
    CHECK(tbucket::test::seconds_since(put_at) < 15);  // woke on the put, not at its timeout
    CHECK(tls.server->dump_hash("tbucket:{w}").find("t=0 ") != std::string::npos);
}

TEST_CASE("a plain client at a TLS port and a TLS client at a plain port both get 69 with a hint",
          "[tls][e2e]") {
    TlsServer tls;
    RunResult plain = tbucket::test::tbucket(
        {"-u", "redis://127.0.0.1:" + std::to_string(tls.tls_port), "info", "a"});
    CHECK(plain.code == 69);
    CHECK(one_error_line(plain.err));
    CHECK_THAT(plain.err, Catch::Contains("rediss://"));
    auto start = std::chrono::steady_clock::now();
    RunResult tls_to_plain = tbucket::test::tbucket(
        {"-u", "rediss://127.0.0.1:" + std::to_string(tls.server->port()), "--connect-timeout",
         "500ms", "--cacert", tls.cert("ca.crt"), "info", "a"});
    CHECK(tls_to_plain.code == 69);
    CHECK(one_error_line(tls_to_plain.err));
    CHECK_THAT(tls_to_plain.err, Catch::Contains("TLS handshake"));
    CHECK(tbucket::test::seconds_since(start) < 30);  // at the connect timeout, no hang
}

TEST_CASE("unusable TLS options are usage errors that leave Redis untouched", "[tls][e2e][usage]") {
    TlsServer tls;
    long long before = std::stoll(tls.server->info_field("stats", "total_connections_received"));
    struct Case {
        std::vector<std::string> args;
        std::string says;
    };
    std::vector<Case> cases{
        {{"--cacert", tls.cert("missing.crt")}, "No such file"},
        {{"--cacert", tls.cert("ca.key")}, "no PEM certificates"},
        {{"--cert", tls.cert("client.key"), "--key", tls.cert("client.key")},
         "not a PEM certificate"},
        {{"--cert", tls.cert("client.crt"), "--key", tls.cert("server.key")},
         "not the key of --cert"},
        {{"--cert", tls.cert("client.crt")}, "--cert and --key go together"},
        {{"--tls-keep", "2h"}, "--tls-keep must be at most 1h"},
        {{"--tls-keep", "soon"}, "--tls-keep"},
    };
    for (const Case& c : cases) {
        std::vector<std::string> args{"-u", tls.url()};
        args.insert(args.end(), c.args.begin(), c.args.end());
        args.insert(args.end(), {"take", "a"});
        RunResult r = tbucket::test::tbucket(args);
        INFO(c.says);
        CHECK(r.code == 2);
        CHECK(one_error_line(r.err));
        CHECK_THAT(r.err, Catch::Contains(c.says));
    }
    RunResult no_tls = tbucket::test::tbucket(
        {"-u", tls.server->url(), "--cacert", tls.cert("ca.crt"), "take", "a"});
    CHECK(no_tls.code == 2);
    CHECK_THAT(no_tls.err, Catch::Contains("need --tls or a rediss:// URL"));
    RunResult keep_env = tbucket::test::tbucket(
        {"-u", tls.url(), "take", "a"}, tbucket::test::with_env({{"TBUCKET_TLS_KEEP", "soon"}}));
    CHECK(keep_env.code == 2);
    CHECK(one_error_line(keep_env.err));
    CHECK_THAT(keep_env.err, Catch::Contains("TBUCKET_TLS_KEEP"));
    CHECK(std::stoll(tls.server->info_field("stats", "total_connections_received")) == before);
    CHECK(tls.server->integer({"DBSIZE"}) == 0);
}

TEST_CASE("rediss-sentinel:// asks a Sentinel over TLS and reaches the primary over TLS",
          "[tls][e2e]") {
    TlsServer tls;
    // The Sentinel watches the primary on its TLS port (tls-replication:
    // its own connections use TLS), and answers on a TLS port of its own.
    int sentinel_port = free_port();
    auto sentinel = RedisServer::sentinel(
        tls.tls_port, "main", 1000,
        {"--tls-port", std::to_string(sentinel_port), "--tls-cert-file", tls.cert("server.crt"),
         "--tls-key-file", tls.cert("server.key"), "--tls-ca-cert-file", tls.cert("ca.crt"),
         "--tls-auth-clients", "no", "--tls-replication", "yes"});
    std::string url = "rediss-sentinel://127.0.0.1:" + std::to_string(sentinel_port) + "/main";
    auto tb_tls = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {tbucket_path(), "-u", url, "--cacert", tls.cert("ca.crt")});
        return run(args);
    };
    RunResult take = tb_tls({"take", "t", "--capacity", "3"});
    INFO(describe(take));
    CHECK(take.code == 0);
    RunResult info = tb_tls({"--json", "info", "t"});
    REQUIRE(info.code == 0);
    CHECK(nlohmann::json::parse(info.out)["node"] == "127.0.0.1:" + std::to_string(tls.tls_port));
    // Without the CA the Sentinel's certificate is not trusted: one line, 69.
    RunResult untrusted = run({tbucket_path(), "-u", url, "take", "t"});
    CHECK(untrusted.code == 69);
    CHECK(untrusted.err.find("Sentinel") != std::string::npos);
}
