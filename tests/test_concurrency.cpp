// Many processes of the built binary against one bucket at once: whatever
// the interleaving, the atomic scripts must never grant a token twice,
// lose a put, pass the capacity or outrun the refill rate.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/e2e.h"

using nlohmann::json;
using tbucket::test::Child;
using tbucket::test::count_lines;
using tbucket::test::redis;
using tbucket::test::RunResult;
using tbucket::test::tb;
using tbucket::test::with_env;

namespace {

// A sanitizer build's tbucket takes ~150ms to start instead of ~10ms: the
// same properties are checked there with fewer processes and a slower
// refill, so that they still finish in seconds.
const int scale = tbucket::test::sanitized() ? 10 : 1;

// A shell loop started now against this suite's server.
std::unique_ptr<Child> shell_loop(const std::string& script,
                                  std::map<std::string, std::string> env = {}) {
    return tbucket::test::shell_loop(redis().url(), script, std::move(env));
}

double level(const std::string& name) {
    json j = json::parse(tb({"--json", "info", name}).out);
    return j["tokens"].get<double>();
}

}  // namespace

TEST_CASE("8 processes taking twice the capacity: exactly the capacity is granted",
          "[trust][concurrency]") {
    const int loops_n = 8 / (scale > 1 ? 2 : 1), each = 50 / scale, capacity = loops_n * each / 2;
    REQUIRE(tb({"create", "b", "--capacity", std::to_string(capacity)}).code == 0);
    const std::string script = "for i in $(seq " + std::to_string(each) +
                               "); do \"$TB\" -q -u \"$URL\" take b; echo $?; done";
    std::vector<std::unique_ptr<Child>> loops;
    for (int i = 0; i < loops_n; ++i) loops.push_back(shell_loop(script));
    std::map<std::string, int> codes;
    for (auto& loop : loops) {
        RunResult r = loop->wait();
        CHECK(r.code == 0);
        CHECK(r.err.empty());
        for (const auto& [code, n] : count_lines(r.out)) codes[code] += n;
    }
    INFO("exit statuses: 0 x" << codes["0"] << ", 1 x" << codes["1"] << ", " << codes.size()
                              << " kinds");
    CHECK(codes["0"] == capacity);
    CHECK(codes["1"] == capacity);
    CHECK(codes.size() == 2);
    CHECK(redis().string({"HGET", "tbucket:{b}", "t"}) == "0");
    CHECK(level("b") == 0);
    // The scripts counted every request exactly once.
    json counters = json::parse(tb({"--json", "info", "b"}).out)["counters"];
    CHECK(counters["grants"] == capacity);
    CHECK(counters["denials"] == capacity);
    CHECK(counters["taken"] == capacity);
    CHECK(counters["waits_served"] == 0);
}

TEST_CASE("concurrent takes and puts add up: level = start - taken + added, within capacity",
          "[trust][concurrency]") {
    // A small capacity, so that both denials and overflows happen.
    REQUIRE(tb({"create", "m", "--capacity", "10", "--tokens", "5"}).code == 0);
    const int each = 60 / scale;
    const std::string seq = "for i in $(seq " + std::to_string(each) + "); do \"$TB\" -u \"$URL\" ";
    const std::string taker = seq + "-q take m; echo $?; done";
    const std::string putter = seq + "--json put m 1; done";
    std::vector<std::unique_ptr<Child>> takers, putters;
    for (int i = 0; i < 3; ++i) {
        takers.push_back(shell_loop(taker));
        putters.push_back(shell_loop(putter));
    }
    int taken = 0, denied = 0, puts = 0;
    double added = 0;
    for (auto& t : takers) {
        RunResult r = t->wait();
        CHECK(r.err.empty());
        std::map<std::string, int> codes = count_lines(r.out);
        taken += codes["0"];
        denied += codes["1"];
        CHECK(codes["0"] + codes["1"] == each);
    }
    for (auto& p : putters) {
        RunResult r = p->wait();
        CHECK(r.err.empty());
        for (const json& j : tbucket::test::json_lines(r.out)) {
            ++puts;
            double a = j["added"].get<double>(), o = j["overflow"].get<double>();
            CHECK(a + o == 1);
            CHECK((a == 0 || a == 1));
            CHECK(j["tokens"].get<double>() <= 10);
            CHECK(j["tokens"].get<double>() >= 0);
            added += a;
        }
    }
    INFO("taken " << taken << ", denied " << denied << ", puts " << puts << ", added " << added);
    CHECK(puts == 3 * each);
    double final_level = level("m");
    CHECK(final_level == 5 - taken + added);
    CHECK(final_level <= 10);
    CHECK(final_level >= 0);
}

TEST_CASE("hammering a refilling bucket never grants more than capacity + rate x elapsed",
          "[trust][concurrency]") {
    // One token every 10 s: the loops outrun it however slow the machine,
    // so takes are denied and the ceiling is what holds the grants back.
    const double rate = 0.1;  // tokens per second
    json created =
        json::parse(tb({"--json", "create", "r", "--capacity", "5", "--rate", "1/10s"}).out);
    const int64_t created_ms = created["server_time_ms"].get<int64_t>();
    char dir[] = "/tmp/tbucket-trust-XXXXXX";
    REQUIRE(mkdtemp(dir));
    const std::string stop = std::string(dir) + "/stop", denied_file = std::string(dir) + "/denied";
    const std::string script =
        "while [ ! -e \"$STOP\" ]; do \"$TB\" -u \"$URL\" --json take r || touch \"$DENIED\"; "
        "done";
    std::vector<std::unique_ptr<Child>> loops;
    for (int i = 0; i < 4; ++i)
        loops.push_back(shell_loop(script, {{"STOP", stop}, {"DENIED", denied_file}}));
    // Hammered past the first refill (10 s), and at least until the first
    // denial: an event, bounded generously.
    std::this_thread::sleep_for(std::chrono::seconds(12));
    CHECK(tbucket::test::eventually([&] { return access(denied_file.c_str(), F_OK) == 0; }, 120));
    std::ofstream(stop) << "stop\n";
    std::vector<int64_t> grants;  // server times of the granted takes
    int denied = 0;
    for (auto& loop : loops) {
        RunResult r = loop->wait();
        for (const json& j : tbucket::test::json_lines(r.out)) {
            if (j["ok"] == true) {
                CHECK(j["taken"] == 1);
                grants.push_back(j["server_time_ms"].get<int64_t>());
            } else {
                ++denied;
                CHECK(j["retry_after_ms"].get<int64_t>() <= 10000);  // 1 token at 1/10s
            }
        }
    }
    unlink(stop.c_str());
    unlink(denied_file.c_str());
    rmdir(dir);
    REQUIRE(!grants.empty());
    std::sort(grants.begin(), grants.end());
    // At every grant, all grants so far fit in what the bucket held plus what
    // refilled since; +1 for the millisecond truncation of server_time_ms.
    int bad_prefixes = 0;
    for (std::size_t k = 0; k < grants.size(); ++k) {
        double allowed = 5 + rate * static_cast<double>(grants[k] - created_ms) / 1000 + 1;
        if (static_cast<double>(k + 1) > allowed) ++bad_prefixes;
    }
    const double elapsed_s = static_cast<double>(grants.back() - created_ms) / 1000;
    const double ceiling = 5 + rate * elapsed_s + 1;
    INFO(grants.size() << " granted, " << denied << " denied, in " << elapsed_s << " s; ceiling "
                       << ceiling);
    CHECK(bad_prefixes == 0);
    CHECK(static_cast<double>(grants.size()) <= ceiling);
    CHECK(elapsed_s >= 9.9);  // a refilled token was granted too
    CHECK(denied > 0);        // the loops did outrun the refill
    // Four loops taking as fast as they can leave little of the refill
    // unused; half of it is a floor that a busy machine still clears.
    CHECK(static_cast<double>(grants.size()) >= 0.5 * (ceiling - 1));
}

TEST_CASE("10 watch --take waiters and 4 puts: exactly 4 win, the rest keep waiting",
          "[trust][concurrency][wait]") {
    REQUIRE(tb({"create", "w", "--capacity", "5", "--tokens", "0"}).code == 0);
    std::vector<std::unique_ptr<Child>> waiters;
    for (int i = 0; i < 10; ++i) {
        waiters.push_back(std::make_unique<Child>(tbucket::test::tb_argv(
            redis().url(), {"--json", "watch", "w", "--take", "--timeout", "300s"})));
    }
    REQUIRE(tbucket::test::wait_for_subscribers(redis(), "tbucket:{w}:events", 10));
    for (int i = 0; i < 4; ++i) REQUIRE(tb({"put", "w", "1"}).code == 0);
    // Four exit as the puts are taken, however slow the machine; the other
    // six are still waiting (a fifth winner would show here), then told to
    // stop: they took nothing.
    std::vector<bool> exited(waiters.size(), false);
    std::size_t n_exited = 0;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (n_exited < 4 && std::chrono::steady_clock::now() < until) {
        for (std::size_t i = 0; i < waiters.size(); ++i) {
            if (!exited[i] && waiters[i]->exited_within(0.01)) exited[i] = true, ++n_exited;
        }
    }
    REQUIRE(n_exited == 4);
    for (std::size_t i = 0; i < waiters.size(); ++i) {
        CHECK_FALSE((!exited[i] && waiters[i]->exited_within(0.05)));
    }
    int won = 0, stopped = 0, other = 0;
    for (std::size_t i = 0; i < waiters.size(); ++i) {
        if (!exited[i]) waiters[i]->signal(SIGTERM);
        RunResult r = waiters[i]->wait();
        if (r.code == 0) {
            ++won;
            json j = json::parse(r.out);
            CHECK(j["ok"] == true);
            CHECK(j["taken"] == 1);
        } else if (r.code == 128 + SIGTERM) {
            ++stopped;
            CHECK(r.out.empty());
        } else {
            ++other;
            UNSCOPED_INFO("unexpected exit " << r.code << ": " << r.err);
        }
    }
    CHECK(won == 4);
    CHECK(stopped == 6);
    CHECK(other == 0);
    CHECK(redis().string({"HGET", "tbucket:{w}", "t"}) == "0");
}

TEST_CASE("a credit above capacity never lets more than the level be taken, with take all racing",
          "[trust][concurrency]") {
    REQUIRE(tb({"create", "c", "--capacity", "10"}).code == 0);
    REQUIRE(tb({"put", "c", "7", "--force"}).code == 0);  // 17/10
    const std::string seq = "for i in $(seq 5); do \"$TB\" -u \"$URL\" --json take c ";
    std::vector<std::unique_ptr<Child>> loops;
    for (int i = 0; i < 4; ++i) loops.push_back(shell_loop(seq + "3; done"));
    for (int i = 0; i < 2; ++i) loops.push_back(shell_loop(seq + "all; done"));
    int64_t taken = 0;
    for (auto& loop : loops) {
        RunResult r = loop->wait();
        for (const json& j : tbucket::test::json_lines(r.out)) taken += j["taken"].get<int64_t>();
    }
    CHECK(taken == 17);
    CHECK(redis().string({"HGET", "tbucket:{c}", "t"}) == "0");
}
