#pragma once

// Running programs from tests: the built tbucket binary (end-to-end tests)
// and redis-server (the fixture).

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace tbucket::test {

struct RunResult {
    int code = -1;  // exit status, or 128 + signal
    std::string out;
    std::string err;
};

struct RunOptions {
    std::map<std::string, std::string> env;  // added to a clean environment
    std::string input;                      // standard input
    double timeout_s = 60;                  // then SIGKILL and fail
};

inline RunOptions with_env(std::map<std::string, std::string> env) {
    RunOptions options;
    options.env = std::move(env);
    return options;
}

// Runs argv[0] (searched in PATH) with a clean environment: no TBUCKET_*,
// REDIS_URL or REDISCLI_AUTH from the caller leaks in.
RunResult run(const std::vector<std::string>& argv, const RunOptions& options = {});

// Runs the built tbucket with these arguments.
RunResult tbucket(const std::vector<std::string>& args, const RunOptions& options = {});

// A child left running: started now, collected by wait().
class Child {
public:
    Child(const std::vector<std::string>& argv, const RunOptions& options = {});
    ~Child();
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    pid_t pid() const { return pid_; }
    void signal(int sig);
    RunResult wait();
    // True when the child has exited (without collecting it).
    bool exited_within(double seconds);

private:
    void drain(int timeout_ms);
    pid_t pid_ = -1;
    int out_fd_ = -1, err_fd_ = -1;
    RunResult result_;
    bool done_ = false;
    double timeout_s_;
};

std::string tbucket_path();

}  // namespace tbucket::test
