// SPEC §9, leases, end to end: the built binary against a real
// redis-server. Every case reads the bucket on the server afterwards, so a
// token kept or given back twice fails it, not only a wrong exit code.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/e2e.h"

using nlohmann::json;
using tbucket::test::Child;
using tbucket::test::describe;
using tbucket::test::eventually;
using tbucket::test::json_lines;
using tbucket::test::one_error_line;
using tbucket::test::read_file;
using tbucket::test::redis;
using tbucket::test::RunResult;
using tbucket::test::slowdown;
using tbucket::test::tb;
using tbucket::test::tb_argv;

namespace {

using Clock = std::chrono::steady_clock;

void semaphore(const std::string& name, int capacity) {
    tb({"delete", name});
    RunResult r = tb({"create", name, "--capacity", std::to_string(capacity)});
    REQUIRE(r.code == 0);
}

std::string field(const std::string& name, const std::string& f) {
    return redis().string({"HGET", "tbucket:{" + name + "}", f});
}

json info(const std::string& name) {
    RunResult r = tb({"--json", "info", name});
    REQUIRE(r.code == 0);
    return json::parse(r.out);
}

// No lease record is left in Redis for the bucket.
bool no_lease_keys(const std::string& name) {
    const std::string key = "tbucket:{" + name + "}";
    return redis().command({"EXISTS", key + ":leases", key + ":lexp"})->integer == 0;
}

std::string temp_path(const std::string& leaf) {
    return redis().dir() + "/" + leaf;
}

bool exists(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0;
}

// A command that waits until `file` exists, then exits with `code`.
std::vector<std::string> until_file(const std::string& file, int code,
                                    const std::string& before = "") {
    return {"sh", "-c",
            before + "echo started; while [ ! -e " + file + " ]; do sleep 0.02; done; exit " +
                std::to_string(code)};
}

std::vector<std::string> run_args(const std::string& name, std::vector<std::string> options,
                                  const std::vector<std::string>& command) {
    std::vector<std::string> args{"run", name};
    args.insert(args.end(), options.begin(), options.end());
    args.push_back("--");
    args.insert(args.end(), command.begin(), command.end());
    return tb_argv(redis().url(), args);
}

}  // namespace

TEST_CASE("run on a semaphore gives the token back and exits with the command's status",
          "[trust][lease]") {
    semaphore("l1", 3);
    RunResult r = tb({"run", "l1", "2", "--", "sh", "-c",
                      "echo out; echo err >&2; echo \"$TBUCKET_LEASE $TBUCKET_FENCE\"; exit 7"});
    INFO(describe(r));
    CHECK(r.code == 7);
    std::vector<std::string> lines = tbucket::test::text_lines(r.out);
    REQUIRE(lines.size() >= 2);
    CHECK(lines[0] == "out");
    CHECK(r.err == "err\n");
    std::istringstream env(lines[1]);
    std::string id, fence;
    env >> id >> fence;
    CHECK(id.size() == 24);
    CHECK(std::stoll(fence) > 0);
    CHECK(field("l1", "t") == "3");
    CHECK(field("l1", "l") == "0");
    CHECK(no_lease_keys("l1"));
}

TEST_CASE("fences grow with every lease of a bucket", "[trust][lease]") {
    semaphore("l2", 1);
    long long last = 0;
    for (int i = 0; i < 3; ++i) {
        RunResult r = tb({"run", "l2", "--", "sh", "-c", "echo $TBUCKET_FENCE"});
        REQUIRE(r.code == 0);
        long long fence = std::stoll(r.out);
        CHECK(fence > last);
        last = fence;
    }
}

TEST_CASE("run whose command dies of SIGSEGV dies of SIGSEGV, and the token is back",
          "[trust][lease]") {
    semaphore("l3", 1);
    RunResult r = tb({"run", "l3", "--", "sh", "-c", "kill -SEGV $$"});
    CHECK(r.code == 128 + SIGSEGV);
    CHECK(field("l3", "t") == "1");
    CHECK(no_lease_keys("l3"));
}

TEST_CASE("run passes SIGTERM on, and a command that ignores it keeps running, holding its lease",
          "[trust][lease]") {
    semaphore("l4", 1);
    const std::string done = temp_path("l4-done"), heard = temp_path("l4-heard");
    Child child(run_args("l4", {"--lease", "1s"},
                         until_file(done, 3, "trap 'echo term > " + heard + "' TERM; ")));
    REQUIRE(child.wait_for_output("started", 10 * slowdown()));
    child.signal(SIGTERM);
    CHECK(eventually([&] { return exists(heard); }, 10));
    // Past the lease time: renewals keep it held while the command runs.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    CHECK_FALSE(child.exited_within(0));
    CHECK(info("l4")["leased"] == 1);
    CHECK(tb({"take", "l4"}).code == 1);
    std::ofstream(done).put('x');
    RunResult r = child.wait();
    INFO(describe(r));
    CHECK(r.code == 3);
    CHECK(field("l4", "t") == "1");
}

TEST_CASE("the token of a SIGKILLed run comes back when its lease ends, to a waiter",
          "[trust][lease]") {
    semaphore("l5", 1);
    const std::string heard = temp_path("l5-heard");
    Child holder(run_args("l5", {"--lease", "1s"},
                          {"sh", "-c",
                           "trap 'echo term > " + heard +
                               "; exit 0' TERM; echo started; "
                               "while :; do sleep 0.02; done"}));
    REQUIRE(holder.wait_for_output("started", 10 * slowdown()));
    Child waiter(tb_argv(redis().url(), {"--json", "take", "l5", "--wait=20s"}));
    REQUIRE(tbucket::test::wait_for_subscribers(redis(), "tbucket:{l5}:events", 1));
    holder.signal(SIGKILL);
    holder.wait();
    // The command hears that its parent died (as a lost lease): SIGTERM.
    CHECK(eventually([&] { return exists(heard); }, 10));
    RunResult r = waiter.wait();
    INFO(describe(r));
    REQUIRE(r.code == 0);
    CHECK(json::parse(r.out)["taken"] == 1);
    CHECK(field("l5", "l") == "0");
    CHECK(no_lease_keys("l5"));
}

TEST_CASE("a stopped run loses its lease to another holder and SIGTERMs its command on waking",
          "[trust][lease]") {
    semaphore("l6", 1);
    const std::string heard = temp_path("l6-heard");
    Child holder(run_args("l6", {"--lease", "1s"},
                          {"sh", "-c",
                           "trap 'echo term > " + heard +
                               "; exit 0' TERM; echo started; "
                               "while :; do sleep 0.02; done"}));
    REQUIRE(holder.wait_for_output("started", 10 * slowdown()));
    holder.signal(SIGSTOP);
    RunResult other = tb({"run", "l6", "--wait=20s", "--", "true"});
    CHECK(other.code == 0);
    holder.signal(SIGCONT);
    RunResult r = holder.wait();
    INFO(describe(r));
    CHECK(exists(heard));
    CHECK_THAT(r.err, Catch::Contains("lease on 'l6' is lost"));
    CHECK_THAT(r.err, Catch::Contains("sending SIGTERM"));
    CHECK(r.code == 0);  // the command's own status after its trap
    CHECK(field("l6", "t") == "1");
    CHECK(no_lease_keys("l6"));
}

TEST_CASE("with --on-lost=keep a stopped run's command keeps running after the lease is lost",
          "[trust][lease]") {
    semaphore("l7", 1);
    const std::string done = temp_path("l7-done");
    Child holder(run_args("l7", {"--lease", "1s", "--on-lost=keep"}, until_file(done, 5)));
    REQUIRE(holder.wait_for_output("started", 10 * slowdown()));
    holder.signal(SIGSTOP);
    CHECK(tb({"take", "l7", "--wait=20s"}).code == 0);
    holder.signal(SIGCONT);
    CHECK(holder.wait_for_output("keeps running", 10 * slowdown()));
    std::ofstream(done).put('x');
    RunResult r = holder.wait();
    CHECK(r.code == 5);
    // Releasing the lost lease at the end adds nothing: the take holds it.
    CHECK(field("l7", "t") == "0");
}

TEST_CASE("lease take prints ID FENCE, then renew, release, release again and renew after",
          "[trust][lease]") {
    semaphore("l8", 3);
    RunResult taken = tb({"lease", "take", "l8", "2", "--ttl", "1m"});
    REQUIRE(taken.code == 0);
    std::istringstream words(taken.out);
    std::string id, fence, rest;
    words >> id >> fence >> rest;
    CHECK(id.size() == 24);
    CHECK(std::stoll(fence) > 0);
    CHECK(rest.empty());
    CHECK(field("l8", "t") == "1");
    RunResult listed = tb({"--json", "lease", "list", "l8"});
    REQUIRE(listed.code == 0);
    std::vector<json> leases = json_lines(listed.out);
    REQUIRE(leases.size() == 1);
    CHECK(leases[0]["lease"] == id);
    CHECK(leases[0]["tokens"] == 2);
    CHECK(leases[0]["pid"] == static_cast<long long>(getpid()));
    CHECK(info("l8")["leases"] == 1);
    CHECK(tb({"lease", "renew", "l8", id, "--ttl", "30s"}).code == 0);
    RunResult released = tb({"--json", "lease", "release", "l8", id});
    REQUIRE(released.code == 0);
    CHECK(json::parse(released.out)["added"] == 2);
    CHECK(field("l8", "t") == "3");
    RunResult again = tb({"--json", "lease", "release", "l8", id});
    CHECK(again.code == 0);
    CHECK(json::parse(again.out)["added"] == 0);
    CHECK(field("l8", "t") == "3");
    RunResult renewed = tb({"lease", "renew", "l8", id});
    CHECK(renewed.code == 3);
    CHECK(one_error_line(renewed.err));
    CHECK(field("l8", "t") == "3");
}

TEST_CASE("an expired lease is never revived, and releasing it adds nothing", "[trust][lease]") {
    semaphore("l9", 2);
    RunResult taken = tb({"lease", "take", "l9", "--ttl", "1s"});
    REQUIRE(taken.code == 0);
    std::string id = taken.out.substr(0, 24);
    REQUIRE(eventually([] { return info("l9")["leased"] == 0; }, 10));
    RunResult renewed = tb({"lease", "renew", "l9", id});
    CHECK(renewed.code == 3);
    CHECK_THAT(renewed.err, Catch::Contains("not held"));
    RunResult released = tb({"lease", "release", "l9", id});
    CHECK(released.code == 3);
    CHECK(field("l9", "t") == "2");
    CHECK(no_lease_keys("l9"));
}

TEST_CASE("reset drops every lease and put never fills the room of leased tokens",
          "[trust][lease]") {
    semaphore("la", 3);
    RunResult taken = tb({"lease", "take", "la", "--ttl", "1m"});
    REQUIRE(taken.code == 0);
    RunResult put = tb({"--json", "put", "la"});
    REQUIRE(put.code == 0);
    CHECK(json::parse(put.out)["overflow"] == 1);
    CHECK(field("la", "t") == "2");
    CHECK(tb({"reset", "la"}).code == 0);
    CHECK(field("la", "t") == "3");
    CHECK(field("la", "l") == "0");
    CHECK(no_lease_keys("la"));
    CHECK(tb({"lease", "release", "la", taken.out.substr(0, 24)}).code == 3);
    CHECK(field("la", "t") == "3");
}

TEST_CASE("bad lease input is exit 2 with one line, and Redis is untouched", "[trust][lease]") {
    semaphore("lb", 2);
    tb({"create", "lr", "--capacity", "5", "--rate", "1/s"});
    const std::vector<std::vector<std::string>> cases{
        {"run", "lb", "--lease", "0", "--", "true"},
        {"run", "lb", "--lease", "-1s", "--", "true"},
        {"run", "lb", "--lease", "2d", "--", "true"},
        {"run", "lb", "--lease", "1s", "--consume", "--", "true"},
        {"run", "lb", "--on-lost=bogus", "--", "true"},
        {"lease", "renew", "lb", "xyz"},
        {"lease", "release", "lb", "0123456789ABCDEF01234567"},
        {"lease", "take", "lb", "--ttl", "0"},
        {"run", "lr", "--lease", "5s", "--", "true"},
        {"lease", "take", "lr"},
    };
    for (const auto& args : cases) {
        RunResult r = tb(args);
        INFO(args[0] << " " << args[1] << " " << args[2] << ": " << describe(r));
        CHECK(r.code == 2);
        CHECK(one_error_line(r.err));
        CHECK(r.out.empty());
    }
    CHECK(field("lb", "t") == "2");
    CHECK(field("lr", "t") == "5");
    CHECK(no_lease_keys("lb"));
    CHECK(no_lease_keys("lr"));
    // Without --lease, a refilling bucket is consumed, as before leases.
    CHECK(tb({"run", "lr", "--", "true"}).code == 0);
    CHECK(std::stod(field("lr", "t")) < 5);
}

TEST_CASE("many shells running a critical section under a lease never pass the capacity",
          "[trust][lease][concurrency]") {
    semaphore("lc", 3);
    const std::string log = temp_path("lc-log"), lock = temp_path("lc-lock");
    // Each critical section logs +1 at its start and -1 at its end, under a
    // lock, so the log's running sum is the number inside at each moment.
    const std::string critical = "flock " + lock + " sh -c 'echo +1 >> " + log +
                                 "'; sleep 0.01; flock " + lock + " sh -c 'echo -1 >> " + log + "'";
    const int shells = 6, each = 15;
    std::vector<std::unique_ptr<Child>> loops;
    for (int s = 0; s < shells; ++s) {
        std::string loop = "i=0; while [ $i -lt " + std::to_string(each) + " ]; do " +
                           tbucket::test::tbucket_path() + " -u " + redis().url() +
                           " run lc --wait=60s --lease 3s -- sh -c \"" + critical +
                           "\" || echo FAILED; i=$((i+1)); done";
        loops.push_back(std::make_unique<Child>(std::vector<std::string>{"sh", "-c", loop}));
    }
    for (auto& l : loops) {
        RunResult r = l->wait();
        CHECK(r.out.find("FAILED") == std::string::npos);
    }
    int inside = 0, most = 0, starts = 0;
    std::istringstream lines(read_file(log));
    for (std::string line; std::getline(lines, line);) {
        inside += std::stoi(line);
        starts += line == "+1";
        most = std::max(most, inside);
    }
    CHECK(starts == shells * each);
    CHECK(most <= 3);
    CHECK(inside == 0);
    CHECK(field("lc", "t") == "3");
    CHECK(no_lease_keys("lc"));
}

TEST_CASE("a denial on a held semaphore names its leases and says when the next ends",
          "[lease][counters]") {
    semaphore("held", 2);
    // Leases far longer than any slow machine takes for the commands below.
    REQUIRE(tb({"lease", "take", "held", "--ttl", "1h"}).code == 0);
    REQUIRE(tb({"lease", "take", "held", "--ttl", "2h"}).code == 0);
    RunResult r = tb({"take", "held"});
    INFO(describe(r));
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Catch::Contains("held by 2 leases, the next ends in "));
    CHECK_THAT(r.err, Catch::Contains(", pid "));
    CHECK_THAT(r.err, Catch::Contains("--wait"));
    CHECK_THAT(r.err, Catch::Contains("'tbucket lease list held'"));
    json j = json::parse(tb({"--json", "take", "held"}).out);
    CHECK(j["ok"] == false);
    REQUIRE(j["retry_after_ms"].is_number());
    CHECK(j["retry_after_ms"].get<int64_t>() <= 3'600'000);  // the 1-hour lease's end
    CHECK(j["retry_after_ms"].get<int64_t>() > 3'000'000);
}

TEST_CASE("a lease that ends unrenewed is counted once as expired, a released one not",
          "[lease][counters]") {
    semaphore("exp", 3);
    RunResult brief = tb({"lease", "take", "exp", "--ttl", "1s"});
    REQUIRE(brief.code == 0);
    const std::string short_id = brief.out.substr(0, brief.out.find_first_of(" \n"));
    RunResult kept = tb({"lease", "take", "exp", "--ttl", "1h"});
    REQUIRE(kept.code == 0);
    auto info = [] { return json::parse(tb({"--json", "info", "exp"}).out); };
    // Server state with no event to wait on: look until the short lease ended.
    REQUIRE(eventually([&] { return info()["leases"] == 1; }, 60));
    CHECK(info()["counters"]["leases_expired"] == 1);  // read, not yet stored
    REQUIRE(tb({"take", "exp"}).code == 0);            // a change stores it
    CHECK(info()["counters"]["leases_expired"] == 1);
    // Its holder, renewing late, finds it lost: counted too.
    CHECK(info()["counters"]["leases_lost"] == 0);
    CHECK(tb({"lease", "renew", "exp", short_id}).code == 3);
    CHECK(info()["counters"]["leases_lost"] == 1);
    std::string id = kept.out.substr(0, kept.out.find_first_of(" \n"));
    REQUIRE(tb({"lease", "release", "exp", id}).code == 0);
    CHECK(info()["counters"]["leases_expired"] == 1);
    RunResult prom = tb({"list", "exp", "--format", "prometheus"});
    CHECK_THAT(prom.out, Catch::Contains("tbucket_leases_expired_total{bucket=\"exp\"} 1\n"));
}

TEST_CASE("run on a rate or window bucket says on a terminal that it consumes, and nowhere else",
          "[lease]") {
    REQUIRE(tb({"create", "r", "--capacity", "5", "--rate", "1/s"}).code == 0);
    RunResult plain = tb({"run", "r", "--", "true"});
    CHECK(plain.code == 0);
    CHECK(plain.err.empty());
    // script(1) gives the command a terminal.
    std::string line;
    for (const std::string& a : tb_argv(redis().url(), {"run", "r", "--", "true"})) line += a + " ";
    RunResult tty = tbucket::test::run({"script", "-qec", line, "/dev/null"});
    INFO(describe(tty));
    CHECK(tty.code == 0);
    CHECK_THAT(tty.out, Catch::Contains("'r' is a rate bucket: run consumes its tokens"));
}

TEST_CASE(
    "a lease's note is shown by lease list, and lease list without NAME lists every bucket's "
    "leases",
    "[lease]") {
    semaphore("n1", 3);
    semaphore("n2", 3);
    REQUIRE(tb({"lease", "take", "n1", "--note", "nightly backup (db1) 100%"}).code == 0);
    REQUIRE(tb({"lease", "take", "n2", "2"}).code == 0);
    std::vector<json> one = json_lines(tb({"--json", "lease", "list", "n1"}).out);
    REQUIRE(one.size() == 1);
    CHECK(one[0]["note"] == "nightly backup (db1) 100%");
    CHECK_THAT(tb({"lease", "list", "n1"}).out, Catch::EndsWith("  nightly backup (db1) 100%\n"));
    // The command of a run sees its own lease, with its note.
    std::vector<std::string> inner = tb_argv(redis().url(), {"--json", "lease", "list", "n2"});
    std::vector<std::string> args{"run", "n2", "--note", "deploy v2.3", "--"};
    args.insert(args.end(), inner.begin(), inner.end());
    RunResult r = tb(args);
    INFO(describe(r));
    CHECK(r.code == 0);
    std::vector<json> during = json_lines(r.out);
    REQUIRE(during.size() == 2);
    CHECK(during[0]["note"].is_null());
    CHECK(during[1]["note"] == "deploy v2.3");
    RunResult all = tb({"lease", "list"});
    CHECK(all.code == 0);
    std::vector<std::string> lines = tbucket::test::text_lines(all.out);
    REQUIRE(lines.size() == 2);
    CHECK_THAT(lines[0], Catch::StartsWith("n1  "));
    CHECK_THAT(lines[1], Catch::StartsWith("n2  ") && Catch::Contains("  2 tokens  "));
    // Bad notes are refused before anything is taken.
    CHECK(tb({"lease", "take", "n1", "--note", std::string(201, 'x')}).code == 2);
    RunResult ctl = tb({"run", "n1", "--note", "a\tb", "--", "true"});
    CHECK(ctl.code == 2);
    CHECK_THAT(ctl.err, Catch::Contains("--note holds a control character"));
    CHECK(json::parse(tb({"--json", "info", "n1"}).out)["leased"] == 1);
}

namespace {

// A directory for a test's pid files and logs, removed at its end.
struct Scratch {
    tbucket::test::TempDir temp{"tree"};
    const std::string dir = temp.path;
    std::vector<int> pids(const std::string& file) const {
        std::istringstream in(read_file(dir + "/" + file));
        std::vector<int> out;
        for (int p = 0; in >> p;) out.push_back(p);
        return out;
    }
};

}  // namespace

TEST_CASE("a lost lease ends the command's whole tree: SIGTERM, then SIGKILL after --kill-after",
          "[lease][tree]") {
    semaphore("tree", 1);
    Scratch s;
    // Two background sleeps, and a shell that ignores SIGTERM (so do they).
    Child run(tb_argv(
        redis().url(),
        {"run", "tree", "--lease", "3s", "--kill-after", "1s", "--", "sh", "-c",
         "trap '' TERM; sleep 300 & echo $! >> " + s.dir + "/pids; sleep 300 & echo $! >> " +
             s.dir + "/pids; echo $$ >> " + s.dir + "/pids; wait"}));
    REQUIRE(eventually([&] { return s.pids("pids").size() == 3; }, 60));
    REQUIRE(tb({"reset", "tree"}).code == 0);  // the lease is gone: its next renewal finds out
    RunResult r = run.wait();
    INFO(describe(r));
    CHECK_THAT(r.err, Catch::Contains("sending SIGTERM to the command's processes"));
    CHECK_THAT(r.err, Catch::Contains("did not end within 1s of SIGTERM; sending SIGKILL"));
    for (int pid : s.pids("pids")) CHECK_FALSE(tbucket::test::process_alive(pid));
}

TEST_CASE("the lease is held until every process of the command has ended, a daemon's too",
          "[lease][tree]") {
    semaphore("daemon", 1);
    Scratch s;
    // The shell ends at once; the background child it leaves runs on.
    Child run(tb_argv(redis().url(),
                      {"run", "daemon", "--lease", "3s", "--", "sh", "-c",
                       "echo $$ > " + s.dir + "/sh; (while [ ! -e " + s.dir +
                           "/stop ]; do sleep 0.05; done; echo done > " + s.dir + "/done) &"}));
    REQUIRE(eventually([&] { return !s.pids("sh").empty(); }, 60));
    const int sh = s.pids("sh").front();
    REQUIRE(eventually([&] { return !tbucket::test::process_alive(sh); }, 60));
    // The shell is gone, its child is not: the slot is still held.
    CHECK(tb({"take", "daemon"}).code == 1);
    CHECK(json::parse(tb({"--json", "info", "daemon"}).out)["leased"] == 1);
    CHECK_FALSE(run.exited_within(0.5));
    std::ofstream(s.dir + "/stop") << "";
    RunResult r = run.wait();
    CHECK(r.code == 0);
    CHECK(read_file(s.dir + "/done") == "done\n");
    CHECK(json::parse(tb({"--json", "info", "daemon"}).out)["leased"] == 0);
}

TEST_CASE("timeout -s TERM on run: each process of the command gets the signal once",
          "[lease][tree]") {
    semaphore("once", 1);
    Scratch s;
    const std::string log = s.dir + "/log";
    // timeout(1) as it ends a command: its TERM to the command, then to its
    // own process group. It does the same when it is sent TERM itself,
    // which the test does once the grandchild is up, so that no machine is
    // too slow for it.
    std::vector<std::string> argv{"timeout", "-s", "TERM", "600"};
    for (const std::string& a : tb_argv(
             redis().url(),
             {"run", "once", "--lease", "10s", "--", "sh", "-c",
              "trap 'echo child >> " + log + "; exit 0' TERM; sh -c \"trap 'echo grandchild >> " +
                  log + "; exit 0' TERM; echo >> " + log +
                  ".up; while :; do sleep 0.05; done\" & while :; do sleep 0.05; done"}))
        argv.push_back(a);
    Child timeout(argv);
    REQUIRE(eventually([&] { return read_file(log + ".up") == "\n"; }, 60));
    timeout.signal(SIGTERM);
    RunResult r = timeout.wait();
    INFO(describe(r) << "\nlog: " << read_file(log));
    CHECK(r.code == 0);  // the command's trap exited 0; tbucket and timeout pass that on
    std::string got = read_file(log);
    CHECK(std::count(got.begin(), got.end(), '\n') == 2);
    CHECK_THAT(got, Catch::Contains("child\n") && Catch::Contains("grandchild\n"));
    CHECK(json::parse(tb({"--json", "info", "once"}).out)["leased"] == 0);
}
