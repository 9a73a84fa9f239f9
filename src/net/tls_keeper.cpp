#include "net/tls_keeper.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "net/private_files.h"

extern char** environ;

namespace tbucket::tls_keeper {
namespace {

constexpr std::string_view greeting = "tbucket-keeper 1 ";
constexpr std::size_t max_body = 64 * 1024;

// What this process knows of keepers, made on first use: a global with a
// constructor would cost every command, TLS or not, its start-up work, and
// the start-up layout of a plain command is measured in pages.
struct State {
    int reached_fd = -1;      // the connection reach() made, for the first open()
    std::string reached_key;  // with this key
    TlsOptions reached_for;   // and these options
    std::string program = "/proc/self/exe";
    bool started = false;
};
State& state() {
    static State* made = new State;
    return *made;
}

int ms_left(Deadline deadline) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : left > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(left);
}

// `key`: key(options), read once per command (it stats every CA and
// certificate file).
std::string path_for(const TlsOptions& options, const std::string& key, const char* suffix) {
    std::string path = options.session_cache_dir + "/keep-" + private_files::hex_hash(key) + suffix;
    return path.size() < sizeof(sockaddr_un{}.sun_path) ? path : "";
}

// A stopped process (SIGSTOP, Ctrl-Z) still accepts connections on its
// socket (the kernel queues them) but never answers: its state in
// /proc/PID/stat is T (stopped) or t (traced).
bool stopped(pid_t pid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char text[512];
    ssize_t got = ::read(fd, text, sizeof text - 1);
    ::close(fd);
    if (got <= 0) return false;
    text[got] = '\0';
    const char* end = std::strrchr(text, ')');  // the name may hold spaces and parentheses
    return end && end[1] == ' ' && (end[2] == 'T' || end[2] == 't');
}

// The listening keeper is this user's, and able to answer.
bool same_user(int fd) {
    ucred peer{};
    socklen_t size = sizeof peer;
    return ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) == 0 &&
           peer.uid == ::geteuid() && !stopped(peer.pid);
}

// A keeper's socket of this user's, connected; -1 when there is none.
int connect_keeper(const TlsOptions& options, const std::string& key) {
    std::string path = path_for(options, key, ".sock");
    struct stat st {};
    if (path.empty() || !private_files::usable_directory(options.session_cache_dir) ||
        ::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != ::geteuid())
        return -1;
    // Non-blocking, as Stream wants it; a full backlog is "no keeper".
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.data(), path.size());
    int rc;
    do {
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0 || !same_user(fd)) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool send_all(int fd, std::string_view bytes, Deadline deadline) {
    while (!bytes.empty()) {
        ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(sent));
            continue;
        }
        if (sent < 0 && errno == EINTR) continue;
        if (sent < 0 && errno != EAGAIN) return false;
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, ms_left(deadline)) == 0) return false;
    }
    return true;
}

// The keeper's one-line answer. Read a byte at a time: nothing may be
// taken from what the server says next.
Opened read_answer(int fd, Deadline deadline) {
    Opened opened;
    std::string line;
    while (line.size() < 4096) {
        char c;
        ssize_t got = ::recv(fd, &c, 1, MSG_DONTWAIT);
        if (got == 1) {
            if (c != '\n') {
                line += c;
                continue;
            }
            if (line == "+") {
                opened.fd = fd;
                return opened;
            }
            break;
        }
        if (got < 0 && errno == EINTR) continue;
        if (got == 0 || errno != EAGAIN) break;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, ms_left(deadline)) == 0) {
            opened.answered = true;
            opened.timed_out = true;
            opened.failure = "no answer within the connect timeout";
            ::close(fd);
            return opened;
        }
    }
    ::close(fd);
    opened.answered = true;
    std::size_t space = line.find(' ');
    if (line.size() > 1 && line[0] == '-' && space != std::string::npos) {
        opened.timed_out = line.compare(1, space - 1, "timed_out") == 0;
        opened.failure = line.substr(space + 1);
    } else {
        opened.failure = "the TLS keeper went away before the connection was ready";
    }
    return opened;
}

}  // namespace

std::string key(const TlsOptions& options) {
    return private_files::trust_key(options);
}

std::string socket_path(const TlsOptions& options) {
    return path_for(options, key(options), ".sock");
}

std::string lock_path(const TlsOptions& options) {
    return path_for(options, key(options), ".lock");
}

bool usable(const TlsOptions& options) {
    return options.enabled && options.verify && options.keep_ms > 0 &&
           !options.session_cache_dir.empty() && options.session_cache_dir[0] == '/';
}

bool reach(const TlsOptions& options) {
    if (!usable(options) || !options.use_keeper) return false;
    State& kept = state();
    if (kept.reached_fd >= 0) return true;
    kept.reached_key = key(options);
    kept.reached_for = options;
    kept.reached_fd = connect_keeper(options, kept.reached_key);
    return kept.reached_fd >= 0;
}

Opened open(const ConnectionOptions& options, Deadline deadline) {
    // The key is read from the files once: the connection reach() made is
    // for these very options.
    State& kept = state();
    bool same = kept.reached_fd >= 0 && kept.reached_for == options.tls;
    std::string own_key = same ? kept.reached_key : key(options.tls);
    int fd = same ? std::exchange(kept.reached_fd, -1) : connect_keeper(options.tls, own_key);
    if (fd < 0) return {};
    Hello hello{own_key, options.host, options.port, options.connect_timeout_ms};
    if (!send_all(fd, encode(hello), deadline)) {
        ::close(fd);
        return {};  // a keeper that cannot take 1 KB has ended: connect directly
    }
    return read_answer(fd, deadline);
}

void set_program(std::string path) {
    state().program = std::move(path);
}

void start(const ConnectionOptions& connection) {
    const TlsOptions& options = connection.tls;
    if (state().started || !usable(options)) return;
    state().started = true;
    if (!private_files::make_directory(options.session_cache_dir)) return;
    // Everything the child needs is made before fork: after it, only calls
    // that are safe in a copy of a process that may have threads.
    std::vector<std::string> words{"tbucket-tls",
                                   argv_flag,
                                   options.session_cache_dir,
                                   std::to_string(options.keep_ms),
                                   options.ca_file,
                                   options.ca_dir,
                                   options.cert_file,
                                   options.key_file,
                                   options.server_name,
                                   connection.host,
                                   std::to_string(connection.port),
                                   std::to_string(connection.connect_timeout_ms)};
    std::string path = state().program;
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    // The keeper holds no password: none in its environment either, and
    // no URL (one may carry a password; the keeper is told its server in
    // its arguments).
    std::vector<char*> envp;
    for (char** e = environ; *e; ++e) {
        static constexpr std::string_view secret[] = {
            "TBUCKET_PASSWORD=", "REDISCLI_AUTH=", "TBUCKET_URL=", "REDIS_URL="};
        bool held = false;
        for (std::string_view s : secret) held = held || std::strncmp(*e, s.data(), s.size()) == 0;
        if (!held) envp.push_back(*e);
    }
    envp.push_back(nullptr);
    // Signals held across fork: a handler of this process's must not run
    // in the child, where it would write to this process's signal pipe.
    sigset_t all, before;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &before);
    pid_t child = ::fork();
    if (child == 0) {
        // A grandchild in a session of its own: not this command's child,
        // not in its terminal's process group (a ^C to the command is not
        // for it), and reaped by init. It stays in this directory: relative
        // --cacert and --cert paths are part of its key.
        ::setsid();
        if (::fork() != 0) ::_exit(0);
        for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        int null = ::open("/dev/null", O_RDWR);
        if (null < 0) ::_exit(1);
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
        ::close_range(3, ~0U, 0);
        ::execve(path.c_str(), argv.data(), envp.data());
        ::_exit(127);
    }
    if (child > 0) {
        while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

std::string encode(const Hello& hello) {
    std::string body;
    private_files::add_field(body, "key", hello.key);
    private_files::add_field(body, "host", hello.host);
    private_files::add_field(body, "port", std::to_string(hello.port));
    private_files::add_field(body, "connect_ms", std::to_string(hello.connect_timeout_ms));
    return std::string(greeting) + std::to_string(body.size()) + "\n" + body;
}

std::size_t header_length(std::string_view text, std::size_t& body_length) {
    std::size_t end = text.find('\n');
    std::string_view head = text.substr(0, std::min(end, text.size()));
    if (head.substr(0, std::min(head.size(), greeting.size())) !=
        greeting.substr(0, std::min(head.size(), greeting.size())))
        return std::string_view::npos;
    if (end == std::string_view::npos) return text.size() > 64 ? std::string_view::npos : 0;
    std::string_view digits = head.substr(greeting.size());
    if (head.size() <= greeting.size() || digits.size() > 6) return std::string_view::npos;
    body_length = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::string_view::npos;
        body_length = body_length * 10 + static_cast<std::size_t>(c - '0');
    }
    return body_length > max_body ? std::string_view::npos : end + 1;
}

namespace {

// NAME=LENGTH:VALUE\n at `at`, as add_field wrote it.
bool next_field(std::string_view body, std::size_t& at, std::string_view name, std::string& value) {
    if (body.substr(at, name.size() + 1) != std::string(name) + "=") return false;
    at += name.size() + 1;
    std::size_t colon = body.find(':', at);
    if (colon == std::string_view::npos || colon == at || colon - at > 6) return false;
    std::size_t length = 0;
    for (char c : body.substr(at, colon - at)) {
        if (c < '0' || c > '9') return false;
        length = length * 10 + static_cast<std::size_t>(c - '0');
    }
    at = colon + 1;
    if (length > body.size() - at || at + length >= body.size() || body[at + length] != '\n')
        return false;
    value.assign(body.substr(at, length));
    at += length + 1;
    return true;
}

bool to_number(const std::string& text, int64_t low, int64_t high, int64_t& value) {
    if (text.empty() || text.size() > 12) return false;
    value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + (c - '0');
    }
    return value >= low && value <= high;
}

}  // namespace

bool decode(std::string_view body, Hello& hello) {
    std::size_t at = 0;
    std::string port, connect_ms;
    int64_t number = 0;
    if (!next_field(body, at, "key", hello.key) || !next_field(body, at, "host", hello.host) ||
        !next_field(body, at, "port", port) || !next_field(body, at, "connect_ms", connect_ms) ||
        at != body.size() || hello.host.empty() || !to_number(port, 1, 65535, number))
        return false;
    hello.port = static_cast<int>(number);
    if (!to_number(connect_ms, 1, 3'600'000, number)) return false;
    hello.connect_timeout_ms = number;
    return true;
}

}  // namespace tbucket::tls_keeper
