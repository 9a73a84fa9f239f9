#pragma once

// Small helpers shared by the end-to-end "trust" suites (concurrency, bad
// input, security, faults, clock): argv building, JSON Lines, stderr shape,
// waiting for subscribers. Header-only, like the tests that use it.

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/process.h"
#include "support/redis_server.h"

namespace tbucket::test {

// argv for the built tbucket against `url`.
inline std::vector<std::string> tb_argv(const std::string& url, std::vector<std::string> args) {
    args.insert(args.begin(), {tbucket_path(), "-u", url});
    return args;
}

// The built tbucket run to its end against `url`, or against the suite's
// own server (redis()): how every suite runs the binary.
inline RunResult tb(const std::string& url, std::vector<std::string> args,
                    const RunOptions& options = {}) {
    return run(tb_argv(url, std::move(args)), options);
}
inline RunResult tb(std::vector<std::string> args, const RunOptions& options = {}) {
    return tb(redis().url(), std::move(args), options);
}

// Every line of `out` parsed as JSON (JSON Lines).
inline std::vector<nlohmann::json> json_lines(const std::string& out) {
    std::vector<nlohmann::json> lines;
    std::size_t start = 0;
    while (start < out.size()) {
        std::size_t end = out.find('\n', start);
        if (end == std::string::npos) end = out.size();
        if (end > start) lines.push_back(nlohmann::json::parse(out.substr(start, end - start)));
        start = end + 1;
    }
    return lines;
}

// Exactly one line, "tbucket: error: ...".
inline bool one_error_line(const std::string& err) {
    return err.rfind("tbucket: error: ", 0) == 0 && err.find('\n') == err.size() - 1;
}

// A run's exit status and output, for a failed check's message.
inline std::string describe(const RunResult& r) {
    return "exit " + std::to_string(r.code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

// Lines of text output, without the newlines.
inline std::vector<std::string> text_lines(const std::string& out) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < out.size()) {
        std::size_t end = out.find('\n', start);
        if (end == std::string::npos) end = out.size();
        lines.push_back(out.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

// How many wait on the bucket whose events channel is `channel`: those
// subscribed to it (watch without --take, watch --follow) and those queued
// (takers, SPEC §10: subscribed to their own channel before they queue).
template <typename Server>
long long waiters(Server& server, const std::string& channel) {
    long long n = 0;
    Reply r = server.command({"PUBSUB", "SHARDNUMSUB", channel});
    if (r->elements == 2) n += r->element[1]->integer;
    const std::string suffix = ":events";
    if (channel.size() > suffix.size() &&
        channel.compare(channel.size() - suffix.size(), suffix.size(), suffix) == 0) {
        Reply q = server.command({"HGET", channel.substr(0, channel.size() - suffix.size()), "q"});
        if (q->type == REDIS_REPLY_STRING) n += std::stoll(std::string(q->str, q->len));
    }
    return n;
}

// True once `n` waiters wait on the bucket (see waiters()): they are then
// past their first check, or about to make it.
template <typename Server>
bool wait_for_subscribers(Server& server, const std::string& channel, long long n,
                          double seconds = 10) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
        if (waiters(server, channel) >= n) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

// A new temporary directory /tmp/tbucket-NAME-XXXXXX for a test's files,
// removed with everything in it at the end of its scope.
struct TempDir {
    std::string path;
    explicit TempDir(const std::string& name) {
        std::string pattern = "/tmp/tbucket-" + name + "-XXXXXX";
        if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        path = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

#ifdef TBUCKET_MAKE_CERTS
// A throw-away CA with server and client certificates in a new temporary
// directory (support/make_certs.sh); the caller removes it.
inline std::string make_certs() {
    char pattern[] = "/tmp/tbucket-certs-XXXXXX";
    if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
    RunResult made = run({"sh", TBUCKET_MAKE_CERTS, pattern});
    if (made.code != 0) throw std::runtime_error("make_certs.sh failed: " + made.err);
    return pattern;
}
#endif

// Under AddressSanitizer every process starts and exits several times
// slower; time bounds stretch by this factor there.
inline double slowdown() {
    return sanitized() ? 4 : 1;
}

// Polls `pred` every 5 ms for up to `seconds` (stretched by slowdown()), for
// server state that has no event to wait on; its last answer.
template <typename Pred>
bool eventually(Pred pred, double seconds = 10) {
    auto end =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds * slowdown());
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return pred();
}

// A shell loop started now; $TB and $URL name the built binary and the
// server at `url`.
inline std::unique_ptr<Child> shell_loop(const std::string& url, const std::string& script,
                                         std::map<std::string, std::string> env = {},
                                         double timeout_s = 60) {
    env["TB"] = tbucket_path();
    env["URL"] = url;
    RunOptions options = with_env(env);
    options.timeout_s = timeout_s;
    return std::make_unique<Child>(std::vector<std::string>{"sh", "-c", script}, options);
}

// Lines of output (a loop's exit statuses, say), counted.
inline std::map<std::string, int> count_lines(const std::string& out) {
    std::map<std::string, int> counts;
    for (const std::string& line : text_lines(out)) ++counts[line];
    return counts;
}

// A file's whole contents; "" when it cannot be read (a /proc file of a
// process that ends while it is read fails with ESRCH, which libstdc++'s
// istreambuf_iterator throws).
inline std::string read_file(const std::string& path) {
    try {
        std::ifstream in(path, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } catch (const std::ios_base::failure&) {
        return "";
    }
}

// A process's state in /proc/PID/stat ('R', 'S', 'T' stopped, 'Z'...), or
// '\0' when there is no such process.
inline char process_state(int pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return '\0';
    std::size_t paren = line.rfind(')');
    return paren != std::string::npos && paren + 2 < line.size() ? line[paren + 2] : '\0';
}

// A process that runs (not a zombie: a keeper started by tbucket is not
// the test's child, and may wait for init to reap it).
inline bool process_alive(int pid) {
    char state = process_state(pid);
    return state != '\0' && state != 'Z';
}

inline double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace tbucket::test
