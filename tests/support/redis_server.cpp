#include "support/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace tbucket::test {

int free_port(int wanted) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(wanted));
    socklen_t len = sizeof addr;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        close(fd);
        throw std::runtime_error("no free port");
    }
    close(fd);
    return ntohs(addr.sin_port);
}

// A free port whose cluster bus port (+10000) is free too.
int free_cluster_port() {
    for (;;) {
        int port = free_port();
        if (port > 55535) continue;
        try {
            free_port(port + 10000);
            return port;
        } catch (const std::exception&) {
        }
    }
}

RedisServer::RedisServer(std::vector<std::string> extra_args, bool cluster_bus, bool config_file)
    : extra_args_(std::move(extra_args)) {
    char pattern[] = "/tmp/tbucket-test-XXXXXX";
    if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    if (config_file) {
        config_ = dir_ + "/redis.conf";
        std::ofstream(config_) << "";
    }
    for (int attempt = 0; attempt < 5 && pid_ < 0; ++attempt) {
        port_ = cluster_bus ? free_cluster_port() : free_port();
        try {
            launch();
        } catch (const std::exception&) {
            if (attempt == 4) throw;
        }
    }
}

std::unique_ptr<RedisServer> RedisServer::sentinel(int primary_port, const std::string& master,
                                                   int down_after_ms,
                                                   std::vector<std::string> extra_args) {
    std::string d = std::to_string(down_after_ms);
    // The settings go on the command line; the file (a Sentinel's own, which
    // it rewrites) starts empty.
    std::vector<std::string> args{"--sentinel",
                                  "--sentinel",
                                  "monitor",
                                  master,
                                  "127.0.0.1",
                                  std::to_string(primary_port),
                                  "2",
                                  "--sentinel",
                                  "down-after-milliseconds",
                                  master,
                                  d,
                                  "--sentinel",
                                  "failover-timeout",
                                  master,
                                  std::to_string(std::max(4 * down_after_ms, 3000))};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    return std::make_unique<RedisServer>(std::move(args), false, true);
}

RedisServer::~RedisServer() {
    stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

ConnectionOptions RedisServer::options() const {
    ConnectionOptions o;
    o.host = "127.0.0.1";
    o.port = port_;
    return o;
}

void RedisServer::launch() {
    std::vector<std::string> args{
        "redis-server", "--port",    std::to_string(port_), "--bind",      "127.0.0.1",
        "--save",       "",          "--appendonly",        "no",          "--dir",
        dir_,           "--logfile", dir_ + "/redis.log",   "--daemonize", "no"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    if (!config_.empty()) args.insert(args.begin() + 1, config_);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        setpgid(0, 0);  // keep ^C in a terminal for the test runner only
        execvp("redis-server", argv.data());
        _exit(127);
    }
    pid_ = pid;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("redis-server exited at start; see " + dir_ + "/redis.log");
        }
        try {
            connection_ = std::make_unique<Connection>(options());
            Reply reply = connection_->call({"PING"});
            if (reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_ERROR)
                return;  // NOAUTH: up too
        } catch (const std::exception&) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    stop();
    throw std::runtime_error("redis-server did not answer on port " + std::to_string(port_));
}

void RedisServer::stop() {
    connection_.reset();
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);  // no persistence: nothing to save, no shutdown to wait for
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

void RedisServer::start() {
    if (pid_ <= 0) launch();
}

Reply RedisServer::command(const std::vector<std::string>& args) {
    if (!connection_) connection_ = std::make_unique<Connection>(options());
    try {
        return connection_->call(args);
    } catch (...) {
        connection_.reset();
        throw;
    }
}

std::string RedisServer::string(const std::vector<std::string>& args) {
    Reply reply = command(args);
    if (reply->type == REDIS_REPLY_NIL) return "(nil)";
    if (reply->type == REDIS_REPLY_INTEGER) return std::to_string(reply->integer);
    return std::string(reply->str ? reply->str : "", reply->len);
}

long long RedisServer::integer(const std::vector<std::string>& args) {
    Reply reply = command(args);
    if (reply->type != REDIS_REPLY_INTEGER) throw std::runtime_error("not an integer reply");
    return reply->integer;
}

std::string hash_text(const redisReply& hgetall) {
    std::vector<std::string> pairs;
    for (std::size_t i = 0; i + 1 < hgetall.elements; i += 2) {
        pairs.push_back(std::string(hgetall.element[i]->str, hgetall.element[i]->len) + "=" +
                        std::string(hgetall.element[i + 1]->str, hgetall.element[i + 1]->len));
    }
    std::sort(pairs.begin(), pairs.end());
    std::string out;
    for (const std::string& p : pairs) out += p + " ";
    return out;
}

std::string RedisServer::dump_hash(const std::string& key) {
    return hash_text(*command({"HGETALL", key}));
}

std::string RedisServer::info_field(const std::string& section, const std::string& field) {
    std::istringstream lines(string({"INFO", section}));
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind(field + ":", 0) == 0) {
            std::string value = line.substr(field.size() + 1);
            if (!value.empty() && value.back() == '\r') value.pop_back();
            return value;
        }
    }
    return "";
}

long long RedisServer::command_calls(const std::string& name) {
    std::string stats = info_field("commandstats", "cmdstat_" + name);  // calls=3,usec=...
    if (stats.rfind("calls=", 0) != 0) return 0;
    return std::stoll(stats.substr(6));
}

void RedisServer::flush() {
    command({"FLUSHALL"});
    command({"CONFIG", "RESETSTAT"});
}

RedisServer& redis() {
    static RedisServer server;
    static std::string flushed_for;
    server.start();
    std::string test = Catch::getResultCapture().getCurrentTestName();
    if (test != flushed_for) {
        server.flush();
        flushed_for = test;
    }
    return server;
}

}  // namespace tbucket::test
