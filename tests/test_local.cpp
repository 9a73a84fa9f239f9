// Local mode (SPEC §14, --url local): the built binary starts a private
// redis-server on a unix socket in a private directory (here a temporary
// XDG_RUNTIME_DIR and XDG_STATE_HOME), reuses it, and finds its state
// after a SIGKILL. Servers are stopped by the pid in their pid file.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "support/e2e.h"

using namespace tbucket::test;
using nlohmann::json;

namespace {

struct Local {
    TempDir temp{"local"};
    const std::string dir = temp.path;
    Local() { std::filesystem::create_directories(dir + "/run"); }
    ~Local() { stop(); }  // before the directory goes
    RunOptions options(double timeout_s = 60) const {
        RunOptions o =
            with_env({{"XDG_RUNTIME_DIR", dir + "/run"}, {"XDG_STATE_HOME", dir + "/state"}});
        o.timeout_s = timeout_s;
        return o;
    }
    std::vector<std::string> argv(std::vector<std::string> args) const {
        args.insert(args.begin(), {tbucket_path(), "--url", "local"});
        return args;
    }
    RunResult tb(std::vector<std::string> args) const {
        return run(argv(std::move(args)), options());
    }
    std::string socket() const { return dir + "/run/tbucket/redis.sock"; }
    pid_t pid() const {
        std::ifstream in(dir + "/run/tbucket/redis.pid");
        pid_t p = 0;
        in >> p;
        return p;
    }
    // redis-server processes serving this test's socket, from /proc.
    int servers() const {
        int n = 0;
        for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
            // A process that ends while it is read reads as "".
            std::string cmdline = read_file(entry.path() / "cmdline");
            if (cmdline.find(socket()) != std::string::npos &&
                cmdline.find("redis-server") != std::string::npos)
                ++n;
        }
        return n;
    }
    // SIGKILL by the pid file's pid; waits until it is gone.
    void stop() const {
        pid_t p = pid();
        if (p <= 0 || ::kill(p, 0) != 0) return;
        ::kill(p, SIGKILL);
        eventually([p] { return ::kill(p, 0) != 0; }, 30);
        std::filesystem::remove(dir + "/run/tbucket/redis.pid");
    }
};

}  // namespace

TEST_CASE("local mode: a second command waits in line, and the state survives a SIGKILL",
          "[local]") {
    Local local;
    CHECK(local.servers() == 0);
    // The holder runs until the test makes a file; the waiter waits in line.
    const std::string go = local.dir + "/go";
    Child holder(local.argv({"run", "x", "--capacity", "1", "--", "sh", "-c",
                             "while [ ! -e " + go + " ]; do sleep 0.05; done"}),
                 local.options());
    auto info = [&] {
        RunResult r = local.tb({"--json", "info", "x"});
        return r.code == 0 ? json::parse(r.out) : json();
    };
    REQUIRE(eventually([&] { return info()["leased"] == 1; }, 60));
    Child waiter(local.argv({"--json", "take", "x", "--wait=120s"}), local.options(150));
    REQUIRE(eventually([&] { return info()["waiters"] == 1; }, 60));
    std::ofstream(go) << "";
    RunResult waited = waiter.wait();
    INFO(describe(waited));
    CHECK(waited.code == 0);
    CHECK(json::parse(waited.out)["waited_ms"].get<int64_t>() > 0);
    CHECK(holder.wait().code == 0);
    CHECK(local.servers() == 1);
    // The server outlived both commands; SIGKILL it: the next command starts
    // another, which reads the append-only file.
    pid_t first = local.pid();
    CHECK(first > 0);
    local.stop();
    RunResult after = local.tb({"--json", "info", "x"});
    INFO(describe(after));
    REQUIRE(after.code == 0);
    json s = json::parse(after.out);
    CHECK(s["tokens"] == 0);
    CHECK(s["counters"]["grants"] == 2);
    CHECK(local.pid() != first);
    CHECK(local.servers() == 1);
    // Private: the socket's directory is the user's alone.
    CHECK((std::filesystem::status(local.dir + "/run/tbucket").permissions() &
           (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) ==
          std::filesystem::perms::none);
}

TEST_CASE("local mode: two commands starting it at the same instant start one server, 20 times",
          "[local]") {
    Local local;
    for (int round = 0; round < 20; ++round) {
        INFO("round " << round);
        std::vector<std::unique_ptr<Child>> both;
        for (int i = 0; i < 2; ++i) {
            both.push_back(std::make_unique<Child>(
                local.argv({"create", "r" + std::to_string(i), "--capacity", "5"}),
                local.options()));
        }
        for (auto& c : both) CHECK(c->wait().code == 0);
        CHECK(local.servers() == 1);
        local.stop();
        CHECK(local.servers() == 0);
    }
}
