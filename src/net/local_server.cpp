#include "net/local_server.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "util/error.h"

namespace tbucket {
namespace {

[[noreturn]] void cannot(const std::string& why) {
    throw Error(ErrorKind::unavailable, "local mode: " + why);
}

std::string env_dir(const char* name) {
    const char* v = std::getenv(name);
    return v && v[0] == '/' ? v : "";
}

// mkdir -p with mode 0700 for what it makes; the last one must be ours and
// closed to others.
void private_dir(const std::string& dir) {
    for (std::size_t at = 1; at <= dir.size(); ++at) {
        if (at < dir.size() && dir[at] != '/') continue;
        std::string part = dir.substr(0, at);
        if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
            cannot("cannot make " + part + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) cannot(dir + " is not a directory");
    if (st.st_uid != ::geteuid()) cannot(dir + " belongs to another user; tbucket will not use it");
    if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0)
        cannot("cannot make " + dir + " private: " + std::strerror(errno));
}

// True when a redis-server answers PING on the socket.
bool answering(const std::string& socket_path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof addr.sun_path) {
        ::close(fd);
        cannot("the socket path " + socket_path + " is too long");
    }
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
              ::write(fd, "PING\r\n", 6) == 6;
    char reply[64] = {0};
    // "+PONG", or "-LOADING" while it reads its append-only file: up, not ready.
    ok = ok && ::read(fd, reply, sizeof reply - 1) > 0 && std::strncmp(reply, "+PONG", 5) == 0;
    ::close(fd);
    return ok;
}

void start(const LocalPaths& p) {
    std::vector<std::string> args{"redis-server", "--port",    "0",
                                  "--unixsocket", p.socket(),  "--unixsocketperm",
                                  "700",          "--dir",     p.state_dir,
                                  "--appendonly", "yes",       "--appendfsync",
                                  "always",       "--save",    "",
                                  "--daemonize",  "yes",       "--pidfile",
                                  p.pidfile(),    "--logfile", p.state_dir + "/redis.log"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) cannot(std::string("fork failed: ") + std::strerror(errno));
    if (pid == 0) {
        int null = ::open("/dev/null", O_RDWR);
        if (null >= 0) {
            ::dup2(null, 0);
            ::dup2(null, 1);
            ::dup2(null, 2);
        }
        ::execvp("redis-server", argv.data());
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        cannot("redis-server is not installed (apt install redis-server)");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        cannot("redis-server did not start; see " + p.state_dir + "/redis.log");
}

}  // namespace

LocalPaths local_paths() {
    LocalPaths p;
    const bool root = ::geteuid() == 0;
    std::string runtime = env_dir("XDG_RUNTIME_DIR");
    p.run_dir = !runtime.empty() ? runtime + "/tbucket"
                : root           ? "/run/tbucket"
                                 : "/tmp/tbucket-" + std::to_string(::geteuid());
    std::string state = env_dir("XDG_STATE_HOME");
    std::string home = env_dir("HOME");
    p.state_dir = !state.empty()  ? state + "/tbucket"
                  : root          ? "/var/lib/tbucket"
                  : !home.empty() ? home + "/.local/state/tbucket"
                                  : p.run_dir + "/state";
    return p;
}

std::string ensure_local_server(const LocalPaths& p) {
    if (answering(p.socket())) return p.socket();
    private_dir(p.run_dir);
    private_dir(p.state_dir);
    int lock = ::open(p.lock().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0) cannot("cannot open " + p.lock() + ": " + std::strerror(errno));
    // Whoever holds the lock is starting the server: wait for it.
    while (::flock(lock, LOCK_EX) != 0 && errno == EINTR) {
    }
    struct Unlock {
        int fd;
        ~Unlock() { ::close(fd); }
    } unlock{lock};
    if (answering(p.socket())) return p.socket();
    ::unlink(p.socket().c_str());  // left by a server that was killed
    start(p);
    // Up once it answers; an append-only file to read first takes longer.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!answering(p.socket())) {
        if (std::chrono::steady_clock::now() > deadline)
            cannot("redis-server did not answer on " + p.socket() + "; see " + p.state_dir +
                   "/redis.log");
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return p.socket();
}

}  // namespace tbucket
