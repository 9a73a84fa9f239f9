#pragma once

// Running programs from tests: the built tbucket binary (end-to-end tests)
// and redis-server (the fixture).

#include <sys/types.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tbucket::test {

struct RunResult {
    int code = -1;  // exit status, or 128 + signal
    std::string out;
    std::string err;
};

struct RunOptions {
    std::map<std::string, std::string> env;  // added to a clean environment
    std::string input;                       // standard input
    double timeout_s = 60;                   // then SIGKILL and fail
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

// A child left running: started now, collected by wait(). A thread reads
// its stdout and stderr as they come, so a child never blocks on a full
// pipe, whenever (or whether) wait() is called.
class Child {
  public:
    Child(const std::vector<std::string>& argv, const RunOptions& options = {});
    ~Child();  // SIGKILL unless collected
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    pid_t pid() const { return pid_; }
    void signal(int sig);
    // Waits for the end of its output and its exit, up to the RunOptions
    // timeout (then SIGKILL and throws).
    RunResult wait();
    // True when the child has exited (its output has ended), without
    // collecting it.
    bool exited_within(double seconds);
    // What it has written so far.
    std::string out_so_far() const;
    std::string err_so_far() const;
    // Waits up to `seconds` until its stdout or stderr contains `needle`.
    bool wait_for_output(const std::string& needle, double seconds);
    // Which processes still hold its stdout or stderr pipe open (pid, name
    // and state from /proc), to explain a child whose output never ends.
    std::string pipe_holders() const;

  private:
    void read_output();  // the reader thread
    void stop_reader();
    pid_t pid_ = -1;
    int out_fd_ = -1, err_fd_ = -1;  // the reader's; closed at their end
    unsigned long out_inode_ = 0, err_inode_ = 0;
    int stop_pipe_[2] = {-1, -1};  // ends the reader when a grandchild keeps a pipe open
    mutable std::mutex mutex_;     // guards result_'s text and output_ended_
    std::condition_variable changed_;
    bool output_ended_ = false;
    RunResult result_;
    bool done_ = false;
    double timeout_s_;
    std::thread reader_;
};

std::string tbucket_path();

// A file of the build this test program belongs to, by its path in the
// build directory ("tests/clock_probe"): test programs live in <build>/tests.
std::string build_file(const std::string& path);

// Whether this test program was built with the sanitizers, and so the
// tbucket of its build is the slower, sanitized one. Asked of the program
// itself (the sanitizers' runtime is linked in), so that the tests' own
// code compiles the same in every build.
bool sanitized();

// This process's environment without TBUCKET_*, REDIS_URL, REDISCLI_AUTH
// and NO_COLOR, plus `extra`: what every child of the tests starts with.
std::vector<std::string> clean_environment(const std::map<std::string, std::string>& extra = {});
// argv/envp for exec: pointers into `strings`, ending with nullptr.
std::vector<char*> pointers(std::vector<std::string>& strings);

}  // namespace tbucket::test
