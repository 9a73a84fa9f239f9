// A randomized run of waiters and holders on three semaphores (issue 30):
// single and list waiters, leases and takes, with and without deadlines,
// suspended and resumed at random (also past their leases and deadlines),
// holders SIGKILLed, tokens put back as takers finish. Checked:
//   - never more run holders of a bucket than its capacity (a flock'd log);
//   - no waiter served after its deadline;
//   - at the end every level is exact, no lease or ticket is left, and no
//     key of a finished waiter; every waiter served or timed out.
// CI runs it for 20 s with 40 processes; TBUCKET_SOAK_SECONDS and
// TBUCKET_SOAK_WAITERS make it longer (the issue's figures: 120 and 200).

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/e2e.h"

using tbucket::test::Child;
using tbucket::test::eventually;
using tbucket::test::redis;
using tbucket::test::RunResult;
using tbucket::test::tb;
using tbucket::test::tb_argv;

namespace {

using Clock = std::chrono::steady_clock;

int env_int(const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::atoi(v) : fallback;
}

// The holder's command: counts itself in under a lock, notes an overlap
// beyond the capacity, holds a while, counts itself out (also on SIGTERM).
const char* hold_script = R"(#!/bin/sh
d=$1; buckets=$2; secs=$3
count() {
  flock "$d/lock" sh -c '
    for b in $(echo "$1" | tr , " "); do
      n=$(cat "$0/n.$b" 2>/dev/null || echo 0); n=$((n + $2))
      echo $n > "$0/n.$b"
      [ $n -le $(cat "$0/cap.$b") ] || echo "over $b $n" >> "$0/violations"
    done' "$d" "$buckets" "$1"
}
count 1
trap 'count -1; exit 0' TERM
sleep "$secs" & wait $!
trap '' TERM
count -1
)";

struct Proc {
    std::unique_ptr<Child> child;
    std::string kind;  // run, run-list, take, take-list, lease
    std::vector<std::string> buckets;
    double deadline_s = 0;  // 0: none
    Clock::time_point started = Clock::now();
    bool stopped = false;
    bool killed = false;
    Clock::time_point resume_at;
    Clock::time_point stopped_at;
    double stopped_s = 0;  // all the time it spent stopped
};

// The queued ticket of the tbucket process `pid` on `bucket` (lease tickets
// name their holder's pid), or "".
std::string ticket_of(const std::string& bucket, pid_t pid) {
    tbucket::Reply r = redis().command({"HGETALL", "tbucket:{" + bucket + "}:qt"});
    const std::string needle = " " + std::to_string(pid);
    for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
        std::string record(r->element[i + 1]->str, r->element[i + 1]->len);
        std::size_t home = record.find(" >");
        std::string body = home == std::string::npos ? record : record.substr(0, home);
        if (body.size() >= needle.size() &&
            body.compare(body.size() - needle.size(), needle.size(), needle) == 0)
            return std::string(r->element[i]->str, r->element[i]->len);
    }
    return "";
}

bool exists_key(const std::string& key) {
    return redis().command({"EXISTS", key})->integer == 1;
}

}  // namespace

TEST_CASE(
    "randomized waiters and holders, stopped, killed and resumed: exact and never over capacity",
    "[trust][stops][soak]") {
    const int seconds = env_int("TBUCKET_SOAK_SECONDS", 20);
    const int total = env_int("TBUCKET_SOAK_WAITERS", 40);
    std::mt19937 rng(static_cast<unsigned>(env_int("TBUCKET_SOAK_SEED", 7)));
    auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
    auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };

    const tbucket::test::TempDir temp("soak");
    const std::string dir = temp.path;
    const std::string script = dir + "/hold.sh";
    std::ofstream(script) << hold_script;
    chmod(script.c_str(), 0755);

    const std::map<std::string, int> caps{{"sk1", 2}, {"sk2", 3}, {"sk3", 1}};
    const std::vector<std::string> names{"sk1", "sk2", "sk3"};
    for (const auto& [name, cap] : caps) {
        tb({"delete", name});
        REQUIRE(tb({"create", name, "--capacity", std::to_string(cap)}).code == 0);
        std::ofstream(dir + "/cap." + name) << cap << "\n";
    }

    std::vector<Proc> procs;
    std::map<std::string, int> owed;  // tokens taken by finished takers, to put back
    auto spawn = [&]() {
        Proc p;
        int kind = pick(5);
        std::string a = names[pick(3)], b = names[pick(3)];
        while (b == a) b = names[pick(3)];
        p.buckets = {a};
        std::vector<std::string> args;
        std::string wait = "--wait";
        if (chance(0.6)) {
            p.deadline_s = 1 + pick(6);
            wait = "--wait=" + std::to_string(static_cast<int>(p.deadline_s)) + "s";
        }
        std::string hold = std::to_string(0.2 + 0.1 * pick(8));
        if (kind == 0) {
            p.kind = "run";
            args = {"run", a, wait, "--lease", "2s", "--", script, dir, a, hold};
        } else if (kind == 1) {
            p.kind = "run-list";
            p.buckets = {a, b};
            args = {"run", a + "," + b, wait, "--lease",   "2s",
                    "--",  script,      dir,  a + "," + b, hold};
        } else if (kind == 2) {
            p.kind = "take";
            args = {"take", a, wait};
        } else if (kind == 3) {
            p.kind = "take-list";
            p.buckets = {a, b};
            args = {"take", a + "," + b, wait};
        } else {
            p.kind = "lease";
            args = {"lease", "take", a, "--ttl", "2s", wait};
        }
        tbucket::test::RunOptions options;
        options.timeout_s = seconds + 300;
        p.child = std::make_unique<Child>(tb_argv(redis().url(), args), options);
        procs.push_back(std::move(p));
    };

    auto settle = [&](Proc& p, const RunResult& r) {
        if ((p.kind == "take" || p.kind == "take-list") && r.code == 0) {
            for (const std::string& b : p.buckets) ++owed[b];
        }
    };

    auto until = Clock::now() + std::chrono::seconds(seconds);
    int spawned = 0;
    while (Clock::now() < until) {
        if (spawned < total && chance(0.5)) {
            spawn();
            ++spawned;
        }
        if (!procs.empty()) {
            Proc& p = procs[pick(static_cast<int>(procs.size()))];
            bool alive = !p.killed && tbucket::test::process_alive(p.child->pid());
            if (alive && !p.stopped && chance(0.3)) {
                // Suspend a waiter (never a holder whose command runs: a
                // stopped supervisor cannot stop its command).
                bool leased = p.kind == "run" || p.kind == "run-list" || p.kind == "lease";
                std::string home = p.buckets.front();
                if (!leased || !ticket_of(home, p.child->pid()).empty()) {
                    p.child->signal(SIGSTOP);
                    p.stopped = true;
                    p.stopped_at = Clock::now();
                    p.resume_at = Clock::now() + std::chrono::milliseconds(300 + pick(5000));
                    if (leased && p.kind != "lease") {
                        // Served just before the stop: only a set-aside
                        // answer (not yet claimed) may stay stopped.
                        std::string ticket = ticket_of(home, p.child->pid());
                        bool set_aside = false;
                        if (ticket.empty()) {
                            tbucket::Reply g =
                                redis().command({"KEYS", "tbucket:{" + home + "}:g:*"});
                            set_aside = g->elements > 0 && p.kind == "run";
                        }
                        if (ticket.empty() && !set_aside) {
                            p.child->signal(SIGCONT);
                            p.stopped = false;
                        }
                    }
                }
            } else if (alive && p.stopped && Clock::now() >= p.resume_at) {
                p.child->signal(SIGCONT);
                p.stopped = false;
                p.stopped_s += tbucket::test::seconds_since(p.stopped_at);
            } else if (alive && !p.stopped && (p.kind == "run" || p.kind == "lease") &&
                       chance(0.05)) {
                p.child->signal(SIGKILL);  // its lease comes back by itself
                p.killed = true;
            }
        }
        // Tokens of finished takers go back now and then (the puts).
        if (chance(0.2)) {
            for (auto& [b, n] : owed) {
                if (n > 0) {
                    REQUIRE(tb({"put", b, std::to_string(n)}).code == 0);
                    n = 0;
                }
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }

    // The end: everyone resumes; waiters without a deadline are served as
    // holders finish and takers' tokens come back.
    for (Proc& p : procs) {
        if (p.stopped) {
            p.child->signal(SIGCONT);
            p.stopped_s += tbucket::test::seconds_since(p.stopped_at);
        }
        p.stopped = false;
    }
    std::map<std::string, int> codes;
    std::vector<bool> done(procs.size(), false);
    auto end_by = Clock::now() + std::chrono::seconds(240);
    std::size_t finished = 0;
    while (finished < procs.size() && Clock::now() < end_by) {
        for (std::size_t i = 0; i < procs.size(); ++i) {
            if (done[i] || !procs[i].child->exited_within(0.01)) continue;
            RunResult r = procs[i].child->wait();
            done[i] = true;
            ++finished;
            settle(procs[i], r);
            ++codes[procs[i].kind + ":" + std::to_string(r.code)];
            double took = tbucket::test::seconds_since(procs[i].started);
            INFO(procs[i].kind << " exit " << r.code << " after " << took << " s, deadline "
                               << procs[i].deadline_s << ": " << r.err);
            if (procs[i].killed) {
                CHECK((r.code == 137 || r.code == 0 || r.code == 124));
                continue;
            }
            CHECK((r.code == 0 || r.code == 124));
            // Served in time: a success never comes long after the deadline
            // (the deadline counts from the process's start, after exec),
            // leaving out the time it was stopped (served just before a
            // stop, it says so after). The margin is for a loaded machine.
            if (r.code == 0 && procs[i].deadline_s > 0 && procs[i].kind.rfind("run", 0) != 0)
                CHECK(took - procs[i].stopped_s < procs[i].deadline_s + 30);
        }
        for (auto& [b, n] : owed) {
            if (n > 0) {
                REQUIRE(tb({"put", b, std::to_string(n)}).code == 0);
                n = 0;
            }
        }
    }
    std::string summary;
    for (const auto& [k, n] : codes) summary += k + " x" + std::to_string(n) + "  ";
    WARN("exit codes by kind: " << summary);
    for (std::size_t i = 0; i < procs.size(); ++i) {
        if (done[i]) continue;
        Proc& p = procs[i];
        std::string stat;
        std::getline(std::ifstream("/proc/" + std::to_string(p.child->pid()) + "/stat"), stat);
        WARN("not finished: " << p.kind << " on " << p.buckets.front()
                              << (p.buckets.size() > 1 ? "," + p.buckets.back() : "")
                              << (p.killed ? " (killed)" : "") << ", deadline " << p.deadline_s
                              << "; its /proc stat: " << stat.substr(0, 60)
                              << "; its pipes held by: " << p.child->pipe_holders()
                              << "; stderr so far: " << p.child->err_so_far());
    }
    CHECK(finished == procs.size());  // nothing stuck
    CHECK(tbucket::test::read_file(dir + "/violations").empty());
    for (const auto& [name, cap] : caps) {
        const std::string key = "tbucket:{" + name + "}";
        // Leases of killed holders end within their 2 s.
        CHECK(eventually(
            [&] {
                // A release of no lease reclaims those that ended.
                tb({"lease", "release", name, std::string(24, '0')});
                return redis().string({"HGET", key, "t"}) == std::to_string(cap);
            },
            30));
        INFO(name << " " << redis().dump_hash(key));
        CHECK(redis().string({"HGET", key, "t"}) == std::to_string(cap));
        CHECK((redis().string({"HGET", key, "l"}) == "0" ||
               redis().string({"HGET", key, "l"}).empty()));
        CHECK((redis().string({"HGET", key, "q"}) == "0" ||
               redis().string({"HGET", key, "q"}).empty()));
        for (const char* suffix : {":q", ":qt", ":qw", ":leases", ":lexp"})
            CHECK_FALSE(exists_key(key + suffix));
        CHECK(redis().command({"KEYS", key + ":g:*"})->elements == 0);
    }
}
