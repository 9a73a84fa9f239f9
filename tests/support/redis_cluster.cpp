#include "support/redis_cluster.h"

#include <chrono>
#include <stdexcept>
#include <thread>

#include "support/process.h"

namespace tbucket::test {
namespace {

using Clock = std::chrono::steady_clock;

void pause(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace

RedisCluster::RedisCluster(int primaries, int replicas_per_primary, const std::string& tls_dir) {
    int count = primaries * (1 + replicas_per_primary);
    replicas_ = primaries * replicas_per_primary;
    std::vector<std::string> create{"redis-cli", "--cluster", "create"};
    if (!tls_dir.empty())
        create.insert(create.begin() + 1, {"--tls", "--cacert", tls_dir + "/ca.crt"});
    for (int i = 0; i < count; ++i) {
        std::vector<std::string> args{
            "--cluster-enabled",      "yes",  "--cluster-config-file",      "nodes.conf",
            "--cluster-node-timeout", "2000", "--repl-diskless-sync-delay", "0"};
        if (!tls_dir.empty()) {
            // The bus listens on the TLS port + 10000 then: both must be free.
            tls_ports_.push_back(free_cluster_port());
            args.insert(args.end(),
                        {"--tls-port", std::to_string(tls_ports_.back()), "--tls-cluster", "yes",
                         "--tls-replication", "yes", "--tls-cert-file", tls_dir + "/server.crt",
                         "--tls-key-file", tls_dir + "/server.key", "--tls-ca-cert-file",
                         tls_dir + "/ca.crt", "--tls-auth-clients", "no"});
        }
        nodes_.push_back(std::make_unique<RedisServer>(args, true));
        int port = tls_dir.empty() ? nodes_.back()->port() : tls_ports_.back();
        create.push_back("127.0.0.1:" + std::to_string(port));
    }
    create.insert(create.end(),
                  {"--cluster-replicas", std::to_string(replicas_per_primary), "--cluster-yes"});
    RunResult r = run(create);
    if (r.code != 0)
        throw std::runtime_error("redis-cli --cluster create failed: " + r.out + r.err);
    wait_ok();
}

std::string RedisCluster::seeds_url() const {
    std::string url = "redis://";
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
        url += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(nodes_[i]->port());
    }
    return url;
}

int RedisCluster::slot(const std::string& key) {
    return static_cast<int>(nodes_.front()->integer({"CLUSTER", "KEYSLOT", key}));
}

std::string RedisCluster::id(RedisServer& node) {
    return node.string({"CLUSTER", "MYID"});
}

RedisServer& RedisCluster::owner(int slot) {
    Reply slots = nodes_.front()->command({"CLUSTER", "SLOTS"});
    for (std::size_t i = 0; i < slots->elements; ++i) {
        const redisReply& range = *slots->element[i];
        if (slot < range.element[0]->integer || slot > range.element[1]->integer) continue;
        long long port = range.element[2]->element[1]->integer;
        for (auto& n : nodes_) {
            if (n->port() == port) return *n;
        }
    }
    throw std::runtime_error("no owner for slot " + std::to_string(slot));
}

void RedisCluster::wait_ok(int slot) {
    auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
        bool ok = true;
        long long port = -1;
        for (auto& n : nodes_) {
            try {
                if (n->info_field("cluster", "cluster_enabled") != "1" ||
                    n->string({"CLUSTER", "INFO"}).find("cluster_state:ok") == std::string::npos) {
                    ok = false;
                }
                std::string nodes = n->string({"CLUSTER", "NODES"});
                int replicas = 0;
                for (std::size_t at = nodes.find("slave "); at != std::string::npos;
                     at = nodes.find("slave ", at + 1)) {
                    ++replicas;
                }
                if (replicas != replicas_) ok = false;
                // A replica can take over only once it has synchronised.
                if (n->info_field("replication", "role") == "slave" &&
                    n->info_field("replication", "master_link_status") != "up") {
                    ok = false;
                }
                Reply slots = n->command({"CLUSTER", "SLOTS"});
                long long known = 0;
                for (std::size_t i = 0; i < slots->elements; ++i) {
                    const redisReply& range = *slots->element[i];
                    known += range.element[1]->integer - range.element[0]->integer + 1;
                    if (slot >= range.element[0]->integer && slot <= range.element[1]->integer) {
                        long long p = range.element[2]->element[1]->integer;
                        if (port >= 0 && p != port) ok = false;
                        port = p;
                    }
                }
                if (known != 16384) ok = false;
            } catch (const std::exception&) {
                ok = false;
            }
        }
        if (ok) return;
        pause(50);
    }
    throw std::runtime_error("the test cluster did not reach cluster_state:ok");
}

void RedisCluster::move_slot(int slot, RedisServer& to, int pause_ms,
                             const std::function<bool()>& asked) {
    RedisServer& from = owner(slot);
    std::string s = std::to_string(slot);
    to.command({"CLUSTER", "SETSLOT", s, "IMPORTING", id(from)});
    from.command({"CLUSTER", "SETSLOT", s, "MIGRATING", id(to)});
    pause(pause_ms);
    for (;;) {
        Reply keys = from.command({"CLUSTER", "GETKEYSINSLOT", s, "100"});
        if (keys->elements == 0) break;
        std::vector<std::string> migrate{"MIGRATE", "127.0.0.1", std::to_string(to.port()), "", "0",
                                         "5000",    "KEYS"};
        for (std::size_t i = 0; i < keys->elements; ++i) {
            migrate.emplace_back(keys->element[i]->str, keys->element[i]->len);
        }
        Reply r = from.command(migrate);
        if (r->type == REDIS_REPLY_ERROR)
            throw std::runtime_error("MIGRATE failed: " + std::string(r->str));
    }
    pause(pause_ms);
    for (int waited = 0; asked && !asked() && waited < 60000; waited += 20) pause(20);
    std::string target = id(to);
    to.command({"CLUSTER", "SETSLOT", s, "NODE", target});
    from.command({"CLUSTER", "SETSLOT", s, "NODE", target});
    for (auto& n : nodes_) {
        if (n.get() != &to && n.get() != &from)
            n->command({"CLUSTER", "SETSLOT", s, "NODE", target});
    }
    wait_ok(slot);
}

}  // namespace tbucket::test
