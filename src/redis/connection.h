#pragma once

// The one place that talks to a Redis server. Everything above it sends
// argv vectors and reads redisReply trees. The bytes travel through a
// Stream (TCP, a unix socket, TLS); hiredis only parses the replies, with
// its reader, because Debian's hiredis 0.14 has no TLS.

#include <hiredis/hiredis.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/stream.h"
#include "net/url.h"
#include "util/error.h"

namespace tbucket {

struct ReplyDeleter {
    void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

using Command = std::vector<std::string>;

class Connection {
  public:
    explicit Connection(ConnectionOptions options);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Sends every command in one write and reads every reply: one round
    // trip. Connects first when needed, with AUTH and SELECT in a round trip
    // before (a failure there stops everything). Error replies are returned,
    // not thrown; transport failures throw Error(unavailable), maybe_done()
    // once the commands were sent, and leave the connection closed.
    std::vector<Reply> pipeline(const std::vector<Command>& commands);
    Reply call(const Command& command);

    // For subscriptions, whose messages arrive unasked: sends without
    // reading, and waits up to timeout_ms (-1: forever) for one reply.
    // nullopt: none came in time, a signal interrupted the wait, or
    // `wake_fd` became readable.
    void send(const Command& command);
    std::optional<Reply> receive(int timeout_ms, int wake_fd = -1);
    bool is_open() const { return stream_ != nullptr; }
    // The socket while open (-1 otherwise), to wait on several connections
    // at once; receive(0) then reads what it has without blocking.
    int fd() const;

    const ConnectionOptions& options() const { return options_; }
    std::string endpoint() const { return describe_endpoint(options_); }
    void close();

  private:
    void open();
    void handshake();
    void append(const Command& command);
    void flush(Deadline deadline);
    Reply read(Deadline deadline);
    std::optional<Reply> next_reply(Deadline deadline, int wake_fd, bool until_woken);
    [[noreturn]] void fail_transport(Stream::Io io, std::string_view doing);

    ConnectionOptions options_;
    std::unique_ptr<Stream> stream_;
    redisReader* reader_ = nullptr;
    std::string output_;  // commands formatted, not sent yet
    std::string input_;   // bytes read, not given to the reader yet
    bool handshake_pending_ = false;
    bool fresh_ = false;      // no reply has come on this connection yet
    bool in_flight_ = false;  // commands sent whose replies have not all come
};

// Redis's word for an error reply ("NOAUTH ...", "WRONGTYPE ...") as the
// kind a caller acts on. The single translation of server errors.
ErrorKind classify_reply_error(std::string_view message);

// Text of an error reply, without the " script: <sha>, on @user_script:N."
// that Redis 7 appends to errors raised inside scripts.
std::string reply_error_text(const redisReply& reply);

}  // namespace tbucket
