// tbucket top driven in a real terminal: tmux runs it in a pane of 120x30,
// the test reads the screen with capture-pane and types with send-keys.
// The pane's shell records `stty -a` before and after, and top's exit
// status, so the test can tell that the terminal was put back.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/e2e.h"

using tbucket::test::describe;
using tbucket::test::read_file;
using tbucket::test::redis;
using tbucket::test::RunResult;
using tbucket::test::tb;

#ifdef TBUCKET_TMUX
namespace {

// A tmux server of its own (its socket in a temporary directory) with one
// pane running `script` under sh; killed, with the directory, at the end.
class Pane {
  public:
    explicit Pane(const std::string& script, int width = 120, int height = 30) {
        char pattern[] = "/tmp/tbucket-top-XXXXXX";
        if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp");
        dir_ = pattern;
        RunResult r = tmux({"new-session", "-d", "-x", std::to_string(width), "-y",
                            std::to_string(height), "sh", "-c", script});
        if (r.code != 0) throw std::runtime_error("tmux new-session: " + r.err);
    }
    ~Pane() {
        tmux({"kill-server"});
        tbucket::test::run({"rm", "-rf", dir_});
    }
    const std::string& dir() const { return dir_; }
    std::string screen() { return tmux({"capture-pane", "-p"}).out; }
    void keys(const std::string& keys) { tmux({"send-keys", keys}); }
    // True once the screen shows `text`, within `seconds`.
    bool shows(const std::string& text, double seconds = 10) {
        return until([&] { return screen().find(text) != std::string::npos; }, seconds);
    }
    // True once the file at `path` has something in it, within `seconds`.
    bool has_file(const std::string& path, double seconds = 10) {
        return until([&] { return !read_file(path).empty(); }, seconds);
    }

  private:
    RunResult tmux(std::vector<std::string> args) {
        args.insert(args.begin(), {"env", "-u", "TMUX", TBUCKET_TMUX, "-S", dir_ + "/tmux.sock"});
        return tbucket::test::run(args);
    }
    template <typename F>
    bool until(F ok, double seconds) {
        auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
        while (std::chrono::steady_clock::now() < end) {
            if (ok()) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return false;
    }
    std::string dir_;
};

// sh in the pane: a marker on the normal screen, the terminal's settings,
// then top (its pid in D/pid), its status and the settings again.
std::string pane_script(const std::string& dir, const std::string& args) {
    std::string tb = tbucket::test::tbucket_path() + " -u " + redis().url();  // no blanks in either
    return "echo MARK-BEFORE-TOP; stty -a > " + dir + "/before; sh -c 'echo $$ > " + dir +
           "/pid; exec " + tb + " top " + args + "'; echo $? > " + dir + "/status; stty -a > " +
           dir + "/after; sleep 60";
}

}  // namespace

TEST_CASE("top in a terminal: shows the buckets, sorts on a key, q restores the terminal",
          "[metrics][top]") {
    redis().flush();
    REQUIRE(tb({"create", "api", "--capacity", "10", "--rate", "5/s", "--tokens", "5"}).code == 0);
    REQUIRE(tb({"create", "jobs", "--capacity", "4"}).code == 0);
    REQUIRE(tb({"take", "jobs", "4"}).code == 0);
    REQUIRE(tb({"take", "jobs"}).code == 1);
    char dir_pattern[] = "/tmp/tbucket-top-script-XXXXXX";
    REQUIRE(mkdtemp(dir_pattern));
    std::string dir = dir_pattern;
    Pane pane(pane_script(dir, "--sort n"));
    REQUIRE(pane.shows("sort: name"));
    REQUIRE(pane.shows("0/4"));
    std::string first = pane.screen();
    INFO(first);
    CHECK(first.find("MARK-BEFORE-TOP") == std::string::npos);         // the alternate screen
    CHECK(first.find("[....................]") != std::string::npos);  // jobs: empty
    CHECK(first.find("NAME") < first.find("api"));
    CHECK(first.find("api") < first.find("jobs"));  // by name
    pane.keys("l");
    REQUIRE(pane.shows("sort: level"));
    std::string sorted = pane.screen();
    INFO(sorted);
    CHECK(sorted.find("jobs") < sorted.find("api"));  // emptiest first
    pane.keys("q");
    REQUIRE(pane.has_file(dir + "/status"));
    REQUIRE(pane.has_file(dir + "/after"));
    CHECK(read_file(dir + "/status") == "0\n");
    CHECK(read_file(dir + "/after") == read_file(dir + "/before"));  // echo and canonical mode back
    REQUIRE(pane.shows("MARK-BEFORE-TOP"));                          // the normal screen back
    CHECK(pane.screen().find("sort: level") == std::string::npos);
    tbucket::test::run({"rm", "-rf", dir});
}

TEST_CASE("top fits the terminal: every column at 80x24, the bar and whole names at 200x50",
          "[metrics][top]") {
    redis().flush();
    const std::string long_name(42, 'n');  // 42 characters, as the issue's
    REQUIRE(tb({"create", long_name, "--capacity", "100"}).code == 0);
    REQUIRE(tb({"create", "api", "--capacity", "10", "--rate", "10/min"}).code == 0);
    for (auto [width, height] : {std::pair{80, 24}, std::pair{200, 50}}) {
        INFO(width << "x" << height);
        char dir_pattern[] = "/tmp/tbucket-top-script-XXXXXX";
        REQUIRE(mkdtemp(dir_pattern));
        std::string dir = dir_pattern;
        Pane pane(pane_script(dir, "--sort n"), width, height);
        REQUIRE(pane.shows("100/100"));
        std::string screen = pane.screen();
        INFO(screen);
        for (const char* column :
             {"NAME", "TOKENS", "REFILL", "GRANT/S", "DENY/S", "LEASED", "WAITING", "EXPIRED"})
            CHECK(screen.find(column) != std::string::npos);
        CHECK(screen.find("10/min") != std::string::npos);
        if (width == 80) {
            CHECK(screen.find(long_name) == std::string::npos);
            CHECK(screen.find("nnnn\u2026") != std::string::npos);  // cut, with an ellipsis
            CHECK(screen.find("LEVEL") == std::string::npos);       // no room for the bar
        } else {
            CHECK(screen.find(long_name + "  [") != std::string::npos);
            CHECK(screen.find("LEVEL") != std::string::npos);
        }
        pane.keys("q");
        REQUIRE(pane.has_file(dir + "/status"));
        tbucket::test::run({"rm", "-rf", dir});
    }
}

TEST_CASE("top ends on SIGTERM with 143 and the terminal restored", "[metrics][top]") {
    redis().flush();
    REQUIRE(tb({"create", "api", "--capacity", "10"}).code == 0);
    char dir_pattern[] = "/tmp/tbucket-top-script-XXXXXX";
    REQUIRE(mkdtemp(dir_pattern));
    std::string dir = dir_pattern;
    Pane pane(pane_script(dir, ""));
    REQUIRE(pane.shows("10/10"));
    REQUIRE(pane.has_file(dir + "/pid"));
    pid_t pid = std::stoi(read_file(dir + "/pid"));
    REQUIRE(kill(pid, SIGTERM) == 0);
    REQUIRE(pane.has_file(dir + "/status"));
    REQUIRE(pane.has_file(dir + "/after"));
    CHECK(read_file(dir + "/status") == "143\n");
    CHECK(read_file(dir + "/after") == read_file(dir + "/before"));
    CHECK(pane.shows("MARK-BEFORE-TOP"));
    tbucket::test::run({"rm", "-rf", dir});
}
#endif

TEST_CASE("top into a pipe prints one table with rates over a second, and exits 0",
          "[metrics][top]") {
    redis().flush();
    REQUIRE(tb({"create", "api", "--capacity", "100"}).code == 0);
    REQUIRE(tb({"create", "b", "--capacity", "3", "--tokens", "0"}).code == 0);
    tbucket::test::Child top(tbucket::test::tb_argv(redis().url(), {"top", "--sort", "d"}));
    // Denials on b all through top's second: b's denials/s above 0, so b first.
    std::atomic<bool> done{false};
    std::thread denials([&done] {
        while (!done) tb({"take", "b"});
    });
    RunResult r = top.wait();
    done = true;
    denials.join();
    CHECK(r.code == 0);
    std::vector<std::string> lines = tbucket::test::text_lines(r.out);
    INFO(r.out);
    REQUIRE(lines.size() >= 3);
    CHECK(lines[0].rfind("NAME", 0) == 0);
    CHECK(lines[1].rfind("b ", 0) == 0);
    CHECK(r.out.find('\x1b') == std::string::npos);  // no escape sequences into a pipe
}

TEST_CASE("top --json -n 2 -d 0.2 prints two JSON objects, one per refresh, with rates",
          "[metrics][top]") {
    redis().flush();
    REQUIRE(tb({"create", "api", "--capacity", "100"}).code == 0);
    RunResult r = tb({"--json", "top", "-n", "2", "-d", "0.2"});
    INFO(describe(r));
    REQUIRE(r.code == 0);
    std::vector<nlohmann::json> snapshots = tbucket::test::json_lines(r.out);
    REQUIRE(snapshots.size() == 2);
    for (const nlohmann::json& s : snapshots) {
        REQUIRE(s["buckets"].size() == 1);
        CHECK(s["buckets"][0]["name"] == "api");
        CHECK(s["buckets"][0]["grants_per_s"] == 0);
        CHECK(s["time_ms"].get<int64_t>() > 0);
    }
    CHECK(snapshots[1]["time_ms"] > snapshots[0]["time_ms"]);
    // Text into a pipe: -n tables, a blank line between them.
    RunResult text = tb({"top", "-n", "2", "-d", "0.1"});
    CHECK(text.code == 0);
    CHECK(tbucket::test::count_lines(text.out)["api"] == 0);  // lines carry more than the name
    CHECK(std::count(text.out.begin(), text.out.end(), '\n') == 5);  // 2 x (header, api), blank
    for (const auto& bad : std::vector<std::vector<std::string>>{
             {"top", "-d", "0"}, {"top", "-d", "x"}, {"top", "-n", "0"}}) {
        RunResult b = tb(bad);
        CHECK(b.code == 2);
        CHECK(tbucket::test::one_error_line(b.err));
    }
}

TEST_CASE("top --sort with an unknown key is a usage error", "[metrics][top]") {
    RunResult r = tb({"top", "--sort", "x"});
    CHECK(r.code == 2);
    CHECK(tbucket::test::one_error_line(r.err));
}
