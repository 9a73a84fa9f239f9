#include "net/stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "net/tls_keeper.h"
#include "util/error.h"

namespace tbucket {
namespace {

int ms_left(Deadline deadline) {
    if (deadline == no_deadline) return -1;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return 0;
    return left > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(left);
}

TlsFactory tls_factory = nullptr;

}  // namespace

void set_tls_factory(TlsFactory factory) {
    tls_factory = factory;
}
bool tls_enabled() {
    return tls_factory != nullptr;
}

std::unique_ptr<TlsSession> make_tls_session(const TlsOptions& options, const std::string& host,
                                             int port) {
    if (!tls_factory) throw Error(ErrorKind::internal, "this program was built without TLS");
    return tls_factory(options, host, port);
}

Stream::~Stream() {
    tls_.reset();
    if (fd_ >= 0) ::close(fd_);
}

Stream::Io Stream::error(std::string why) {
    failure_ = std::move(why);
    return Io::failed;
}

// With TLS 1.3 a server that requires a client certificate refuses a
// client without one only after the client's handshake is done; the alert
// saying so arrives, or is lost when the connection is reset first. Either
// way the cause is named.
Stream::Io Stream::closed() {
    if (tls_ && !answered_ && tls_->certificate_asked()) {
        return error(
            "the server closed the connection after asking for a client certificate (--cert and "
            "--key)");
    }
    return Io::closed;
}

Stream::Io Stream::open(const ConnectionOptions& options, Deadline deadline) {
    bool tls = options.tls.enabled && options.transport == ConnectionOptions::Transport::tcp;
    if (tls && options.tls.use_keeper && tls_keeper::usable(options.tls)) {
        tls_keeper::Opened kept = tls_keeper::open(options, deadline);
        if (kept.fd >= 0) {
            fd_ = kept.fd;
            return Io::ok;
        }
        if (kept.answered) {
            failure_ = kept.failure;
            return kept.timed_out ? Io::timed_out : Io::failed;
        }
        if (!tls_enabled()) {
            // Without TLS of its own this process waits for another keeper:
            // a lost reply is then asked again (SPEC §8), not left unknown.
            tls_keeper::start(options);
            return error("the TLS keeper ended during the command (another is starting)");
        }
    }
    Io io = options.transport == ConnectionOptions::Transport::unix_socket
                ? connect_unix(options.path, deadline)
                : connect_tcp(options, deadline);
    if (io != Io::ok || !options.tls.enabled) return io;
    tls_ = make_tls_session(options.tls, options.host, options.port);
    io = handshake(deadline);
    // Once the server has answered (a TLS 1.3 server may still refuse the
    // client certificate after the handshake), a keeper spares the next
    // one-shot command all this.
    if (io == Io::ok && tls_keeper::usable(options.tls))
        keeper_for_ = std::make_unique<ConnectionOptions>(options);
    return io;
}

Stream::Io Stream::connect_address(const void* address, unsigned length, Deadline deadline) {
    int family = static_cast<const sockaddr*>(address)->sa_family;
    fd_ = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return error(std::strerror(errno));
    if (family != AF_UNIX) {
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    for (;;) {
        if (::connect(fd_, static_cast<const sockaddr*>(address), length) == 0) return Io::ok;
        if (errno == EINTR) continue;
        if (errno == EAGAIN && family == AF_UNIX) {
            // A unix socket whose backlog is full: no completion to wait
            // for, only another try a little later.
            if (ms_left(deadline) == 0) break;
            ::poll(nullptr, 0, 10);
            continue;
        }
        if (errno != EINPROGRESS) return error(std::strerror(errno));
        Io io = Io::woken;
        while (io == Io::woken) io = wait_for(POLLOUT, deadline, -1);  // woken: by a signal
        if (io == Io::timed_out) break;
        if (io != Io::ok) return io;
        int so_error = 0;
        socklen_t size = sizeof so_error;
        ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &size);
        if (so_error != 0) return error(std::strerror(so_error));
        return Io::ok;
    }
    failure_ = "no answer within the connect timeout";
    return Io::timed_out;
}

Stream::Io Stream::connect_tcp(const ConnectionOptions& options, Deadline deadline) {
    // An address needs no resolver; most URLs name one.
    sockaddr_in v4{};
    sockaddr_in6 v6{};
    v4.sin_family = AF_INET;
    v4.sin_port = htons(static_cast<uint16_t>(options.port));
    v6.sin6_family = AF_INET6;
    v6.sin6_port = v4.sin_port;
    if (inet_pton(AF_INET, options.host.c_str(), &v4.sin_addr) == 1)
        return connect_address(&v4, sizeof v4, deadline);
    if (inet_pton(AF_INET6, options.host.c_str(), &v6.sin6_addr) == 1) {
        return connect_address(&v6, sizeof v6, deadline);
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    std::string port = std::to_string(options.port);
    int rc = ::getaddrinfo(options.host.c_str(), port.c_str(), &hints, &found);
    if (rc != 0)
        return error(std::string("cannot resolve '") + options.host + "': " + gai_strerror(rc));
    Io io = Io::failed;
    for (addrinfo* a = found; a; a = a->ai_next) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        io = connect_address(a->ai_addr, a->ai_addrlen, deadline);
        if (io != Io::failed) break;
    }
    ::freeaddrinfo(found);
    return io;
}

Stream::Io Stream::connect_unix(const std::string& path, Deadline deadline) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path) return error("socket path is too long");
    std::memcpy(address.sun_path, path.data(), path.size());
    return connect_address(&address, sizeof address, deadline);
}

Stream::Io Stream::handshake(Deadline deadline) {
    for (;;) {
        TlsSession::Step step = tls_->handshake();
        Io sent = send_raw(tls_->take_output(), deadline);
        if (sent != Io::ok) return sent;
        if (step == TlsSession::Step::done) return Io::ok;
        if (step == TlsSession::Step::failed) return error(tls_->failure());
        if (step == TlsSession::Step::closed)
            return error("the server closed the connection during the TLS handshake");
        std::string none;
        Io io = receive_raw(none, deadline, -1);
        if (io == Io::timed_out) {
            failure_ =
                "the TLS handshake did not finish within the connect timeout (a plain redis:// "
                "port?)";
        }
        if (io == Io::closed)
            return error("the server closed the connection during the TLS handshake");
        if (io != Io::ok && io != Io::woken) return io;
    }
}

Stream::Io Stream::wait_for(short events, Deadline deadline, int wake_fd) {
    pollfd fds[2] = {{fd_, events, 0}, {wake_fd, POLLIN, 0}};
    int ready = ::poll(fds, wake_fd >= 0 ? 2 : 1, ms_left(deadline));
    if (ready == 0) return Io::timed_out;
    if (ready < 0) return errno == EINTR ? Io::woken : error(std::strerror(errno));
    if (fds[0].revents == 0) return Io::woken;
    return Io::ok;
}

Stream::Io Stream::send_raw(std::string_view bytes, Deadline deadline) {
    asked_ = true;
    while (!bytes.empty()) {
        ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (sent > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(sent));
            continue;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN)
            return errno == EPIPE || errno == ECONNRESET ? Io::closed : error(std::strerror(errno));
        Io io = wait_for(POLLOUT, deadline, -1);
        if (io == Io::timed_out || io == Io::failed) return io;
    }
    return Io::ok;
}

// Reads what the socket has (waiting for it first); TLS input goes into
// the session, plain input into `into`.
Stream::Io Stream::receive_raw(std::string& into, Deadline deadline, int wake_fd) {
    char buffer[16384];
    if (asked_) {
        asked_ = false;
        Io io = wait_for(POLLIN, deadline, wake_fd);
        if (io != Io::ok) return io;
    }
    for (;;) {
        ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
        if (got > 0) {
            if (tls_) {
                tls_->feed(buffer, static_cast<std::size_t>(got));
            } else {
                into.append(buffer, static_cast<std::size_t>(got));
            }
            return Io::ok;
        }
        if (got == 0) return Io::closed;
        if (errno == EINTR) continue;
        if (errno != EAGAIN) return errno == ECONNRESET ? Io::closed : error(std::strerror(errno));
        Io io = wait_for(POLLIN, deadline, wake_fd);
        if (io != Io::ok) return io;
    }
}

Stream::Io Stream::write_all(std::string_view bytes, Deadline deadline) {
    if (!tls_) return send_raw(bytes, deadline);
    if (!tls_->encrypt(bytes)) return error(tls_->failure());
    Io io = send_raw(tls_->take_output(), deadline);
    if (io != Io::closed) return io;
    // With TLS 1.3 a server refuses a client certificate only after the
    // client thinks the handshake is done: its alert may be waiting unread.
    std::string ignored;
    while (receive_raw(ignored, Clock::now(), -1) == Io::ok) {
    }
    return tls_->decrypt(ignored) == TlsSession::Step::failed ? error(tls_->failure()) : closed();
}

Stream::Io Stream::read_some(std::string& into, Deadline deadline, int wake_fd) {
    if (!tls_) return receive_raw(into, deadline, wake_fd);
    for (;;) {
        TlsSession::Step step = tls_->decrypt(into);
        // A TLS 1.3 session ticket or key update may want an answer.
        Io sent = send_raw(tls_->take_output(), deadline);
        if (step == TlsSession::Step::done) {
            answered_ = true;
            if (keeper_for_) tls_keeper::start(*std::exchange(keeper_for_, nullptr));
            return Io::ok;
        }
        if (step == TlsSession::Step::closed) return closed();
        if (step == TlsSession::Step::failed) return error(tls_->failure());
        if (sent == Io::closed) return closed();
        if (sent != Io::ok) return sent;
        Io io = receive_raw(into, deadline, wake_fd);
        if (io == Io::closed) return closed();
        if (io != Io::ok) return io;
    }
}

}  // namespace tbucket
