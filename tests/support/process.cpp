#include "support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace tbucket::test {
namespace {

std::vector<std::string> clean_environment(const std::map<std::string, std::string>& extra) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string entry = *e;
        if (entry.rfind("TBUCKET_", 0) == 0 || entry.rfind("REDIS_URL=", 0) == 0 ||
            entry.rfind("REDISCLI_AUTH=", 0) == 0 || entry.rfind("NO_COLOR=", 0) == 0) {
            continue;
        }
        env.push_back(entry);
    }
    for (const auto& [key, value] : extra) env.push_back(key + "=" + value);
    return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (std::string& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

}  // namespace

std::string tbucket_path() { return TBUCKET_BIN; }

Child::Child(const std::vector<std::string>& argv, const RunOptions& options) : timeout_s_(options.timeout_s) {
    int out[2], err[2], in[2];
    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(in, O_CLOEXEC)) throw std::runtime_error("pipe");
    std::vector<std::string> args = argv;
    std::vector<std::string> env = clean_environment(options.env);
    std::vector<char*> argp = pointers(args);
    std::vector<char*> envp = pointers(env);
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
        setpgid(0, 0);  // its own group, so a test's signals reach only it
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execvpe(argp[0], argp.data(), envp.data());
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    close(in[0]);
    if (!options.input.empty()) {
        ssize_t ignored = write(in[1], options.input.data(), options.input.size());
        (void)ignored;
    }
    close(in[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
}

Child::~Child() {
    if (!done_ && pid_ > 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) close(out_fd_);
    if (err_fd_ >= 0) close(err_fd_);
}

void Child::signal(int sig) { kill(pid_, sig); }

void Child::drain(int timeout_ms) {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    if (poll(fds, 2, timeout_ms) <= 0) return;
    char buf[65536];
    for (int i = 0; i < 2; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
        ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n > 0) (i == 0 ? result_.out : result_.err).append(buf, static_cast<std::size_t>(n));
        if (n <= 0) {
            close(fds[i].fd);
            (i == 0 ? out_fd_ : err_fd_) = -1;
        }
    }
}

bool Child::exited_within(double seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
        if (out_fd_ < 0 && err_fd_ < 0) return true;
        if (out_fd_ >= 0 || err_fd_ >= 0) {
            drain(10);
        }
    }
    return out_fd_ < 0 && err_fd_ < 0;
}

RunResult Child::wait() {
    if (done_) return result_;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s_);
    while ((out_fd_ >= 0 || err_fd_ >= 0) && std::chrono::steady_clock::now() < deadline) drain(50);
    int status = 0;
    if (out_fd_ >= 0 || err_fd_ >= 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        done_ = true;
        throw std::runtime_error("child did not finish within the test's timeout");
    }
    waitpid(pid_, &status, 0);
    done_ = true;
    result_.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result_;
}

RunResult run(const std::vector<std::string>& argv, const RunOptions& options) {
    Child child(argv, options);
    return child.wait();
}

RunResult tbucket(const std::vector<std::string>& args, const RunOptions& options) {
    std::vector<std::string> argv{tbucket_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, options);
}

}  // namespace tbucket::test
