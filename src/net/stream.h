#pragma once

// Bytes to and from one server: a TCP or unix socket, TLS on top when
// asked. Every wait is a poll() with a deadline, so no step can hang past
// the timeouts, and a waiter can also be woken by a file descriptor.
// Connection formats commands and parses replies; this only moves bytes.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "net/tls.h"
#include "net/url.h"

namespace tbucket {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
inline constexpr Deadline no_deadline = Deadline::max();

class Stream {
  public:
    Stream() = default;
    ~Stream();
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    enum class Io { ok, timed_out, woken, closed, failed };

    // Connects, and with options.tls, completes the handshake. Throws
    // Error(usage) for unusable certificate files.
    Io open(const ConnectionOptions& options, Deadline deadline);
    Io write_all(std::string_view bytes, Deadline deadline);
    // Appends what arrives, waiting for it until the deadline, a signal or
    // wake_fd (-1: none) being readable (woken).
    Io read_some(std::string& into, Deadline deadline, int wake_fd = -1);
    // The socket, for a caller's own poll or epoll; -1 before open().
    int fd() const { return fd_; }
    // TLS: the server's session ticket was read and kept (tls_cache.h).
    bool session_kept() const { return tls_ && tls_->session_kept(); }
    // Why the last call did not return ok.
    const std::string& failure() const { return failure_; }

  private:
    Io connect_tcp(const ConnectionOptions& options, Deadline deadline);
    Io connect_unix(const std::string& path, Deadline deadline);
    Io connect_address(const void* address, unsigned length, Deadline deadline);
    Io handshake(Deadline deadline);
    Io wait_for(short events, Deadline deadline, int wake_fd);
    Io send_raw(std::string_view bytes, Deadline deadline);
    Io receive_raw(std::string& into, Deadline deadline, int wake_fd);
    Io error(std::string why);
    Io closed();

    int fd_ = -1;
    std::unique_ptr<TlsSession> tls_;
    std::unique_ptr<ConnectionOptions> keeper_for_;  // a keeper to start at the first reply
    std::string failure_;
    bool answered_ = false;  // something was read after the handshake
    // Sent since the last read: the answer cannot be there yet, so the next
    // read waits first instead of trying a recv that fails with EAGAIN (one
    // system call less per round trip).
    bool asked_ = false;
};

}  // namespace tbucket
