#pragma once

// A private redis-server for tests: started on a free loopback port in a
// temporary directory (no persistence), stopped by pid. Never 6379, never
// by name.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "redis/connection.h"

namespace tbucket::test {

class RedisServer {
  public:
    // `cluster_bus`: the port also leaves room for Redis Cluster's bus port,
    // port + 10000 (so at most 55535, and that one free too).
    // `config_file`: started with a file of its own first on the command
    // line (empty at first), as a Sentinel needs.
    explicit RedisServer(std::vector<std::string> extra_args = {}, bool cluster_bus = false,
                         bool config_file = false);
    // A Sentinel (redis-server --sentinel) watching the primary at
    // 127.0.0.1:`primary_port` as `master`, a quorum of 2, that counts it down
    // after `down_after_ms` without an answer.
    static std::unique_ptr<RedisServer> sentinel(int primary_port, const std::string& master,
                                                 int down_after_ms = 1000,
                                                 std::vector<std::string> extra_args = {});
    ~RedisServer();
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    int port() const { return port_; }
    pid_t pid() const { return pid_; }
    const std::string& dir() const { return dir_; }
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
    ConnectionOptions options() const;

    // One command on the test's own connection (not tbucket's).
    Reply command(const std::vector<std::string>& args);
    std::string string(const std::vector<std::string>& args);  // a bulk or status reply
    long long integer(const std::vector<std::string>& args);
    // HGETALL as "field=value ..." sorted: compares a hash byte for byte.
    std::string dump_hash(const std::string& key);
    // A field of INFO, e.g. info_field("stats", "total_commands_processed").
    std::string info_field(const std::string& section, const std::string& field);
    // calls of one command in INFO commandstats ("evalsha"), 0 if none.
    long long command_calls(const std::string& name);

    void stop();   // SIGKILL by pid (nothing to persist), waits; restart with start()
    void start();  // on the same port
    void flush();  // FLUSHALL and CONFIG RESETSTAT

  private:
    void launch();
    std::vector<std::string> extra_args_;
    std::string config_;  // a Sentinel's file, first on its command line
    std::string dir_;
    int port_ = 0;
    pid_t pid_ = -1;
    std::unique_ptr<Connection> connection_;
};

// An HGETALL reply as "field=value ..." sorted: compares a hash byte for byte.
std::string hash_text(const redisReply& hgetall);

// A loopback TCP port nobody listens on right now (`wanted`, or any when 0;
// throws when `wanted` is taken).
int free_port(int wanted = 0);
// A free port whose cluster bus port (+10000) is free too.
int free_cluster_port();

// The server shared by the test cases of one process, flushed when a new
// test case first asks for it. Under ctest each test case is a process of
// its own, so it has a server of its own.
RedisServer& redis();

}  // namespace tbucket::test
