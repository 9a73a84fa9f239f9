// The TLS keeper (src/net/tls_keeper.h), end to end: the built tbucket against
// a redis-server's TLS port, often through a ByteRelay that can stop
// letting new connections through. A command that still reaches the server
// then can only have used a connection the keeper made before: that is how
// these tests tell "through the keeper" from "by itself".

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/byte_relay.h"
#include "support/e2e.h"
#include "support/tls_server.h"

namespace fs = std::filesystem;
using tbucket::test::ByteRelay;
using tbucket::test::eventually;
using tbucket::test::one_error_line;
using tbucket::test::process_alive;
using tbucket::test::read_file;
using tbucket::test::RunOptions;
using tbucket::test::RunResult;
using tbucket::test::TlsServer;

namespace {

// tbucket over TLS through a relay to the server, trusting the test CA.
struct Relayed {
    explicit Relayed(TlsServer& server) : tls(server), relay(server.tls_port) {}
    RunResult tb(std::vector<std::string> args, const RunOptions& options = {}) {
        args.insert(args.begin(), {tbucket::test::tbucket_path(), "-u",
                                   "rediss://127.0.0.1:" + std::to_string(relay.port()), "--cacert",
                                   tls.cert("ca.crt")});
        return tbucket::test::run(args, options);
    }
    // Runs `args` once the relay lets no new connection through: it
    // succeeds only over a connection the keeper made before (the keeper
    // keeps one ready a moment after its handshake, so this tries again
    // until then). `connections`: the relay has passed these by then (the
    // command that started the keeper, and the keeper's spare).
    RunResult through_keeper(std::vector<std::string> args, std::size_t connections = 2,
                             const RunOptions& options = {}) {
        REQUIRE(relay.accepted(connections) >= connections);
        relay.refuse_new();
        RunResult result;
        eventually([&] {
            result = tb(args, options);
            return result.code == 0;
        });
        return result;
    }

    TlsServer& tls;
    ByteRelay relay;
};

int only_keeper(const TlsServer& tls) {
    std::vector<int> pids;
    eventually([&] {
        pids = tls.keeper_pids();
        return pids.size() == 1 && process_alive(pids[0]);
    });
    REQUIRE(pids.size() == 1);
    return pids[0];
}

std::vector<std::string> keeper_files(const TlsServer& tls) {
    return tbucket::test::files_named(tls.session_dir(), "keep-");
}

}  // namespace

TEST_CASE("a one-shot command over TLS goes through the keeper the command before started",
          "[tls][e2e][keeper]") {
    TlsServer tls;
    Relayed r(tls);
    RunResult first = r.tb({"create", "k", "--capacity", "100"});
    REQUIRE(first.code == 0);
    only_keeper(tls);
    RunResult took = r.through_keeper({"-v", "take", "k", "3"});
    CHECK(took.code == 0);
    CHECK(took.err.empty());
    CHECK_THAT(took.out, Catch::StartsWith("k  97/100"));
    // Tries that found no connection ready took nothing.
    CHECK(tls.server->dump_hash("tbucket:{k}").find("t=97 ") != std::string::npos);
}

TEST_CASE("a stopped keeper is passed over: one-shot commands connect by themselves",
          "[tls][e2e][keeper]") {
    TlsServer tls;
    Relayed r(tls);
    REQUIRE(r.tb({"create", "st", "--capacity", "100"}).code == 0);
    int pid = only_keeper(tls);
    REQUIRE(::kill(pid, SIGSTOP) == 0);
    // SIGSTOP takes effect when the keeper is next scheduled: until then it
    // is not yet a stopped keeper, and a command may be connected to it when
    // it stops (that command times out, 69: a CI run on a busy machine).
    REQUIRE(eventually([&] { return tbucket::test::process_state(pid) == 'T'; }));
    RunResult took = r.tb({"take", "st", "3"});
    RunResult again = r.tb({"take", "st", "3"});
    ::kill(pid, SIGCONT);
    INFO(took.err);
    CHECK(took.code == 0);
    CHECK(again.code == 0);
    CHECK(tls.server->dump_hash("tbucket:{st}").find("t=94 ") != std::string::npos);
}

TEST_CASE("a keeper started by a command whose URL carries a password holds no URL",
          "[tls][e2e][keeper][security]") {
    TlsServer tls;
    tls.server->command({"ACL", "SETUSER", "app", "on", ">s3cret-word", "~*", "&*", "+@all"});
    ByteRelay relay(tls.tls_port);
    std::string url = "rediss://app:s3cret-word@127.0.0.1:" + std::to_string(relay.port());
    RunResult made =
        tbucket::test::run({tbucket::test::tbucket_path(), "--cacert", tls.cert("ca.crt"), "create",
                            "u", "--capacity", "10"},
                           tbucket::test::with_env({{"TBUCKET_URL", url}, {"REDIS_URL", url}}));
    REQUIRE(made.code == 0);
    int pid = only_keeper(tls);
    std::string proc = "/proc/" + std::to_string(pid);
    CHECK(read_file(proc + "/environ").find("s3cret-word") == std::string::npos);
    CHECK(read_file(proc + "/cmdline").find("s3cret-word") == std::string::npos);
}

TEST_CASE("the keeper's socket is the user's only, and the keeper holds no password",
          "[tls][e2e][keeper][security]") {
    TlsServer tls;
    tls.server->command({"ACL", "SETUSER", "app", "on", ">s3cret-word", "~*", "&*", "+@all"});
    ByteRelay relay(tls.tls_port);
    std::string url = "rediss://app@127.0.0.1:" + std::to_string(relay.port());
    auto tb = [&](std::vector<std::string> args, std::map<std::string, std::string> env) {
        args.insert(args.begin(),
                    {tbucket::test::tbucket_path(), "-u", url, "--cacert", tls.cert("ca.crt")});
        return tbucket::test::run(args, tbucket::test::with_env(env));
    };
    REQUIRE(tb({"create", "p", "--capacity", "10"}, {{"TBUCKET_PASSWORD", "s3cret-word"}}).code ==
            0);
    int pid = only_keeper(tls);
    std::string proc = "/proc/" + std::to_string(pid);
    CHECK(read_file(proc + "/environ").find("s3cret-word") == std::string::npos);
    CHECK(read_file(proc + "/cmdline").find("s3cret-word") == std::string::npos);
    struct stat dir {};
    REQUIRE(::lstat(tls.session_dir().c_str(), &dir) == 0);
    CHECK((dir.st_mode & 0777) == 0700);
    std::vector<std::string> files = keeper_files(tls);
    CHECK(files.size() == 2);  // its socket and its lock
    for (const std::string& file : files) {
        struct stat st {};
        REQUIRE(::lstat(file.c_str(), &st) == 0);
        INFO(file);
        CHECK(st.st_uid == ::geteuid());
        CHECK((st.st_mode & 077) == 0);
    }
    // Through the keeper the command authenticates itself: without the
    // password, the server refuses it.
    REQUIRE(relay.accepted(2) >= 2);
    relay.refuse_new();
    RunResult with;
    eventually([&] {
        with = tb({"take", "p"}, {{"TBUCKET_PASSWORD", "s3cret-word"}});
        return with.code == 0;
    });
    CHECK(with.code == 0);
    RunResult without = tb({"take", "p"}, {});
    CHECK(without.code != 0);
    CHECK(tls.server->dump_hash("tbucket:{p}").find("t=9 ") != std::string::npos);
}

TEST_CASE("neither --insecure, --no-session-cache nor a keep time of 0 starts or uses a keeper",
          "[tls][e2e][keeper]") {
    TlsServer tls;
    REQUIRE(tls.tb({"create", "n", "--capacity", "10"},
                   tbucket::test::with_env({{"TBUCKET_TLS_KEEP", "0"}}))
                .code == 0);
    REQUIRE(tls.tb({"--tls-keep", "0", "take", "n"}).code == 0);
    REQUIRE(tls.tb({"--no-session-cache", "take", "n"}).code == 0);
    REQUIRE(tbucket::test::tbucket({"-u", tls.url(), "--insecure", "take", "n"}).code == 0);
    CHECK(keeper_files(tls).empty());
    // One started now serves none of those.
    REQUIRE(tls.tb({"take", "n"}).code == 0);
    only_keeper(tls);
    CHECK(tbucket::test::tbucket({"-u", tls.url(), "--insecure", "take", "n"}).code == 0);
    CHECK(tls.server->dump_hash("tbucket:{n}").find("t=5 ") != std::string::npos);
}

TEST_CASE("a keeper ends its keep time after the last command, and removes its socket",
          "[tls][e2e][keeper]") {
    TlsServer tls;
    REQUIRE(tls.tb({"--tls-keep", "1s", "create", "e", "--capacity", "10"}).code == 0);
    int pid = only_keeper(tls);
    CHECK(eventually([&] { return !process_alive(pid); }, 15));
    std::vector<std::string> left = keeper_files(tls);
    CHECK(std::none_of(left.begin(), left.end(), [](const std::string& f) {
        return f.size() > 5 && f.substr(f.size() - 5) == ".sock";
    }));
}

TEST_CASE("a killed keeper's socket is passed over, and the next command starts another",
          "[tls][e2e][keeper]") {
    TlsServer tls;
    REQUIRE(tls.tb({"create", "d", "--capacity", "10"}).code == 0);
    int pid = only_keeper(tls);
    ::kill(pid, SIGKILL);
    REQUIRE(eventually([&] { return !process_alive(pid); }));
    RunResult took = tls.tb({"take", "d"});
    CHECK(took.code == 0);
    CHECK(took.err.empty());
    int again = 0;
    CHECK(eventually([&] {
        std::vector<int> pids = tls.keeper_pids();
        again = pids.size() == 1 ? pids[0] : 0;
        return again != 0 && again != pid && process_alive(again);
    }));
    CHECK(tls.server->dump_hash("tbucket:{d}").find("t=9 ") != std::string::npos);
}

TEST_CASE("a server the keeper cannot verify fails as it would without the keeper",
          "[tls][e2e][keeper]") {
    TlsServer tls;
    REQUIRE(tls.tb({"create", "v", "--capacity", "10"}).code == 0);
    only_keeper(tls);
    TlsServer other;  // another throw-away CA: untrusted by the first's ca.crt
    std::vector<std::string> args{tbucket::test::tbucket_path(),
                                  "-u",
                                  other.url(),
                                  "--cacert",
                                  tls.cert("ca.crt"),
                                  "take",
                                  "v"};
    // `other` moved XDG_RUNTIME_DIR: this test's commands use the first's.
    RunOptions same_dir = tbucket::test::with_env({{"XDG_RUNTIME_DIR", tls.runtime_dir()}});
    RunResult kept = tbucket::test::run(args, same_dir);
    args.insert(args.begin() + 1, {"--tls-keep", "0"});
    RunResult direct = tbucket::test::run(args, same_dir);
    CHECK(kept.code == 69);
    CHECK(one_error_line(kept.err));
    CHECK_THAT(kept.err, Catch::Contains("unknown CA"));
    CHECK(kept.err == direct.err);
    CHECK(kept.code == direct.code);
}

TEST_CASE("mutual TLS goes through the keeper, and never without the client certificate",
          "[tls][e2e][keeper]") {
    TlsServer tls(true);
    Relayed r(tls);
    std::vector<std::string> certs{"--cert", tls.cert("client.crt"), "--key",
                                   tls.cert("client.key")};
    std::vector<std::string> create = certs;
    create.insert(create.end(), {"create", "m", "--capacity", "5"});
    REQUIRE(r.tb(create).code == 0);
    only_keeper(tls);
    std::vector<std::string> take = certs;
    take.insert(take.end(), {"take", "m"});
    CHECK(r.through_keeper(take).code == 0);
    // Without the certificate the keeper is another one's (none), and the
    // relay lets no connection through.
    RunResult without = r.tb({"take", "m"});
    CHECK(without.code == 69);
    CHECK(tls.server->dump_hash("tbucket:{m}").find("t=4 ") != std::string::npos);
}

TEST_CASE("a keeper of another user's is never used", "[tls][e2e][keeper][security]") {
    if (::geteuid() != 0) {
        WARN("not run: needs root, to listen as another user");
        return;
    }
    TlsServer tls;
    REQUIRE(tls.tb({"create", "u", "--capacity", "10"}).code == 0);
    int pid = only_keeper(tls);
    ::kill(pid, SIGKILL);
    REQUIRE(eventually([&] { return !process_alive(pid); }));
    std::string socket_path;
    for (const std::string& file : keeper_files(tls)) {
        if (file.substr(file.size() - 5) == ".sock") socket_path = file;
    }
    REQUIRE(!socket_path.empty());
    ::unlink(socket_path.c_str());
    // In its place, a socket listened on by nobody (65534), which reports
    // through a pipe how many bytes it was sent.
    int report[2];
    REQUIRE(::pipe(report) == 0);
    pid_t child = ::fork();
    if (child == 0) {
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strncpy(address.sun_path, socket_path.c_str(), sizeof address.sun_path - 1);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::setresuid(65534, 65534, 65534) != 0 || ::listen(fd, 8) != 0)
            ::_exit(1);
        ssize_t ready = ::write(report[1], "L", 1);
        int client = ::accept(fd, nullptr, nullptr);
        char buffer[4096];
        ssize_t got = client >= 0 ? ::read(client, buffer, sizeof buffer) : 0;
        char byte = got > 0 ? 'B' : 'N';
        ready = ::write(report[1], &byte, 1);
        (void)ready;
        ::_exit(0);
    }
    ::close(report[1]);
    char state = 0;
    REQUIRE(::read(report[0], &state, 1) == 1);
    REQUIRE(state == 'L');
    RunResult took = tls.tb({"take", "u"});
    CHECK(took.code == 0);
    CHECK(took.err.empty());
    pollfd answer{report[0], POLLIN, 0};
    state = ::poll(&answer, 1, 10000) == 1 && ::read(report[0], &state, 1) == 1 ? state : 'T';
    CHECK(state == 'N');  // it was connected to, and sent nothing
    ::close(report[0]);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    CHECK(tls.server->dump_hash("tbucket:{u}").find("t=9 ") != std::string::npos);
}

TEST_CASE(
    "a keeper killed during a command: the command asks again through the next, and "
    "takes once",
    "[tls][e2e][keeper][faults]") {
    TlsServer tls;
    REQUIRE(tls.tb({"create", "f", "--capacity", "10"}).code == 0);
    int pid = only_keeper(tls);
    // Writes wait at the server: the take sits there, sent through the keeper.
    tls.server->command({"CLIENT", "PAUSE", "20000", "WRITE"});
    tbucket::test::Child take({tbucket::test::tbucket_path(), "-v", "-u", tls.url(), "--cacert",
                               tls.cert("ca.crt"), "take", "f"});
    REQUIRE(
        eventually([&] { return tls.server->info_field("clients", "blocked_clients") == "1"; }));
    ::kill(pid, SIGKILL);
    REQUIRE(eventually([&] { return !process_alive(pid); }));
    tls.server->command({"CLIENT", "UNPAUSE"});
    RunResult took = take.wait();
    INFO(tbucket::test::describe(took));
    CHECK(took.code == 0);
    CHECK_THAT(took.out, Catch::StartsWith("f  9/10"));
    CHECK(tls.server->dump_hash("tbucket:{f}").find("t=9 ") != std::string::npos);
    std::vector<int> now = tls.keeper_pids();
    CHECK((now.size() == 1 && now[0] != pid && process_alive(now[0])));
}

TEST_CASE("the keeper's own flag typed by hand is exit 2 with one line",
          "[tls][e2e][keeper][usage]") {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--tls-keeper"},
          std::vector<std::string>{"--tls-keeper", "/tmp", "1000", "", "", "", "", "", "h", "1",
                                   "x"}}) {
        RunResult r = tbucket::test::tbucket(args);
        CHECK(r.code == 2);
        CHECK(one_error_line(r.err));
        CHECK_THAT(r.err, Catch::Contains("not an option to type"));
    }
}
