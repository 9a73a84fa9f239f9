// Faults between tbucket and Redis, end to end, all on 127.0.0.1: a server
// that accepts and never answers, one whose accept queue is full (connect
// timeout), one that hangs up or speaks another protocol, one at its client
// limit, and a flushed script cache. A server killed during a wait is in
// test_wait.cpp ("a wait with the server gone for good ends at its deadline
// with 69", "a waiter survives a Redis restart and wakes on the next put").

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "support/e2e.h"

using tbucket::test::redis;
using tbucket::test::RunResult;

namespace {

using Clock = std::chrono::steady_clock;

// A loopback listening socket that nobody accepts from.
class Listener {
  public:
    explicit Listener(int backlog) {
        fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(listen(fd_, backlog) == 0);
        REQUIRE(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
        port_ = ntohs(addr.sin_port);
    }
    ~Listener() {
        for (int c : clients_) close(c);
        close(fd_);
    }
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    int fd() const { return fd_; }
    int port() const { return port_; }
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

    // Connections of our own that sit in the accept queue until it is full:
    // the kernel then drops further SYNs, and a connect waits (it retries
    // after 1s, 3s, ...) until its own timeout.
    void fill_queue(int n) {
        for (int i = 0; i < n; ++i) {
            int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            addr.sin_port = htons(static_cast<uint16_t>(port_));
            connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
            clients_.push_back(c);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // handshakes done
    }

  private:
    int fd_ = -1;
    int port_ = 0;
    std::vector<int> clients_;
};

// Accepts every connection, sends `reply` (if any) and hangs up.
class RudeServer {
  public:
    explicit RudeServer(std::string reply) : listener_(16), reply_(std::move(reply)) {
        thread_ = std::thread([this] { serve(); });
    }
    ~RudeServer() {
        stop_ = true;
        shutdown(listener_.fd(), SHUT_RDWR);
        thread_.join();
    }
    std::string url() const { return listener_.url(); }

  private:
    void serve() {
        while (!stop_) {
            int c = accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the request arrive
            if (!reply_.empty()) {
                ssize_t ignored = send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
                (void)ignored;
            }
            close(c);
        }
    }
    Listener listener_;
    std::string reply_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace

TEST_CASE("a server that accepts but never answers is exit 69 at the I/O timeout",
          "[trust][faults]") {
    Listener silent(16);
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"info", "x"}, {"take", "x", "--wait=5s"}, {"list"}}) {
        std::vector<std::string> argv{"--timeout-io", "500ms", "-u", silent.url()};
        argv.insert(argv.end(), args.begin(), args.end());
        auto start = Clock::now();
        RunResult r = tbucket::test::tbucket(argv);
        double took = tbucket::test::seconds_since(start);
        INFO(Catch::StringMaker<std::vector<std::string>>::convert(args)
             << ": " << took << "s, stderr: " << r.err);
        CHECK(r.code == 69);
        CHECK(r.out.empty());
        CHECK(tbucket::test::one_error_line(r.err));
        CHECK_THAT(r.err, Catch::Contains("127.0.0.1:" + std::to_string(silent.port())));
        CHECK(took >= 0.45);
        CHECK(took < 1.5);
    }
}

TEST_CASE(
    "a change sent to a server that never answers is asked again until the retry window, "
    "then exit 69 saying the outcome is unknown",
    "[trust][faults]") {
    Listener silent(16);
    // The window: 2 x --timeout-io + --connect-timeout = 1.5s.
    RunResult r = tbucket::test::tbucket(
        {"--timeout-io", "500ms", "--connect-timeout", "500ms", "-u", silent.url(), "take", "x"});
    CHECK(r.code == 69);
    CHECK(r.out.empty());
    CHECK(tbucket::test::one_error_line(r.err));
    CHECK_THAT(r.err, Catch::Contains("whether it happened is unknown"));
    CHECK_THAT(r.err, Catch::Contains("asked again for 1s500ms with the same request id"));
}

TEST_CASE("a server whose accept queue is full is exit 69 at the connect timeout",
          "[trust][faults]") {
    Listener full(0);
    full.fill_queue(3);
    auto start = Clock::now();
    RunResult r =
        tbucket::test::tbucket({"--connect-timeout", "500ms", "-u", full.url(), "info", "x"});
    double took = tbucket::test::seconds_since(start);
    INFO(took << "s, stderr: " << r.err);
    CHECK(r.code == 69);
    CHECK(tbucket::test::one_error_line(r.err));
    CHECK_THAT(r.err, Catch::Contains("cannot connect"));
    CHECK(took >= 0.45);
    CHECK(took < 1.5);
}

TEST_CASE("a server that hangs up or speaks another protocol is exit 69", "[trust][faults]") {
    for (const std::string& reply : {std::string(), std::string("HTTP/1.1 400 Bad Request\r\n\r\n"),
                                     std::string("$99999999999\r\n")}) {
        RudeServer server(reply);
        for (const std::vector<std::string>& args :
             std::vector<std::vector<std::string>>{{"info", "x"}, {"take", "x", "--wait=2s"}}) {
            std::vector<std::string> argv{"--timeout-io", "1s", "-u", server.url()};
            argv.insert(argv.end(), args.begin(), args.end());
            RunResult r = tbucket::test::tbucket(argv);
            INFO("reply " << reply << ", "
                          << Catch::StringMaker<std::vector<std::string>>::convert(args)
                          << ": stderr " << r.err);
            CHECK(r.code == 69);
            CHECK(tbucket::test::one_error_line(r.err));
        }
    }
}

// SPEC §5: 69 is "Redis unavailable: cannot connect". Redis answers a
// connection over maxclients with "-ERR max number of clients reached" and
// closes it; tbucket reads that as an unknown error, 70 (a bug), except
// while subscribing.
TEST_CASE("a server at its client limit is exit 69", "[trust][faults]") {
    tbucket::test::RedisServer server(
        {"--maxclients", "1"});  // the fixture's own connection is the one
    REQUIRE(server.string({"PING"}) == "PONG");
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{"info", "x"},
                                               {"take", "x", "--capacity", "1"},
                                               {"list"},
                                               {"take", "x", "--wait=1s"}}) {
        std::vector<std::string> argv{"-u", server.url()};
        argv.insert(argv.end(), args.begin(), args.end());
        RunResult r = tbucket::test::tbucket(argv);
        INFO(Catch::StringMaker<std::vector<std::string>>::convert(args) << ": stderr " << r.err);
        CHECK(r.code == 69);
        CHECK(tbucket::test::one_error_line(r.err));
    }
}

TEST_CASE("after SCRIPT FLUSH the next command reloads its script and works",
          "[trust][faults][noscript]") {
    auto tb = [](std::vector<std::string> args) {
        return tbucket::test::run(tbucket::test::tb_argv(redis().url(), std::move(args)));
    };
    REQUIRE(tb({"create", "s", "--capacity", "5"}).code == 0);
    REQUIRE(tb({"take", "s"}).code == 0);
    redis().command({"SCRIPT", "FLUSH"});
    redis().command({"CONFIG", "RESETSTAT"});
    RunResult r = tb({"--json", "take", "s"});
    CHECK(r.code == 0);
    CHECK(nlohmann::json::parse(r.out)["tokens"] == 3);
    CHECK(redis().command_calls("evalsha") == 1);  // NOSCRIPT...
    CHECK(redis().command_calls("eval") == 1);     // ...then the source
    CHECK(tb({"take", "s"}).code == 0);
    CHECK(redis().command_calls("evalsha") == 2);  // cached again
    CHECK(redis().command_calls("eval") == 1);
    // Each script on its own: a flush before every kind of command.
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{"put", "s"},
                                               {"info", "s"},
                                               {"reset", "s"},
                                               {"create", "s", "--capacity", "5"},
                                               {"list", "--json"},
                                               {"watch", "s", "--timeout", "1s"},
                                               {"take", "s", "--wait=1s"},
                                               {"run", "s", "--", "true"},
                                               {"delete", "s"}}) {
        redis().command({"SCRIPT", "FLUSH"});
        RunResult each = tb(args);
        INFO(Catch::StringMaker<std::vector<std::string>>::convert(args)
             << ": stderr " << each.err);
        CHECK(each.code == 0);
    }
    CHECK(redis().integer({"EXISTS", "tbucket:{s}"}) == 0);
}
