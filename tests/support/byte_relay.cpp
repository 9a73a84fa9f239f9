#include "support/byte_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace tbucket::test {

struct ByteRelay::Pipe {
    int client = -1;
    int server = -1;
    long long from_server = 0;
};

namespace {

sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    return addr;
}

// Moves what `from` has to `to` (blocking: loopback takes it at once);
// false at the end of the stream or on an error.
bool relay(int from, int to, long long* counted) {
    char buffer[16384];
    ssize_t got = read(from, buffer, sizeof buffer);
    if (got <= 0) return false;
    if (counted) *counted += got;
    for (ssize_t done = 0; done < got;) {
        ssize_t sent = write(to, buffer + done, static_cast<std::size_t>(got - done));
        if (sent <= 0) return false;
        done += sent;
    }
    return true;
}

}  // namespace

ByteRelay::ByteRelay(int target_port) : target_port_(target_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = loopback(0);
    socklen_t length = sizeof addr;
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) ||
        listen(listen_fd_, 64) ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length) ||
        pipe2(wake_pipe_, O_CLOEXEC)) {
        if (listen_fd_ >= 0) close(listen_fd_);
        throw std::runtime_error("byte relay: cannot listen");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { loop(); });
}

ByteRelay::~ByteRelay() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    char byte = 0;
    ssize_t ignored = write(wake_pipe_[1], &byte, 1);
    (void)ignored;
    thread_.join();
    close(listen_fd_);
    close(wake_pipe_[0]);
    close(wake_pipe_[1]);
}

std::vector<long long> ByteRelay::finished(std::size_t count) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(10), [&] { return finished_.size() >= count; });
    return finished_;
}

std::size_t ByteRelay::accepted(std::size_t count) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(10), [&] { return accepted_ >= count; });
    return accepted_;
}

void ByteRelay::refuse_new() {
    std::lock_guard<std::mutex> lock(mutex_);
    refusing_ = true;
}

void ByteRelay::accept_one(std::vector<Pipe>& pipes) {
    Pipe pipe;
    pipe.client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (pipe.client < 0) return;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (refusing_) {
            close(pipe.client);
            return;
        }
    }
    pipe.server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = loopback(target_port_);
    if (pipe.server < 0 || connect(pipe.server, reinterpret_cast<sockaddr*>(&addr), sizeof addr)) {
        close(pipe.client);
        if (pipe.server >= 0) close(pipe.server);
        return;
    }
    pipes.push_back(pipe);
    std::lock_guard<std::mutex> lock(mutex_);
    ++accepted_;
    changed_.notify_all();
}

void ByteRelay::loop() {
    std::vector<Pipe> pipes;
    for (;;) {
        std::vector<pollfd> fds{{wake_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
        for (const Pipe& p : pipes) {
            fds.push_back({p.client, POLLIN, 0});
            fds.push_back({p.server, POLLIN, 0});
        }
        if (poll(fds.data(), fds.size(), -1) < 0) continue;
        if (fds[0].revents) return;  // stopping: connections end with the test
        std::vector<Pipe> open;
        for (std::size_t i = 0; i < pipes.size(); ++i) {
            Pipe& p = pipes[i];
            bool alive = true;
            if (fds[2 + 2 * i].revents) alive = relay(p.client, p.server, nullptr);
            if (alive && fds[3 + 2 * i].revents) alive = relay(p.server, p.client, &p.from_server);
            if (alive) {
                open.push_back(p);
                continue;
            }
            close(p.client);
            close(p.server);
            std::lock_guard<std::mutex> lock(mutex_);
            finished_.push_back(p.from_server);
            changed_.notify_all();
        }
        pipes.swap(open);
        if (fds[1].revents) accept_one(pipes);
    }
}

}  // namespace tbucket::test
