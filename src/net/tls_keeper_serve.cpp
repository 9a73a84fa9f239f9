// The TLS keeper process (tls_keeper.h): accepts this user's one-shot
// commands on its unix socket, hands each a verified TLS connection it made
// beforehand, and relays bytes, a thread per command. One more thread keeps
// a spare connection ready for every server a command asked for lately.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/private_files.h"
#include "net/tls_cache.h"
#include "net/tls_keeper.h"

namespace tbucket::tls_keeper {
namespace {

using namespace std::chrono_literals;

// A spare older than this is replaced: a server's idle timeout (Redis's
// `timeout`, managed services' own) must never close one as it is handed
// out.
constexpr auto spare_lifetime = 50s;
constexpr auto retry_after_failure = 5s;
constexpr std::size_t max_servers = 64;
constexpr auto client_io_timeout = 30s;

struct Server {
    Server(std::string h, int p, int64_t connect_ms)
        : host(std::move(h)), port(p), connect_timeout_ms(connect_ms) {}
    std::string host;
    int port = 0;
    int64_t connect_timeout_ms = 0;
    Clock::time_point asked;  // a command asked for it last
    // Oldest first. One, or two once a command came before its spare was
    // ready (commands in a tight loop).
    std::vector<std::pair<std::unique_ptr<Stream>, Clock::time_point>> spares;
    std::size_t wanted = 1;
    Clock::time_point failed;  // the last spare that could not be made
    bool making = false;
};

class Keeper {
  public:
    Keeper(TlsOptions tls, std::chrono::milliseconds keep)
        : tls_(std::move(tls)), key_(key(tls_)), keep_(keep) {}
    void run(const Hello& first);

  private:
    bool listen_on_socket();
    void accept_loop();
    void serve(int fd);
    std::unique_ptr<Stream> take_spare(const Hello& hello, const std::string& where);
    void make_spares();
    Server* spare_due(Clock::time_point now, Clock::time_point& next);
    ConnectionOptions options_for(const std::string& host, int port, int64_t connect_ms) const;
    void finish(int fd);

    TlsOptions tls_;
    std::string key_;
    std::chrono::milliseconds keep_;
    Clock::time_point started_ = Clock::now();
    int listen_fd_ = -1;
    struct stat socket_stat_ {};
    std::mutex mutex_;
    std::condition_variable changed_;
    std::map<std::string, Server> servers_;
    int active_ = 0;
    Clock::time_point last_used_ = Clock::now();
};

bool send_line(int fd, const std::string& line) {
    std::string_view rest = line;
    while (!rest.empty()) {
        ssize_t sent = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR) continue;
        if (sent <= 0) return false;
        rest.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
}

const char* io_name(Stream::Io io) {
    return io == Stream::Io::timed_out ? "timed_out"
           : io == Stream::Io::closed  ? "closed"
                                       : "failed";
}

// The command's greeting, read within the client timeout.
bool read_hello(int fd, Hello& hello) {
    std::string text;
    std::size_t body = 0, head = 0;
    Deadline deadline = Clock::now() + 5s;
    while (head == 0 || text.size() < head + body) {
        pollfd p{fd, POLLIN, 0};
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
        char buffer[4096];
        ssize_t got = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) return false;
        text.append(buffer, static_cast<std::size_t>(got));
        if (head == 0) head = header_length(text, body);
        if (head == std::string::npos) return false;
    }
    return text.size() == head + body && decode(std::string_view(text).substr(head), hello);
}

// Bytes both ways until either side ends.
void relay(int fd, Stream& up) {
    std::string down;
    for (;;) {
        Stream::Io io = up.read_some(down, no_deadline, fd);
        if (io == Stream::Io::ok) {
            if (!send_line(fd, down)) return;
            down.clear();
            continue;
        }
        if (io != Stream::Io::woken) return;
        char buffer[16384];
        ssize_t got = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) return;
        std::string_view bytes(buffer, static_cast<std::size_t>(got));
        if (up.write_all(bytes, Clock::now() + client_io_timeout) != Stream::Io::ok) return;
    }
}

// What arrives unasked on an idle connection: the server's session tickets
// (kept for the next direct connection), or its end.
bool still_open(Stream& stream, Deadline until) {
    std::string unasked;
    Stream::Io io = stream.read_some(unasked, until);
    return io == Stream::Io::timed_out && unasked.empty();
}

// The server's session ticket comes a round trip after the handshake: read
// (and kept for the next spare's resumption) now, not when a command is
// waiting for its reply.
bool settle(Stream& spare) {
    Deadline until = Clock::now() + 50ms;
    while (!spare.session_kept() && Clock::now() < until) {
        if (!still_open(spare, std::min(until, Clock::now() + 1ms))) return false;
    }
    return true;
}

ConnectionOptions Keeper::options_for(const std::string& host, int port, int64_t connect_ms) const {
    ConnectionOptions options;
    options.host = host;
    options.port = port;
    options.connect_timeout_ms = connect_ms;
    options.tls = tls_;
    options.tls.use_keeper = false;  // the keeper connects by itself
    options.tls.keep_ms = 0;         // and starts no keeper
    return options;
}

std::unique_ptr<Stream> Keeper::take_spare(const Hello& hello, const std::string& where) {
    std::unique_ptr<Stream> spare;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto found = servers_.find(where);
        bool known = found != servers_.end();
        if (!known) {
            if (servers_.size() >= max_servers) return nullptr;
            found =
                servers_.try_emplace(where, hello.host, hello.port, hello.connect_timeout_ms).first;
        }
        Server& server = found->second;
        server.connect_timeout_ms = hello.connect_timeout_ms;
        server.asked = Clock::now();
        if (server.spares.empty()) {
            if (known) server.wanted = 2;  // commands come faster than one spare
        } else {
            spare = std::move(server.spares.back().first);  // the newest
            server.spares.pop_back();
        }
    }
    // The next spare is made when this command ends (finish), so that its
    // handshake does not delay this command at the server.
    if (spare && !still_open(*spare, Clock::now())) spare.reset();
    return spare;
}

void Keeper::serve(int fd) {
    Hello hello;
    if (read_hello(fd, hello)) {
        std::string where = hello.host + ":" + std::to_string(hello.port);
        std::unique_ptr<Stream> up;
        if (hello.key != key_) {
            send_line(fd, "-failed the TLS keeper found other TLS settings than the command's\n");
        } else if ((up = take_spare(hello, where))) {
            if (send_line(fd, "+\n")) relay(fd, *up);
        } else {
            up = std::make_unique<Stream>();
            Stream::Io io =
                up->open(options_for(hello.host, hello.port, hello.connect_timeout_ms),
                         Clock::now() + std::chrono::milliseconds(hello.connect_timeout_ms));
            if (io == Stream::Io::ok) {
                if (send_line(fd, "+\n")) relay(fd, *up);
            } else {
                std::string why = up->failure();
                for (char& c : why) c = c == '\n' ? ' ' : c;
                send_line(fd, std::string("-") + io_name(io) + " " + why + "\n");
            }
        }
    }
    finish(fd);
}

void Keeper::finish(int fd) {
    ::close(fd);
    std::lock_guard<std::mutex> lock(mutex_);
    --active_;
    last_used_ = Clock::now();
    changed_.notify_all();
}

// The server most in need of a spare now, or nullptr and when to look next.
Server* Keeper::spare_due(Clock::time_point now, Clock::time_point& next) {
    // Idle, the keeper wakes only when a spare is due for replacement.
    next = now + std::chrono::duration_cast<Clock::duration>(keep_);
    for (auto it = servers_.begin(); it != servers_.end();) {
        Server& server = it->second;
        if (now - server.asked > keep_ && !server.making) {
            it = servers_.erase(it);  // no command asked for it in a while
            continue;
        }
        ++it;
        next = std::min(next, server.asked + keep_ + 1ms);
        if (server.making) continue;
        if (now - server.failed < retry_after_failure) {
            next = std::min(next, server.failed + retry_after_failure);
            continue;
        }
        if (server.spares.size() < server.wanted) return &server;
        if (now - server.spares.front().second >= spare_lifetime) {
            server.spares.erase(server.spares.begin());  // a new one comes at once
            return &server;
        }
        next = std::min(next, server.spares.front().second + spare_lifetime);
    }
    return nullptr;
}

void Keeper::make_spares() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        Clock::time_point next;
        Server* server = spare_due(Clock::now(), next);
        if (!server) {
            changed_.wait_until(lock, next);
            continue;
        }
        server->making = true;
        ConnectionOptions options =
            options_for(server->host, server->port, server->connect_timeout_ms);
        lock.unlock();
        auto spare = std::make_unique<Stream>();
        Stream::Io io = spare->open(
            options, Clock::now() + std::chrono::milliseconds(options.connect_timeout_ms));
        bool ready = io == Stream::Io::ok && settle(*spare);
        lock.lock();
        server->making = false;
        if (ready) {
            server->spares.emplace_back(std::move(spare), Clock::now());
        } else {
            server->failed = Clock::now();
        }
    }
}

bool Keeper::listen_on_socket() {
    std::string path = socket_path(tls_);
    std::string lock = lock_path(tls_);
    if (path.empty() || !private_files::make_directory(tls_.session_cache_dir)) return false;
    // The lock is held for the keeper's life: one keeper per socket.
    int lock_fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) return false;
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(lock_fd, 0) != 0 || ::write(lock_fd, pid.data(), pid.size()) < 0) return false;
    ::unlink(path.c_str());  // a keeper that died left it; none serves it
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.data(), path.size());
    return listen_fd_ >= 0 &&
           ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
           ::lstat(path.c_str(), &socket_stat_) == 0 && ::listen(listen_fd_, 128) == 0;
}

void Keeper::accept_loop() {
    auto lifetime = std::chrono::seconds(tls_cache::max_age_seconds);
    for (;;) {
        // Idle, it wakes once, when its keep time is up; with commands under
        // way, every second (the last one's end is not an event here).
        int wait_ms = 1000;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            auto now = Clock::now();
            if (now - started_ >= lifetime || (active_ == 0 && now - last_used_ >= keep_)) return;
            auto end = std::min(started_ + lifetime, last_used_ + keep_);
            if (active_ == 0)
                wait_ms = static_cast<int>(
                    std::chrono::ceil<std::chrono::milliseconds>(end - now).count());
        }
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, std::max(wait_ms, 1)) <= 0) continue;
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) ::poll(nullptr, 0, 100);  // not a busy loop
            continue;
        }
        ucred peer{};
        socklen_t size = sizeof peer;
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0 ||
            peer.uid != ::geteuid()) {
            ::close(fd);
            continue;
        }
        timeval timeout{static_cast<time_t>(client_io_timeout.count()), 0};
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            ++active_;
            last_used_ = Clock::now();
        }
        std::thread([this, fd] { serve(fd); }).detach();
    }
}

void Keeper::run(const Hello& first) {
    if (!listen_on_socket()) return;  // another keeper serves these settings
    take_spare(first, first.host + ":" + std::to_string(first.port));
    std::thread([this] { make_spares(); }).detach();
    accept_loop();
    // No new command finds the socket; one that connected before it went is
    // still served, and so is every command under way.
    struct stat now {};
    std::string path = socket_path(tls_);
    if (::lstat(path.c_str(), &now) == 0 && now.st_ino == socket_stat_.st_ino &&
        now.st_dev == socket_stat_.st_dev)
        ::unlink(path.c_str());
    ::fcntl(listen_fd_, F_SETFL, ::fcntl(listen_fd_, F_GETFL) | O_NONBLOCK);
    for (;;) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);  // blocking, as above
        if (fd < 0) break;
        std::lock_guard<std::mutex> lock(mutex_);
        ++active_;
        std::thread([this, fd] { serve(fd); }).detach();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return active_ == 0; });
    ::_exit(0);  // the spare maker may be in a handshake: no clean-up to wait for
}

}  // namespace

bool serve(int argc, char** argv) {
    if (argc != 10) return false;
    ::umask(077);
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGHUP, SIG_IGN);
    ::signal(SIGINT, SIG_IGN);
    TlsOptions tls;
    tls.enabled = true;
    tls.session_cache_dir = argv[0];
    char* end = nullptr;
    long long keep = std::strtoll(argv[1], &end, 10);
    if (*end != 0 || keep <= 0) return false;
    tls.keep_ms = keep;
    tls.ca_file = argv[2];
    tls.ca_dir = argv[3];
    tls.cert_file = argv[4];
    tls.key_file = argv[5];
    tls.server_name = argv[6];
    // The server of the command that started it: a spare is made for it
    // at once, ready for the next command.
    Hello first{key(tls), argv[7], std::atoi(argv[8]), std::atoll(argv[9])};
    if (!usable(tls) || first.port <= 0 || first.connect_timeout_ms <= 0) return false;
    Keeper(tls, std::chrono::milliseconds(keep)).run(first);
    return true;
}

}  // namespace tbucket::tls_keeper
