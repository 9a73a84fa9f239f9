// Chaos: SIGINT and SIGTERM at random instants against the commands that
// take tokens, and random faults between tbucket and Redis with random
// signals on top. Whatever the interleaving, every token is accounted for
// (SPEC §8): the level on the server is the start, minus what the processes
// said they took, plus what they said they added, up to the changes whose
// outcome they reported unknown; and every exit status is one SPEC §5
// allows for that command.
//
// Each trial starts the built binary directly (support/launch.h), so that
// its signal can land anywhere in its short life.
// TBUCKET_CHAOS_SEED=N repeats a run's random choices (the seed is printed).

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "support/e2e.h"
#include "support/fault_proxy.h"
#include "support/launch.h"

using nlohmann::json;
using tbucket::test::Ended;
using tbucket::test::launch;
using tbucket::test::Plan;
using tbucket::test::redis;

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::nanoseconds;

const bool sanitized = tbucket::test::slowdown() > 1;

unsigned chaos_seed() {
    if (const char* s = std::getenv("TBUCKET_CHAOS_SEED"))
        return static_cast<unsigned>(std::stoul(s));
    return std::random_device{}();
}

std::string tb() {
    return tbucket::test::tbucket_path();
}

double level(const std::string& name) {
    tbucket::test::RunResult r =
        tbucket::test::tbucket({"-u", redis().url(), "--json", "info", name});
    REQUIRE(r.code == 0);
    return json::parse(r.out)["tokens"].get<double>();
}

// stderr without the "tbucket: warning:" lines a wait prints when it
// reconnects.
std::string without_warnings(const std::string& err) {
    std::string kept;
    for (const std::string& line : tbucket::test::text_lines(err)) {
        if (line.rfind("tbucket: warning: ", 0) != 0 && !line.empty()) kept += line + "\n";
    }
    return kept;
}

// The one JSON error line on stderr: its message, when its kind and exit
// status are `kind` and `code`.
std::optional<std::string> error_message(const std::string& err, const std::string& kind,
                                         int code) {
    if (err.empty() || err.find('\n') != err.size() - 1) return std::nullopt;
    json j = json::parse(err, nullptr, false);
    if (!j.is_object() || j.value("error", "") != kind || j.value("exit", 0) != code)
        return std::nullopt;
    return j.value("message", "");
}

// The error line a caught signal leaves: "interrupted" for SIGINT,
// "terminated" for SIGTERM, with the status of a death by it.
std::optional<std::string> signal_message(const std::string& err, int sig) {
    return error_message(err, sig == SIGINT ? "interrupted" : "terminated", 128 + sig);
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string describe(const std::vector<std::string>& argv, const Ended& e, const std::string& why) {
    std::ostringstream s;
    s << why << ": ";
    for (std::size_t i = 3; i < argv.size(); ++i) s << argv[i] << ' ';
    s << "-> status " << e.code << (e.died_by ? " (signalled)" : "") << ", sent " << e.sent << ", "
      << e.seconds << "s; stdout: " << e.out << "; stderr: " << e.err;
    return s.str();
}

}  // namespace

// ---- Signal races: one command, thousands of signals -------------------

namespace {

const int race_trials = sanitized ? 150 : 2000;
const double start_level = 1e9;

enum class Race { took_first, took_held, killed_early, nothing_taken, gave_back, bad };

const char* race_name(Race r) {
    switch (r) {
        case Race::took_first:
            return "exit 0, ended before the signal";
        case Race::took_held:
            return "exit 0, the signal came and was held";
        case Race::killed_early:
            return "killed before catching signals (silent)";
        case Race::nothing_taken:
            return "interrupted before the take";
        case Race::gave_back:
            return "interrupted after the take: the token went back";
        case Race::bad:
            return "NOT ALLOWED";
    }
    return "?";
}

struct RaceLog {
    std::vector<Race> outcome;  // by trial
    std::map<Race, int> counts;
    std::vector<std::string> bad;  // the first few, described
    long long taken = 0;           // as reported on stdout
};

using Classify = std::function<Race(const Ended&, long long& taken)>;

// A death by the signal it was sent, with the one line of a caught signal.
Race caught(const Ended& e) {
    if (e.died_by != e.sent || !e.out.empty()) return Race::bad;
    std::optional<std::string> message = signal_message(e.err, e.died_by);
    if (!message) return Race::bad;
    if (contains(*message, "nothing taken")) return Race::nothing_taken;
    if (contains(*message, "went back")) return Race::gave_back;
    return Race::bad;
}

// take --wait, watch --take: exit 0 with one result that took the token,
// or death by the signal: silent (no handler yet, so no take yet) or with
// the one line of a caught signal.
Race classify_take(const Ended& e, long long& taken) {
    if (e.timed_out) return Race::bad;
    if (e.died_by) return e.err.empty() && e.out.empty() ? Race::killed_early : caught(e);
    if (e.code != 0 || !e.err.empty() || e.out.find('\n') != e.out.size() - 1) return Race::bad;
    json j = json::parse(e.out, nullptr, false);
    if (!j.is_object() || j.value("ok", false) != true || j.value("taken", -1) != 1)
        return Race::bad;
    taken += 1;
    return e.sent ? Race::took_held : Race::took_first;
}

// run --wait, started with the signals ignored (so it never dies silently):
// exit 0, its command ran (checked against the marker file), or death by
// the signal with the one line of a caught signal.
Race classify_run(const Ended& e, long long&) {
    if (e.timed_out) return Race::bad;
    if (e.died_by) return caught(e);
    if (e.code != 0 || !e.out.empty() || !e.err.empty()) return Race::bad;
    return e.sent ? Race::took_held : Race::took_first;
}

// `race_trials` runs of argv_for(i), each sent SIGINT or SIGTERM at a random
// instant of its life, whose length the first ten (not signalled) measure.
// The narrow race (a signal between the take and the commit) is hit in
// about 1% of the trials, fewer on a busy machine: until it has been hit,
// and some trial took, up to nine times as many trials more (release).
RaceLog race(bool ignore, const std::function<std::vector<std::string>(int)>& argv_for,
             const Classify& classify) {
    const unsigned seed = chaos_seed();
    WARN("seed " << seed << " (TBUCKET_CHAOS_SEED), " << race_trials << " trials or more");
    std::mt19937 random(seed);
    const int calibration = 10;
    std::vector<double> lives;
    std::uniform_int_distribution<long long> delay_ns(0, 1);
    RaceLog log;
    auto both_seen = [&] {
        return log.counts.count(Race::gave_back) &&
               (log.counts.count(Race::took_first) || log.counts.count(Race::took_held));
    };
    // Unlucky on a loaded machine, the release build went 6,000 trials without
    // the narrow race (a clean-clone CI run): it keeps looking longer there
    // (each trial is a few ms); the sanitized build only warns (see check_race).
    const int most = sanitized ? 3 * race_trials : 10 * race_trials;
    for (int i = 0; i < race_trials || (!both_seen() && i < most); ++i) {
        Plan plan;
        plan.ignore = ignore;
        plan.timeout_s = 20 * tbucket::test::slowdown();
        if (i >= calibration) {
            plan.sig = random() % 2 ? SIGINT : SIGTERM;
            plan.delay = nanoseconds(delay_ns(random));
        }
        std::vector<std::string> argv = argv_for(i);
        Ended e = launch(argv, plan);
        if (i < calibration) lives.push_back(e.seconds);
        if (i + 1 == calibration) {
            std::sort(lives.begin(), lives.end());
            double life = lives[calibration / 2];
            WARN("a trial lives " << life * 1000 << " ms: signals within that");
            delay_ns =
                std::uniform_int_distribution<long long>(0, static_cast<long long>(life * 1e9));
        }
        Race r = classify(e, log.taken);
        log.outcome.push_back(r);
        ++log.counts[r];
        if (r == Race::bad && log.bad.size() < 5)
            log.bad.push_back(describe(argv, e, "not allowed"));
    }
    return log;
}

// Prints the counts, and checks that nothing else happened and that the
// races were really hit: some trials took, some died by the signal after
// taking (their token went back).
void check_race(const RaceLog& log) {
    std::ostringstream counts;
    counts << " (" << log.outcome.size() << " trials)";
    for (const auto& [race, n] : log.counts) counts << "\n  " << race_name(race) << ": " << n;
    WARN("outcomes:" << counts.str());
    for (const std::string& b : log.bad) FAIL_CHECK(b);
    CHECK(log.counts.count(Race::bad) == 0);
    CHECK(log.counts.count(Race::took_first) + log.counts.count(Race::took_held) > 0);
    // Under the sanitizers the race is hit about once in 300 trials, so a
    // run of 150 (sized for the suite's time: each trial lives ~150 ms
    // there) often misses it. The release build (7 to 37 hits in 2000,
    // even beside stress-ng) proves the test's reach; this one looks for
    // what the sanitizers see on the paths it does hit.
    if (!sanitized)
        CHECK(log.counts.count(Race::gave_back) > 0);
    else if (log.counts.count(Race::gave_back) == 0)
        WARN("the give-back race was not hit this run");
}

std::vector<std::string> tb_args(const std::string& url, std::vector<std::string> args) {
    args.insert(args.begin(), {tb(), "-u", url, "--json"});
    return args;
}

void create_full_bucket() {
    REQUIRE(tbucket::test::tbucket({"-u", redis().url(), "create", "s", "--capacity", "1000000000"})
                .code == 0);
}

// A file that `sh -c 'echo ID >> FILE'` appends to, removed at the end.
struct MarkerFile {
    std::string dir, path;
    MarkerFile() {
        char pattern[] = "/tmp/tbucket-chaos-XXXXXX";
        if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp");
        dir = pattern;
        path = dir + "/marker";
    }
    ~MarkerFile() {
        unlink(path.c_str());
        rmdir(dir.c_str());
    }
    std::string command(int id) const { return "echo " + std::to_string(id) + " >> " + path; }
    // The ids written, each as often as it was written.
    std::multiset<int> ids() const {
        std::multiset<int> seen;
        std::ifstream in(path);
        for (int id; in >> id;) seen.insert(id);
        return seen;
    }
};

}  // namespace

TEST_CASE("take --wait signalled at any instant either reports its token or leaves none taken",
          "[trust][chaos]") {
    create_full_bucket();
    RaceLog log = race(
        false,
        [](int) {
            return tb_args(redis().url(), {"take", "s", "--wait"});
        },
        classify_take);
    check_race(log);
    CHECK(level("s") == start_level - static_cast<double>(log.taken));
}

TEST_CASE("watch --take signalled at any instant either reports its token or leaves none taken",
          "[trust][chaos]") {
    create_full_bucket();
    RaceLog log = race(
        false,
        [](int) {
            return tb_args(redis().url(), {"watch", "s", "--take"});
        },
        classify_take);
    check_race(log);
    CHECK(level("s") == start_level - static_cast<double>(log.taken));
}

TEST_CASE("run --wait signalled at any instant either runs its command or leaves no token taken",
          "[trust][chaos]") {
    create_full_bucket();
    MarkerFile marker;
    RaceLog log = race(
        true,
        [&](int i) {
            return tb_args(redis().url(), {"run", "s", "--wait", "--consume", "--", "/bin/sh", "-c",
                                           marker.command(i)});
        },
        classify_run);
    check_race(log);
    std::multiset<int> ran = marker.ids();
    int mismatched = 0;
    for (int i = 0; i < static_cast<int>(log.outcome.size()); ++i) {
        bool exit_0 = log.outcome[i] == Race::took_first || log.outcome[i] == Race::took_held;
        if (exit_0 != (ran.count(i) == 1)) ++mismatched;
    }
    INFO("trials whose exit 0 and marker line disagree (or with two lines): " << mismatched);
    CHECK(mismatched == 0);
    CHECK(level("s") == start_level - static_cast<double>(ran.size()));
}

// ---- Faults and signals together -------------------------------------------

namespace {

enum class Kind { take, put, take_wait, watch_take, run_wait };
const char* const kind_names[] = {"take", "put", "take --wait", "watch --take", "run --wait"};

struct Op {
    Kind kind;
    int64_t n;
    int id;  // unique over all clients: run's marker line
    Plan plan;
};

// The exit statuses SPEC §5 gives each command here (no denial can happen
// with this bucket, but a denial is the truth too). A death by the signal
// it was sent is allowed to all.
bool allowed(Kind kind, int code) {
    switch (kind) {
        case Kind::take:
            return code == 0 || code == 1 || code == 69;
        case Kind::put:
            return code == 0 || code == 69;
        case Kind::take_wait:
        case Kind::watch_take:
            return code == 0 || code == 69 || code == 124;
        case Kind::run_wait:
            return code == 0 || code == 69 || code == 124 || code == 75;
    }
    return false;
}

// What the clients said happened.
struct Ledger {
    long long taken = 0, added = 0;      // reported (run: its N when it exited 0)
    std::vector<int64_t> unknown_takes;  // may or may not have happened
    std::vector<int64_t> unknown_puts;
    std::set<int> ran;                    // run ops that exited 0
    std::map<std::string, int> outcomes;  // "kind: what" counted
    std::vector<std::string> bad;
    void merge(const Ledger& o) {
        taken += o.taken;
        added += o.added;
        unknown_takes.insert(unknown_takes.end(), o.unknown_takes.begin(), o.unknown_takes.end());
        unknown_puts.insert(unknown_puts.end(), o.unknown_puts.begin(), o.unknown_puts.end());
        ran.insert(o.ran.begin(), o.ran.end());
        for (const auto& [what, n] : o.outcomes) outcomes[what] += n;
        bad.insert(bad.end(), o.bad.begin(), o.bad.end());
    }
};

std::vector<std::string> op_argv(const Op& op, const std::string& url, const MarkerFile& marker) {
    std::string n = std::to_string(op.n);
    std::vector<std::string> args{"--timeout-io", "300ms", "--connect-timeout", "300ms"};
    std::vector<std::string> command;
    switch (op.kind) {
        case Kind::take:
            command = {"take", "r", n};
            break;
        case Kind::put:
            command = {"put", "r", n};
            break;
        case Kind::take_wait:
            command = {"take", "r", n, "--wait=2s"};
            break;
        case Kind::watch_take:
            command = {"watch", "r", n, "--take", "--timeout", "2s"};
            break;
        case Kind::run_wait:
            command = {"run", "r",       n,    "--wait=2s",          "--consume",
                       "--",  "/bin/sh", "-c", marker.command(op.id)};
            break;
    }
    args.insert(args.end(), command.begin(), command.end());
    return tb_args(url, args);
}

// A death by the signal sent. put catches none: killed, it may or may not
// have happened, unless it printed its result first. The others either die
// before catching signals (silent: nothing taken yet; not run, which
// starts with them ignored) or say what they did with the tokens.
std::string account_signalled(const Op& op, const Ended& e, int sig, Ledger& l) {
    if (sig != e.sent) return "";
    if (op.kind == Kind::put) {
        if (!e.err.empty()) return "";
        if (e.out.empty()) {
            l.unknown_puts.push_back(op.n);
            return "killed, outcome unknown";
        }
        json j = json::parse(e.out, nullptr, false);
        if (!j.is_object() || j.value("added", -1) + j.value("overflow", -1) != op.n) return "";
        l.added += j.value("added", 0);
        return "killed after printing its result";
    }
    if (!e.out.empty()) return "";
    if (e.err.empty()) return op.kind == Kind::run_wait ? "" : "killed before catching signals";
    std::optional<std::string> message = signal_message(e.err, sig);
    if (!message) return "";
    if (contains(*message, "nothing taken")) return "interrupted before taking";
    if (contains(*message, "went back")) return "interrupted, tokens went back";
    return "";
}

// Exit 0, or a denial: the one result on stdout (run's command prints
// nothing there; the marker file says whether it ran).
std::string account_result(const Op& op, const Ended& e, Ledger& l) {
    if (op.kind == Kind::run_wait && e.code == 0) {
        if (!e.out.empty()) return "";
        l.ran.insert(op.id);
        l.taken += op.n;
        return "0";
    }
    if (e.out.find('\n') != e.out.size() - 1) return "";
    json j = json::parse(e.out, nullptr, false);
    if (!j.is_object()) return "";
    if (op.kind == Kind::put) {
        if (j.value("added", -1) + j.value("overflow", -1) != op.n) return "";
        l.added += j.value("added", 0);
        return "0";
    }
    int64_t taken = j.value("taken", int64_t{-1});
    if (taken != (e.code == 0 ? op.n : 0) || j.value("ok", false) != (e.code == 0)) return "";
    l.taken += taken;
    return e.code == 0 ? "0" : "denied";
}

// Exit 69 or 124: one error line. "unknown" is the one case where the
// change may or may not have happened; a give-back that failed for sure
// after a signal leaves the tokens taken, as its message says.
std::string account_error(const Op& op, const Ended& e, const std::string& err, Ledger& l) {
    std::optional<std::string> message =
        error_message(err, e.code == 69 ? "unavailable" : "timeout", e.code);
    if (!message || !e.out.empty()) return "";
    if (contains(*message, "unknown")) {
        (op.kind == Kind::put ? l.unknown_puts : l.unknown_takes).push_back(op.n);
        return std::to_string(e.code) + ", outcome unknown";
    }
    if (contains(*message, "giving them back failed")) {
        l.taken += op.n;
        return std::to_string(e.code) + ", signalled, the give-back failed";
    }
    return std::to_string(e.code) + ", not done";
}

void account(const Op& op, const std::vector<std::string>& argv, const Ended& e, Ledger& l) {
    std::string err = without_warnings(e.err);
    int sig = e.died_by ? e.died_by : (e.sent && e.code == 128 + e.sent ? e.sent : 0);
    std::string what;
    if (e.timed_out) {
        what = "";
    } else if (sig) {
        Ended shown = e;
        shown.err = err;
        what = account_signalled(op, shown, sig, l);
    } else if (!allowed(op.kind, e.code)) {
        what = "";
    } else if (e.code == 0 || e.code == 1 || e.code == 75) {
        what = err.empty() ? account_result(op, e, l) : "";
    } else {
        what = account_error(op, e, err, l);
    }
    if (what.empty()) {
        l.bad.push_back(describe(argv, e, "not allowed"));
        what = "NOT ALLOWED";
    }
    ++l.outcomes[std::string(kind_names[static_cast<int>(op.kind)]) + ": " + what];
}

// One client: `count` random operations in a row, about 10% of them sent a
// signal at a random instant (mostly early, some during the retries).
Ledger client(int index, int count, unsigned seed, const std::string& url,
              const MarkerFile& marker) {
    std::mt19937 random(seed + static_cast<unsigned>(index));
    std::uniform_int_distribution<int> kind(0, 4), n(1, 5);
    std::uniform_real_distribution<double> unit(0, 1);
    const double slow = tbucket::test::slowdown();
    Ledger l;
    for (int i = 0; i < count; ++i) {
        Op op{static_cast<Kind>(kind(random)), n(random), index * count + i, {}};
        op.plan.ignore = op.kind == Kind::run_wait;
        op.plan.timeout_s = 30 * slow;
        if (unit(random) < 0.1) {
            op.plan.sig = unit(random) < 0.5 ? SIGINT : SIGTERM;
            // A process lives ~3ms, or ~300ms+ when a fault makes it retry.
            double within_ms = (unit(random) < 0.7 ? 4 : 400) * slow;
            op.plan.delay = nanoseconds(static_cast<long long>(unit(random) * within_ms * 1e6));
        }
        std::vector<std::string> argv = op_argv(op, url, marker);
        Ended e = launch(argv, op.plan);
        if (e.sent) ++l.outcomes["(signals sent while running)"];
        account(op, argv, e, l);
    }
    return l;
}

// Whether `diff` (what the level is short of the reported changes) is the
// sum of some unknown takes minus some unknown puts.
bool explained(long long diff, const std::vector<int64_t>& takes,
               const std::vector<int64_t>& puts) {
    long long low = 0, high = 0;
    for (int64_t p : puts) low -= p;
    for (int64_t t : takes) high += t;
    if (diff < low || diff > high) return false;
    std::vector<char> reachable(static_cast<std::size_t>(high - low + 1), 0);
    reachable[static_cast<std::size_t>(-low)] = 1;
    auto shift = [&](long long by) {
        std::vector<char> next = reachable;
        for (std::size_t i = 0; i < reachable.size(); ++i) {
            long long j = static_cast<long long>(i) + by;
            if (reachable[i] && j >= 0 && j < static_cast<long long>(next.size())) next[j] = 1;
        }
        reachable = std::move(next);
    };
    for (int64_t t : takes) shift(t);
    for (int64_t p : puts) shift(-p);
    return reachable[static_cast<std::size_t>(diff - low)];
}

}  // namespace

TEST_CASE(
    "under random faults and signals the level is the start minus the reported takes plus "
    "the reported puts, up to the changes reported unknown",
    "[trust][chaos]") {
    const unsigned seed = chaos_seed();
    const int clients = 4, each = sanitized ? 50 : 500;
    WARN("seed " << seed << " (TBUCKET_CHAOS_SEED), " << clients << " clients x " << each);
    // Room for every put: none overflows, so what a put adds is its N.
    const long long start = 500000;
    REQUIRE(tbucket::test::tbucket({"-u", redis().url(), "create", "r", "--capacity", "1000000",
                                    "--tokens", std::to_string(start)})
                .code == 0);
    tbucket::test::FaultProxy proxy(redis().port());
    proxy.randomize({"EVALSHA", "EVAL"}, 0.05, 0.05, 0.03, 0.05, 200, seed);
    MarkerFile marker;
    std::vector<Ledger> ledgers(clients);
    std::vector<std::thread> threads;
    auto began = Clock::now();
    for (int c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] { ledgers[c] = client(c, each, seed, proxy.url(), marker); });
    }
    for (std::thread& t : threads) t.join();
    proxy.clear();
    Ledger all;
    for (const Ledger& l : ledgers) all.merge(l);

    std::ostringstream counts;
    for (const auto& [what, n] : all.outcomes) counts << "\n  " << what << ": " << n;
    WARN("in " << tbucket::test::seconds_since(began) << "s, " << proxy.faults_applied()
               << " faults; outcomes:" << counts.str());
    for (std::size_t i = 0; i < all.bad.size() && i < 10; ++i) FAIL_CHECK(all.bad[i]);
    CHECK(all.bad.empty());

    std::multiset<int> markers = marker.ids();
    CHECK(std::set<int>(markers.begin(), markers.end()) == all.ran);
    CHECK(markers.size() == all.ran.size());
    double now = level("r");
    long long diff = start - all.taken + all.added - static_cast<long long>(now);
    INFO("level " << now << ", reported taken " << all.taken << ", added " << all.added
                  << "; short by " << diff << ", unknown takes " << all.unknown_takes.size()
                  << ", unknown puts " << all.unknown_puts.size());
    CHECK(now == std::floor(now));
    CHECK(explained(diff, all.unknown_takes, all.unknown_puts));
}
