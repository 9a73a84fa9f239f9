#pragma once

// A TCP relay that counts the bytes a server sends on each connection: the
// TLS tests tell a full handshake (the server sends its certificate chain)
// from a resumed one (it does not) by that count, since redis-server keeps
// no statistic of its own for session reuse. Bytes pass unchanged, on one
// thread polling every socket.

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace tbucket::test {

class ByteRelay {
  public:
    // Listens on a free 127.0.0.1 port, forwards to 127.0.0.1:target_port.
    explicit ByteRelay(int target_port);
    ~ByteRelay();
    ByteRelay(const ByteRelay&) = delete;
    ByteRelay& operator=(const ByteRelay&) = delete;

    int port() const { return port_; }
    // Bytes from the server on each connection ended so far, in the order
    // they ended; waits (up to 10 s) until at least `count` have ended.
    std::vector<long long> finished(std::size_t count);
    // Connections relayed so far; waits (up to 10 s) until at least `count`.
    std::size_t accepted(std::size_t count = 0);
    // From now on a new connection is closed at once: only those already
    // open reach the server.
    void refuse_new();

  private:
    struct Pipe;
    void loop();
    void accept_one(std::vector<Pipe>& pipes);

    int target_port_;
    int port_ = 0;
    int listen_fd_ = -1;
    int wake_pipe_[2] = {-1, -1};
    std::mutex mutex_;
    std::condition_variable changed_;
    bool stopping_ = false;
    bool refusing_ = false;
    std::size_t accepted_ = 0;
    std::vector<long long> finished_;
    std::thread thread_;  // last: starts once everything above exists
};

}  // namespace tbucket::test
