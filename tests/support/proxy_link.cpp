#include "support/proxy_link.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "support/resp_frames.h"

namespace tbucket::test {
namespace {

// A side whose peer does not keep up stops being read past this, so a
// stalled client cannot make the proxy buffer without end.
constexpr std::size_t max_buffered = 4 << 20;

// Small writes (half a reply, one command) must leave at once, not wait
// for Nagle.
void no_delay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// false: end of stream or an error.
bool read_into(int fd, std::string& into) {
    char buf[65536];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) into.append(buf, static_cast<std::size_t>(n));
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR));
}

// false: the peer is gone. MSG_NOSIGNAL: a closed peer must not SIGPIPE
// the test.
bool write_from(int fd, std::string& from) {
    if (from.empty()) return true;
    ssize_t n = send(fd, from.data(), from.size(), MSG_NOSIGNAL);
    if (n > 0) from.erase(0, static_cast<std::size_t>(n));
    return n >= 0 || errno == EAGAIN || errno == EINTR;
}

}  // namespace

// A loopback connect is answered at once (accepted or refused), so a
// blocking one cannot stall the proxy's loop.
int connect_loopback(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    no_delay(fd);
    return fd;
}

ProxyLink::ProxyLink(int client_fd, int upstream_fd) : client_(client_fd), upstream_(upstream_fd) {
    no_delay(client_);
}

ProxyLink::~ProxyLink() {
    close(client_);
    close(upstream_);
}

short ProxyLink::client_events() const {
    short events = 0;
    if (!requests_stopped_ && !closing_ && to_upstream_.size() < max_buffered) events |= POLLIN;
    if (!to_client_.empty()) events |= POLLOUT;
    return events;
}

short ProxyLink::upstream_events() const {
    short events = 0;
    if (to_client_.size() < max_buffered) events |= POLLIN;
    if (!to_upstream_.empty()) events |= POLLOUT;
    return events;
}

ProxyLink::Clock::time_point ProxyLink::next_due() const {
    if (closing_ || outgoing_.empty()) return Clock::time_point::max();
    return outgoing_.front().due;
}

bool ProxyLink::read_client() {
    if (!read_into(client_, from_client_)) return false;
    if (requests_stopped_) from_client_.clear();
    return true;
}

std::string ProxyLink::next_request() {
    if (requests_stopped_) return "";
    std::size_t length = resp_request_length(from_client_);
    std::string request = from_client_.substr(0, length);
    from_client_.erase(0, length);
    return request;
}

void ProxyLink::forward(std::string request, Fault fault, int delay_ms, bool subscribes) {
    // Redis answers nothing to an empty inline line: no reply to expect.
    bool answered = request.find_first_not_of(" \t\r\n") != std::string::npos;
    to_upstream_ += request;
    if (!answered) return;
    if (subscribes) {
        subscribed_ = true;
        expected_.clear();
    } else if (!subscribed_) {
        expected_.push_back({fault, delay_ms});
    }
}

void ProxyLink::cut_request() {
    requests_stopped_ = true;
    from_client_.clear();
    expected_.push_back({Fault::cut_request, 0});
    settle();
}

void ProxyLink::pass_all_but_messages() {
    std::string_view pending = from_upstream_;
    std::string kept;
    std::size_t used = 0;
    while (std::size_t length = resp_value_length(pending.substr(used))) {
        std::string_view frame = pending.substr(used, length);
        bool message = frame.rfind("*3\r\n$7\r\nmessage\r\n", 0) == 0 ||
                       frame.rfind("*3\r\n$8\r\nsmessage\r\n", 0) == 0;
        if (!message) kept += frame;
        used += length;
    }
    from_upstream_.erase(0, used);
    if (!kept.empty()) answer(std::move(kept));
}

void ProxyLink::read_upstream() {
    if (!read_into(upstream_, from_upstream_)) upstream_gone_ = true;
    if (subscribed_ && drop_messages_) return pass_all_but_messages();
    if (subscribed_) {
        if (!from_upstream_.empty()) answer(std::move(from_upstream_));
        from_upstream_.clear();
        return;
    }
    std::string_view pending = from_upstream_;
    std::size_t used = 0;
    while (std::size_t length = resp_value_length(pending.substr(used))) {
        answer(std::string(pending.substr(used, length)));
        used += length;
    }
    from_upstream_.erase(0, used);
}

void ProxyLink::answer(std::string reply) {
    Expected expected;
    if (!subscribed_ && !expected_.empty()) {
        expected = expected_.front();
        expected_.pop_front();
    }
    auto now = Clock::now();
    if (silent_) {
        // swallowed: the client already hears nothing more
    } else if (expected.fault == Fault::drop_reply) {
        silent_ = true;
    } else if (expected.fault == Fault::cut_before_reply) {
        outgoing_.push_back({now, "", true});
    } else if (expected.fault == Fault::cut_mid_reply) {
        outgoing_.push_back({now, reply.substr(0, reply.size() / 2), true});
    } else if (expected.fault == Fault::delay_reply) {
        outgoing_.push_back({now + std::chrono::milliseconds(expected.delay_ms), reply});
    } else {
        outgoing_.push_back({now, std::move(reply)});
    }
    settle();
}

// A cut request closes the connection once every reply before it is out.
void ProxyLink::settle() {
    while (!expected_.empty() && expected_.front().fault == Fault::cut_request) {
        outgoing_.push_back({Clock::now(), "", true});
        expected_.pop_front();
    }
}

bool ProxyLink::flush(Clock::time_point now) {
    while (!closing_ && !outgoing_.empty() && outgoing_.front().due <= now) {
        to_client_ += outgoing_.front().bytes;
        closing_ = outgoing_.front().then_close;
        outgoing_.pop_front();
    }
    if (!write_from(client_, to_client_)) return false;
    if (!upstream_gone_ && !write_from(upstream_, to_upstream_)) upstream_gone_ = true;
    if (closing_) return !to_client_.empty();
    return !(upstream_gone_ && outgoing_.empty() && to_client_.empty());
}

}  // namespace tbucket::test
