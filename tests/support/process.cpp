#include "support/process.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

extern char** environ;

namespace tbucket::test {
namespace {}  // namespace

std::vector<std::string> clean_environment(const std::map<std::string, std::string>& extra) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string entry = *e;
        // TBUCKET_TLS_KEEP passes: TlsServer sets it for the whole test.
        bool caller = entry.rfind("TBUCKET_", 0) == 0 && entry.rfind("TBUCKET_TLS_KEEP=", 0) != 0;
        if (caller || entry.rfind("REDIS_URL=", 0) == 0 || entry.rfind("REDISCLI_AUTH=", 0) == 0 ||
            entry.rfind("NO_COLOR=", 0) == 0 ||
            extra.count(entry.substr(0, entry.find('='))) != 0) {  // the extra one wins
            continue;
        }
        env.push_back(entry);
    }
    for (const auto& [key, value] : extra) env.push_back(key + "=" + value);
    // tbucket holds a semaphore that it creates on a server younger than its
    // restart grace (12 s) and without an append-only file, for holders whose
    // leases a restart may have lost (SPEC §16). Every test's server is
    // seconds old: the grace is off unless a test (of that grace) sets it.
    if (extra.count("TBUCKET_RESTART_GRACE") == 0) env.emplace_back("TBUCKET_RESTART_GRACE=0");
    return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (std::string& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

std::string tbucket_path() {
    // Another build's binary (an older version, to show a test failing
    // before its fix): TBUCKET_TEST_BIN=/path/to/tbucket.
    if (const char* other = std::getenv("TBUCKET_TEST_BIN"); other && *other) return other;
    return build_file("tbucket");
}

std::string build_file(const std::string& path) {
    return (std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() / path)
        .string();
}

bool sanitized() {
    static const bool linked = dlsym(RTLD_DEFAULT, "__asan_init") != nullptr;
    return linked;
}

Child::Child(const std::vector<std::string>& argv, const RunOptions& options)
    : timeout_s_(options.timeout_s) {
    int out[2], err[2], in[2];
    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(in, O_CLOEXEC) ||
        pipe2(stop_pipe_, O_CLOEXEC)) {
        throw std::runtime_error("pipe");
    }
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
    struct stat st {};
    if (fstat(out_fd_, &st) == 0) out_inode_ = st.st_ino;
    if (fstat(err_fd_, &st) == 0) err_inode_ = st.st_ino;
    reader_ = std::thread([this] { read_output(); });
}

Child::~Child() {
    if (!done_ && pid_ > 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    stop_reader();
    for (int fd : {out_fd_, err_fd_, stop_pipe_[0], stop_pipe_[1]}) {
        if (fd >= 0) close(fd);
    }
}

void Child::signal(int sig) {
    kill(pid_, sig);
}

void Child::stop_reader() {
    if (!reader_.joinable()) return;
    char byte = 1;
    ssize_t ignored = write(stop_pipe_[1], &byte, 1);
    (void)ignored;
    reader_.join();
}

// Until both pipes end, or stop_reader(): poll() sleeps until there is
// something to read, so this never spins.
void Child::read_output() {
    char buf[65536];
    while (out_fd_ >= 0 || err_fd_ >= 0) {
        pollfd fds[3] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
        if (poll(fds, 3, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[2].revents) break;
        for (int i = 0; i < 2; ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            std::lock_guard lock(mutex_);
            if (n > 0) {
                (i == 0 ? result_.out : result_.err).append(buf, static_cast<std::size_t>(n));
            } else {
                close(fds[i].fd);
                (i == 0 ? out_fd_ : err_fd_) = -1;
            }
            changed_.notify_all();
        }
    }
    std::lock_guard lock(mutex_);
    output_ended_ = out_fd_ < 0 && err_fd_ < 0;
    changed_.notify_all();
}

bool Child::exited_within(double seconds) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::duration<double>(seconds),
                             [&] { return output_ended_; });
}

std::string Child::out_so_far() const {
    std::lock_guard lock(mutex_);
    return result_.out;
}

std::string Child::err_so_far() const {
    std::lock_guard lock(mutex_);
    return result_.err;
}

bool Child::wait_for_output(const std::string& needle, double seconds) {
    auto found = [&] {
        return result_.out.find(needle) != std::string::npos ||
               result_.err.find(needle) != std::string::npos;
    };
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::duration<double>(seconds),
                      [&] { return found() || output_ended_; });
    return found();
}

std::string Child::pipe_holders() const {
    const std::string out = "pipe:[" + std::to_string(out_inode_) + "]";
    const std::string err = "pipe:[" + std::to_string(err_inode_) + "]";
    std::string found;
    DIR* proc = opendir("/proc");
    if (!proc) return found;
    while (dirent* e = readdir(proc)) {
        std::string pid = e->d_name;
        if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
        DIR* fds = opendir(("/proc/" + pid + "/fd").c_str());
        if (!fds) continue;
        bool holds = false;
        while (dirent* f = readdir(fds)) {
            char target[64];
            std::string link = "/proc/" + pid + "/fd/" + f->d_name;
            ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
            if (n <= 0) continue;
            target[n] = 0;
            if (out == target || err == target) holds = true;
        }
        closedir(fds);
        if (!holds || pid == std::to_string(getpid())) continue;
        std::string stat;
        std::getline(std::ifstream("/proc/" + pid + "/stat"), stat);
        found += (found.empty() ? "" : "; ") + stat.substr(0, stat.find(' ', stat.find(')') + 3));
    }
    closedir(proc);
    return found;
}

RunResult Child::wait() {
    if (done_) return result_;
    int status = 0;
    if (!exited_within(timeout_s_)) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        done_ = true;
        stop_reader();
        throw std::runtime_error("child did not finish within the test's timeout");
    }
    reader_.join();
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
