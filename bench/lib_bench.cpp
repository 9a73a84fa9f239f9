// lib_bench PORT WHAT: measurements of the core library against the
// redis-server on 127.0.0.1:PORT, one figure set per WHAT:
//   port     (PORT 0) a free loopback port, for bench/run's redis-server
//   sha      the take script's SHA1 (for redis-benchmark's baseline)
//   seq      sequential takes on one connection, ops/s
//   conc     takes from 50 threads, one connection each, ops/s, and the
//            client's CPU time and context switches per take
//   loop     the same from one thread driving 50 connections
//            (ConcurrentClient), as redis-benchmark -c 50 does
//   wake     put-to-waiter-return latency in process, 200 trials
//   poll     the same for a 500 ms polling waiter (the original library's Watch)
//   idle     Redis commands/s caused by 200 idle waiting tbucket processes
//   pollidle the same for 200 polling waiters
//   memory   used_memory per bucket over 100k buckets, per plain 4-field hash,
//            and per 1-field hash (the least any hash at that key costs)
//   usage CMD...  runs CMD and prints the CPU time and context switches it
//            used (to set redis-benchmark's client cost beside conc's)
// Output: "name value unit" lines, for bench/run to print beside baselines.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bucket/bucket.h"
#include "bucket/script.h"
#include "concurrent.h"
#include "wait/wait.h"

using namespace tbucket;
using Clock = std::chrono::steady_clock;

namespace {

int port = 0;

ConnectionOptions options() {
    ConnectionOptions o;
    o.port = port;
    return o;
}

// CPU time (user + system) and context switches (voluntary + not).
struct Usage {
    double cpu_us = 0;
    double switches = 0;
    static Usage from(const rusage& ru) {
        auto us = [](const timeval& t) {
            return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec);
        };
        return {us(ru.ru_utime) + us(ru.ru_stime), static_cast<double>(ru.ru_nvcsw + ru.ru_nivcsw)};
    }
    Usage operator-(const Usage& o) const { return {cpu_us - o.cpu_us, switches - o.switches}; }
};

Usage usage(int who) {
    rusage ru{};
    getrusage(who, &ru);
    return Usage::from(ru);
}

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

long long info_number(Connection& c, const char* section, const char* field) {
    Reply r = c.call({"INFO", section});
    std::string text(r->str, r->len);
    std::size_t at = text.find(std::string(field) + ":");
    return at == std::string::npos ? -1 : std::atoll(text.c_str() + at + std::strlen(field) + 1);
}

// Until `n` wait on the bucket whose events channel is `channel`: those
// subscribed to it, plus those queued (a taker, SPEC §10, listens on its
// own channel; a version before queues subscribed here too).
void subscribed(Connection& admin, const std::string& channel, long long n) {
    const std::string key = channel.substr(0, channel.size() - std::string(":events").size());
    for (;;) {
        long long waiting = 0;
        Reply r = admin.call({"PUBSUB", "SHARDNUMSUB", channel});
        if (r->elements == 2) waiting += r->element[1]->integer;
        Reply q = admin.call({"HGET", key, "q"});
        if (q->type == REDIS_REPLY_STRING) waiting += std::atoll(q->str);
        if (waiting >= n) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

void percentiles(const char* name, std::vector<double> ms) {
    std::sort(ms.begin(), ms.end());
    double sum = 0;
    for (double v : ms) sum += v;
    std::printf("%s_p50 %.3f ms\n%s_p99 %.3f ms\n%s_mean %.3f ms\n%s_trials %zu\n", name,
                ms[ms.size() / 2], name, ms[std::min(ms.size() - 1, ms.size() * 99 / 100)], name,
                sum / static_cast<double>(ms.size()), name, ms.size());
}

void seq() {
    Client c(options(), "bench:");
    c.create("seq", Settings{max_count, std::nullopt, std::nullopt, std::nullopt}, std::nullopt,
             CreateMode::replace);
    long long n = 0;
    auto start = Clock::now();
    while (seconds_since(start) < 3) {
        c.take("seq", 1, TakeMode::all, std::nullopt);
        ++n;
    }
    std::printf("seq_ops %.0f ops/s\n", static_cast<double>(n) / seconds_since(start));
}

void conc() {
    Client(options(), "bench:")
        .create("conc", Settings{max_count, std::nullopt, std::nullopt, std::nullopt}, std::nullopt,
                CreateMode::replace);
    std::atomic<long long> total{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < 50; ++i) {
        threads.emplace_back([&] {
            Client c(options(), "bench:");
            long long n = 0;
            while (!stop) {
                c.take("conc", 1, TakeMode::all, std::nullopt);
                ++n;
            }
            total += n;
        });
    }
    auto start = Clock::now();
    Usage before = usage(RUSAGE_SELF);
    std::this_thread::sleep_for(std::chrono::seconds(3));
    stop = true;
    for (auto& t : threads) t.join();
    Usage used = usage(RUSAGE_SELF) - before;
    auto ops = static_cast<double>(total);
    std::printf("conc_ops %.0f ops/s\nconc_cpu_per_op %.1f us\nconc_switches_per_op %.2f\n",
                ops / seconds_since(start), used.cpu_us / ops, used.switches / ops);
}

// The same load from one thread: a ConcurrentClient with 50 connections,
// each carrying one take at a time, as redis-benchmark -c 50 does.
void loop() {
    Client(options(), "bench:")
        .create("loop", Settings{max_count, std::nullopt, std::nullopt, std::nullopt}, std::nullopt,
                CreateMode::replace);
    ConcurrentClient client(options(), "bench:", 50);
    // Twice as many calls as connections: a freed connection always has
    // the next one to carry, as a busy server's queue would.
    for (int i = 0; i < 100; ++i) client.take("loop", 1, TakeMode::all);
    long long total = 0, failed = 0;
    auto start = Clock::now();
    Usage before = usage(RUSAGE_SELF);
    while (seconds_since(start) < 3) {
        for (const ConcurrentClient::Done& d : client.run(-1)) {
            ++total;
            if (!std::holds_alternative<TakeResult>(d.result)) ++failed;
            client.take("loop", 1, TakeMode::all);
        }
    }
    Usage used = usage(RUSAGE_SELF) - before;
    double seconds = seconds_since(start);
    while (client.pending() > 0) client.run(-1);
    auto ops = static_cast<double>(total);
    std::printf(
        "loop_ops %.0f ops/s\nloop_cpu_per_op %.1f us\nloop_switches_per_op %.2f\nloop_failed "
        "%lld\n",
        ops / seconds, used.cpu_us / ops, used.switches / ops, failed);
}

// Runs argv[0..] and reports what it used, from wait4().
void child_usage(char** argv) {
    pid_t pid = 0;
    if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv, environ) != 0)
        throw Error(ErrorKind::usage, "cannot run");
    int status = 0;
    rusage ru{};
    wait4(pid, &status, 0, &ru);
    Usage used = Usage::from(ru);
    std::fflush(stdout);
    std::printf("usage_cpu_ms %.1f ms\nusage_switches %.0f\n", used.cpu_us / 1000, used.switches);
}

void wake() {
    Client admin_client(options(), "bench:");
    Connection admin(options());
    std::vector<double> ms;
    for (int i = 0; i < 200; ++i) {
        admin_client.create("wake", Settings{10, std::nullopt, std::nullopt, std::nullopt}, 0,
                            CreateMode::replace);
        std::atomic<long long> woke_ns{0};
        std::thread waiter([&] {
            Client c(options(), "bench:");
            WaitObserver quiet;
            wait_for(c, WaitRequest{"wake", 1, true, std::nullopt, 10000}, quiet);
            woke_ns = Clock::now().time_since_epoch().count();
        });
        subscribed(admin, "bench:{wake}:events", 1);
        std::this_thread::sleep_for(std::chrono::milliseconds(3));  // past its first check, asleep
        auto put_at = Clock::now();
        admin_client.put("wake", 1, false, std::nullopt);
        waiter.join();
        ms.push_back(static_cast<double>(woke_ns - put_at.time_since_epoch().count()) / 1e6);
    }
    percentiles("wake", ms);
}

// The original library's Watch: read the counter every 500 ms.
void poll_until(Connection& c, const std::string& key, long long n) {
    for (;;) {
        Reply r = c.call({"GET", key});
        if (r->type == REDIS_REPLY_STRING && std::atoll(r->str) >= n) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
}

void poll() {
    Connection admin(options());
    std::vector<double> ms;
    for (int i = 0; i < 20; ++i) {
        admin.call({"SET", "bench:poll", "0"});
        std::atomic<long long> woke_ns{0};
        std::thread waiter([&] {
            Connection c(options());
            poll_until(c, "bench:poll", 1);
            woke_ns = Clock::now().time_since_epoch().count();
        });
        // Tokens arrive at a random moment of the poller's cycle.
        std::this_thread::sleep_for(std::chrono::milliseconds(50 + std::rand() % 500));
        auto put_at = Clock::now();
        admin.call({"INCR", "bench:poll"});
        waiter.join();
        ms.push_back(static_cast<double>(woke_ns - put_at.time_since_epoch().count()) / 1e6);
    }
    percentiles("poll", ms);
}

void idle(const char* tbucket) {
    Client admin_client(options(), "bench:");
    Connection admin(options());
    admin_client.create("idle", Settings{10, std::nullopt, std::nullopt, std::nullopt}, 0,
                        CreateMode::replace);
    std::string url = "redis://127.0.0.1:" + std::to_string(port);
    std::vector<pid_t> pids;
    for (int i = 0; i < 200; ++i) {
        const char* argv[] = {tbucket, "-q",   "-u",        url.c_str(), "--prefix", "bench:",
                              "watch", "idle", "--timeout", "60s",       nullptr};
        pid_t pid = 0;
        posix_spawn(&pid, tbucket, nullptr, nullptr, const_cast<char**>(argv), environ);
        pids.push_back(pid);
    }
    subscribed(admin, "bench:{idle}:events", 200);
    std::this_thread::sleep_for(std::chrono::seconds(1));  // the last first checks land
    long long before = info_number(admin, "stats", "total_commands_processed");
    auto start = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(5));
    long long after = info_number(admin, "stats", "total_commands_processed");
    // One INFO of ours is counted in the window.
    std::printf("idle_waiters 200 processes\nidle_commands_per_s %.1f commands/s\n",
                static_cast<double>(after - before - 1) / seconds_since(start));
    admin_client.put("idle", 1, false, std::nullopt);  // every watcher wakes and exits 0
    for (pid_t pid : pids) waitpid(pid, nullptr, 0);
}

// Calls of EVALSHA and EVAL so far, and the usec spent in them (INFO
// commandstats): what clients asked for, not the commands inside scripts.
std::pair<double, double> script_stats(Connection& admin) {
    Reply r = admin.call({"INFO", "commandstats"});
    std::string text(r->str, r->len);
    double calls = 0, usec = 0;
    for (const char* name : {"cmdstat_evalsha:", "cmdstat_eval:"}) {
        std::size_t at = text.find(name);
        if (at == std::string::npos) continue;
        calls += std::atof(text.c_str() + text.find("calls=", at) + 6);
        usec += std::atof(text.c_str() + text.find("usec=", at) + 5);
    }
    return {calls, usec};
}

// N processes of `take herd --wait` on an empty semaphore, then 20 puts of
// one token, one at a time: per put, the commands the server runs (until
// the winner has exited and the rest are quiet again), the server's script
// CPU, and put-to-winner-exit latency. Also the connections per waiter.
void herd(int n, const char* tbucket) {
    Client admin_client(options(), "bench:");
    Connection admin(options());
    admin_client.create("herd", Settings{1, std::nullopt, std::nullopt, std::nullopt}, 0,
                        CreateMode::replace);
    long long clients_before = info_number(admin, "clients", "connected_clients");
    std::string url = "redis://127.0.0.1:" + std::to_string(port);
    std::vector<pid_t> pids;
    posix_spawn_file_actions_t quiet;
    posix_spawn_file_actions_init(&quiet);
    posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&quiet, 2, "/dev/null", O_WRONLY, 0);
    for (int i = 0; i < n; ++i) {
        const char* argv[] = {tbucket,  "-q",   "-u",   url.c_str(),   "--prefix",
                              "bench:", "take", "herd", "--wait=600s", nullptr};
        pid_t pid = 0;
        posix_spawn(&pid, tbucket, &quiet, nullptr, const_cast<char**>(argv), environ);
        pids.push_back(pid);
    }
    posix_spawn_file_actions_destroy(&quiet);
    subscribed(admin, "bench:{herd}:events", n);
    std::this_thread::sleep_for(std::chrono::seconds(2));  // the last ones settle and close
    long long clients = info_number(admin, "clients", "connected_clients") - clients_before;
    std::vector<double> ms, commands, usec;
    for (int put = 0; put < 20; ++put) {
        auto [calls_before, usec_before] = script_stats(admin);
        auto put_at = Clock::now();
        admin_client.put("herd", 1, false, std::nullopt);
        pid_t winner = waitpid(-1, nullptr, 0);
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - put_at).count());
        pids.erase(std::remove(pids.begin(), pids.end(), winner), pids.end());
        // The woken settle: until no script has run for 100 ms (at most 10 s).
        double calls_seen = -1;
        for (int i = 0; i < 100; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            double calls_now = script_stats(admin).first;
            if (calls_now == calls_seen) break;
            calls_seen = calls_now;
        }
        auto [calls_after, usec_after] = script_stats(admin);
        commands.push_back(calls_after - calls_before);
        usec.push_back(usec_after - usec_before);
    }
    // One plain take's script time, measured now, for scale: from one-shot
    // processes, as the waiters' scripts come (a new connection each, the
    // server's caches cooled by the process start, unlike a library loop).
    admin_client.create("herd-scale", Settings{1000000, std::nullopt, std::nullopt, std::nullopt},
                        std::nullopt, CreateMode::replace);
    auto [scale_calls, scale_usec] = script_stats(admin);
    for (int i = 0; i < 100; ++i) {
        const char* argv[] = {tbucket,  "-q",   "-u",         url.c_str(), "--prefix",
                              "bench:", "take", "herd-scale", nullptr};
        pid_t pid = 0;
        posix_spawn(&pid, tbucket, nullptr, nullptr, const_cast<char**>(argv), environ);
        waitpid(pid, nullptr, 0);
    }
    auto [scale_calls2, scale_usec2] = script_stats(admin);
    std::printf("herd_one_take_usec %.1f us\n",
                (scale_usec2 - scale_usec) / (scale_calls2 - scale_calls));
    std::sort(commands.begin(), commands.end());
    std::sort(usec.begin(), usec.end());
    std::printf("herd_waiters %d\nherd_connections_per_waiter %.2f\n", n,
                static_cast<double>(clients) / n);
    std::printf("herd_scripts_per_put %.0f\nherd_script_usec_per_put %.1f us\n",
                commands[commands.size() / 2], usec[usec.size() / 2]);
    percentiles("herd", ms);
    for (pid_t pid : pids) kill(pid, SIGTERM);
    for (pid_t pid : pids) waitpid(pid, nullptr, 0);
}

void pollidle() {
    Connection admin(options());
    admin.call({"SET", "bench:pollidle", "0"});
    std::atomic<bool> stop{false};
    std::vector<std::thread> pollers;
    for (int i = 0; i < 200; ++i) {
        pollers.emplace_back([&] {
            Connection c(options());
            while (!stop) {
                c.call({"GET", "bench:pollidle"});
                std::this_thread::sleep_for(std::chrono::milliseconds(500));
            }
        });
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    long long before = info_number(admin, "stats", "total_commands_processed");
    auto start = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(5));
    long long after = info_number(admin, "stats", "total_commands_processed");
    stop = true;
    for (auto& t : pollers) t.join();
    std::printf("pollidle_commands_per_s %.1f commands/s\n",
                static_cast<double>(after - before - 1) / seconds_since(start));
}

void memory() {
    Connection c(options());
    Nodes nodes({options()});
    c.call({"FLUSHALL"});
    constexpr int count = 100000;
    long long base = info_number(c, "memory", "used_memory");
    for (int start = 0; start < count; start += 1000) {
        std::vector<ScriptCall> calls;
        for (int i = start; i < start + 1000; ++i) {
            calls.push_back(change_call(scripts::create_script,
                                        "tbucket:{bucket" + std::to_string(i) + "}",
                                        {"10", "1", "60000", "", "", ""}, 24000));
        }
        run_scripts(nodes, calls);
    }
    // Each create left its request id for 24 s (what a default client's
    // change costs while it is remembered); they go before the buckets are
    // measured alone.
    long long with_ids = info_number(c, "memory", "used_memory");
    std::string cursor = "0";
    do {
        Reply page = c.call({"SCAN", cursor, "MATCH", "tbucket:*:id:*", "COUNT", "1000"});
        cursor = std::string(page->element[0]->str, page->element[0]->len);
        Command unlink{"DEL"};  // not UNLINK: freed before used_memory is read
        for (std::size_t i = 0; i < page->element[1]->elements; ++i) {
            unlink.emplace_back(page->element[1]->element[i]->str,
                                page->element[1]->element[i]->len);
        }
        if (unlink.size() > 1) c.call(unlink);
    } while (cursor != "0");
    long long with_buckets = info_number(c, "memory", "used_memory");
    c.call({"FLUSHALL"});
    long long base2 = info_number(c, "memory", "used_memory");
    for (int start = 0; start < count; start += 1000) {
        std::vector<Command> commands;
        for (int i = start; i < start + 1000; ++i) {
            commands.push_back({"HSET", "tbucket:{bucket" + std::to_string(i) + "}", "c", "10", "t",
                                "7.5", "ts", "1795806135217441", "r", "1"});
        }
        c.pipeline(commands);
    }
    long long with_hashes = info_number(c, "memory", "used_memory");
    c.call({"FLUSHALL"});
    long long base3 = info_number(c, "memory", "used_memory");
    for (int start = 0; start < count; start += 1000) {
        std::vector<Command> commands;
        for (int i = start; i < start + 1000; ++i) {
            commands.push_back({"HSET", "tbucket:{bucket" + std::to_string(i) + "}", "c", "1"});
        }
        c.pipeline(commands);
    }
    long long with_one_field = info_number(c, "memory", "used_memory");
    c.call({"FLUSHALL"});
    std::printf(
        "memory_per_request_id %.1f bytes\nmemory_per_bucket %.1f bytes\nmemory_per_plain_hash "
        "%.1f bytes\nmemory_per_one_field_hash %.1f bytes\n",
        static_cast<double>(with_ids - with_buckets) / count,
        static_cast<double>(with_buckets - base) / count,
        static_cast<double>(with_hashes - base2) / count,
        static_cast<double>(with_one_field - base3) / count);
}

int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    return ntohs(addr.sin_port);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr,
                     "usage: lib_bench PORT sha|source|seq|conc|loop|wake|poll|idle "
                     "TBUCKET|herd N TBUCKET|pollidle|memory|usage CMD...\n");
        return 2;
    }
    port = std::atoi(argv[1]);
    std::string what = argv[2];
    try {
        if (what == "port") std::printf("%d\n", free_port());
        if (what == "sha")
            std::printf("%.*s\n", static_cast<int>(scripts::take_script.sha1.size()),
                        scripts::take_script.sha1.data());
        if (what == "source")  // the take script as built: its helpers joined in
            std::fwrite(scripts::take_script.source.data(), 1, scripts::take_script.source.size(),
                        stdout);
        if (what == "seq") seq();
        if (what == "conc") conc();
        if (what == "loop") loop();
        if (what == "wake") wake();
        if (what == "poll") poll();
        if (what == "idle" && argc > 3) idle(argv[3]);
        if (what == "pollidle") pollidle();
        if (what == "herd" && argc > 4) herd(std::atoi(argv[3]), argv[4]);
        if (what == "memory") memory();
        if (what == "usage" && argc > 3) child_usage(argv + 3);
    } catch (const Error& e) {
        std::fprintf(stderr, "lib_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
