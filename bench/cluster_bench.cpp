// cluster_bench PORT: what a Redis Cluster redirect costs, against the
// cluster that has a node on 127.0.0.1:PORT (bench/cluster starts one).
// The bucket bench:{redirect} lives on one primary, the "owner"; "other" is
// another primary, which answers MOVED for it.
//   warm_direct   a take on an open connection to the owner
//   warm_moved    a take sent to other, MOVED, then sent to the owner, both
//                 connections open: the redirect's own round trip
//   cold_direct   a new Client whose seed is the owner: connect + one take
//                 (what a one-shot tbucket pays)
//   cold_moved    a new Client whose seed is other: connect, MOVED, connect
//                 to the owner, take
// Output: "name value unit" lines; round trips are counted by the servers
// (INFO commandstats: calls and rejected_calls of evalsha).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bucket/bucket.h"
#include "bucket/script.h"

using namespace tbucket;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int trials = 2000;
const std::string name = "redirect";
const std::string key = "bench:{redirect}";

ConnectionOptions at(int port) {
    ConnectionOptions o;
    o.port = port;
    return o;
}

double us_since(Clock::time_point t) {
    return std::chrono::duration<double, std::micro>(Clock::now() - t).count();
}

// The primary that owns key's slot, and another primary.
std::pair<int, int> owner_and_other(Connection& seed) {
    long long slot = seed.call({"CLUSTER", "KEYSLOT", key})->integer;
    Reply slots = seed.call({"CLUSTER", "SLOTS"});
    int owner = 0, other = 0;
    for (std::size_t i = 0; i < slots->elements; ++i) {
        const redisReply& range = *slots->element[i];
        int port = static_cast<int>(range.element[2]->element[1]->integer);
        bool owns = slot >= range.element[0]->integer && slot <= range.element[1]->integer;
        if (owns) owner = port;
        if (!owns && port != owner) other = port;
    }
    return {owner, other};
}

// INFO commandstats of evalsha on a node: "calls=N,usec=...,rejected_calls=M,...".
std::string evalsha_stats(int port) {
    Connection c(at(port));
    Reply r = c.call({"INFO", "commandstats"});
    std::string text(r->str, r->len);
    std::size_t start = text.find("cmdstat_evalsha:");
    if (start == std::string::npos) return "none";
    start += 16;
    return text.substr(start, text.find('\r', start) - start);
}

void reset_stats(int port) {
    Connection(at(port)).call({"CONFIG", "RESETSTAT"});
}

void median(const char* what, std::vector<double> us) {
    std::sort(us.begin(), us.end());
    double sum = 0;
    for (double v : us) sum += v;
    std::printf("%s_p50 %.1f us\n%s_mean %.1f us\n", what, us[us.size() / 2], what,
                sum / static_cast<double>(us.size()));
}

void warm(int owner, int other) {
    Script const& take = scripts::take_script;
    // One id for every call: after the first, each is a repeat answered from
    // the id key, the same work whichever node answers.
    Command command{"EVALSHA",
                    std::string(take.sha1),
                    "2",
                    key,
                    key + ":id:bench",
                    "60000",
                    "1",
                    "0",
                    "",
                    "",
                    "",
                    ""};
    Connection to_owner(at(owner)), to_other(at(other));
    to_owner.call(command);
    to_other.call(command);
    std::vector<double> direct, moved;
    for (int i = 0; i < trials; ++i) {
        auto t = Clock::now();
        to_owner.call(command);
        direct.push_back(us_since(t));
        t = Clock::now();
        to_other.call(command);  // MOVED
        to_owner.call(command);
        moved.push_back(us_since(t));
    }
    median("warm_direct", direct);
    median("warm_moved", moved);
}

void cold(const char* what, int seed_port, int owner, int other) {
    reset_stats(owner);
    reset_stats(other);
    std::vector<double> us;
    for (int i = 0; i < trials / 4; ++i) {
        auto t = Clock::now();
        Client client(at(seed_port), "bench:");
        client.take(name, 1, TakeMode::all, std::nullopt);
        us.push_back(us_since(t));
    }
    median(what, us);
    std::printf("%s_owner_evalsha %s\n%s_other_evalsha %s\n", what, evalsha_stats(owner).c_str(),
                what, evalsha_stats(other).c_str());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: cluster_bench PORT\n");
        return 2;
    }
    Connection seed(at(std::atoi(argv[1])));
    auto [owner, other] = owner_and_other(seed);
    std::printf("owner 127.0.0.1:%d\nother 127.0.0.1:%d\ntrials %d warm, %d cold\n", owner, other,
                trials, trials / 4);
    Client setup(at(owner), "bench:");
    setup.create(name, Settings{max_count, std::nullopt, std::nullopt, std::nullopt}, std::nullopt,
                 CreateMode::replace);
    setup.take(name, 1, TakeMode::all,
               std::nullopt);  // the take script is cached on the owner from here on
    warm(owner, other);
    cold("cold_direct", owner, owner, other);
    cold("cold_moved", other, owner, other);
}
