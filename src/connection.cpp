#include "connection.h"

#include <poll.h>
#include <sys/time.h>

#include <cerrno>
#include <utility>

#include "error.h"
#include "parse.h"

namespace tbucket {
namespace {

timeval to_timeval(int64_t ms) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
    return tv;
}

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

ErrorKind classify_reply_error(std::string_view message) {
    if (starts_with(message, "NOAUTH") || starts_with(message, "WRONGPASS") ||
        starts_with(message, "NOPERM") ||
        // Redis 7.0's wording when an ACL refuses a command inside a script
        message.find("The user executing the script can't") != std::string_view::npos) {
        return ErrorKind::refused;
    }
    if (starts_with(message, "ERR max number of clients reached")) return ErrorKind::unavailable;
    if (starts_with(message, "WRONGTYPE")) return ErrorKind::data;
    if (starts_with(message, "LOADING") || starts_with(message, "BUSY") ||
        starts_with(message, "MASTERDOWN") || starts_with(message, "TRYAGAIN") ||
        starts_with(message, "CLUSTERDOWN") || starts_with(message, "READONLY") ||
        starts_with(message, "MISCONF") || starts_with(message, "OOM")) {
        return ErrorKind::unavailable;
    }
    return ErrorKind::internal;
}

std::string reply_error_text(const redisReply& reply) {
    std::string text(reply.str, reply.len);
    std::size_t suffix = text.find(" script: ");
    if (suffix != std::string::npos) text.resize(suffix);
    return text;
}

Connection::Connection(ConnectionOptions options) : options_(std::move(options)) {}

Connection::~Connection() { close(); }

void Connection::close() {
    if (context_) redisFree(context_);
    context_ = nullptr;
}

void Connection::open() {
    timeval connect_timeout = to_timeval(options_.connect_timeout_ms);
    if (options_.transport == ConnectionOptions::Transport::unix_socket) {
        context_ = redisConnectUnixWithTimeout(options_.path.c_str(), connect_timeout);
    } else {
        context_ = redisConnectWithTimeout(options_.host.c_str(), options_.port, connect_timeout);
    }
    if (!context_) throw Error(ErrorKind::internal, "out of memory connecting to Redis");
    if (context_->err) {
        std::string why = context_->errstr;
        close();
        throw Error(ErrorKind::unavailable, "cannot connect to Redis at " + endpoint() + ": " + why);
    }
    if (redisSetTimeout(context_, to_timeval(options_.io_timeout_ms)) != REDIS_OK) fail_transport("set up");
    handshake_pending_ = options_.has_password || options_.db != 0;
}

void Connection::fail_transport(std::string_view doing) {
    int code = context_ ? context_->err : REDIS_ERR_OTHER;
    std::string why = context_ ? context_->errstr : "no connection";
    close();  // a failed hiredis context is dead: never reuse it
    if (code == REDIS_ERR_IO && (why.find("temporarily unavailable") != std::string::npos ||
                                 why.find("timed out") != std::string::npos)) {
        throw Error(ErrorKind::unavailable, "Redis at " + endpoint() + " did not answer within " +
                                                format_duration_ms(options_.io_timeout_ms) + " (" +
                                                std::string(doing) + ")");
    }
    if (code == REDIS_ERR_EOF) why = "the server closed the connection";
    throw Error(ErrorKind::unavailable,
                "lost connection to Redis at " + endpoint() + " (" + std::string(doing) + "): " + why);
}

void Connection::append(const Command& command) {
    const std::size_t count = command.size();
    const char* argv_small[16];
    std::size_t len_small[16];
    std::vector<const char*> argv_big;
    std::vector<std::size_t> len_big;
    const char** argv = argv_small;
    std::size_t* lens = len_small;
    if (count > 16) {
        argv_big.resize(count);
        len_big.resize(count);
        argv = argv_big.data();
        lens = len_big.data();
    }
    for (std::size_t i = 0; i < count; ++i) {
        argv[i] = command[i].data();
        lens[i] = command[i].size();
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(count), argv, lens) != REDIS_OK) {
        fail_transport("sending");
    }
}

Reply Connection::read() {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || !raw) fail_transport("reading a reply");
    return Reply(static_cast<redisReply*>(raw));
}

std::vector<Reply> Connection::pipeline(const std::vector<Command>& commands) {
    if (!context_) open();
    bool auth = false, select = false;
    if (handshake_pending_) {
        auth = options_.has_password;
        select = options_.db != 0;
        if (auth && options_.user.empty()) append({"AUTH", options_.password});
        if (auth && !options_.user.empty()) append({"AUTH", options_.user, options_.password});
        if (select) append({"SELECT", std::to_string(options_.db)});
        handshake_pending_ = false;
    }
    for (const Command& command : commands) append(command);
    if (auth) {
        Reply reply = read();
        std::string text = reply->type == REDIS_REPLY_ERROR ? reply_error_text(*reply) : "";
        // A password given to a server that has none is harmless (redis-cli goes on too).
        if (!text.empty() && text.find("without any password configured") == std::string::npos) {
            close();
            std::string who = options_.user.empty() ? "default" : options_.user;
            throw Error(ErrorKind::refused,
                        "Redis at " + endpoint() + " refused authentication for user '" + who + "': " + text);
        }
    }
    if (select) {
        Reply reply = read();
        if (reply->type == REDIS_REPLY_ERROR) {
            std::string text = reply_error_text(*reply);
            close();
            ErrorKind kind = classify_reply_error(text);
            throw Error(kind == ErrorKind::internal ? ErrorKind::usage : kind,
                        "cannot select database " + std::to_string(options_.db) + ": " + text);
        }
    }
    std::vector<Reply> replies;
    replies.reserve(commands.size());
    for (std::size_t i = 0; i < commands.size(); ++i) replies.push_back(read());
    return replies;
}

void Connection::send(const Command& command) {
    if (!context_) open();
    if (handshake_pending_) {
        pipeline({});  // AUTH and SELECT first, and their replies read
    }
    append(command);
    int done = 0;
    while (!done) {
        if (redisBufferWrite(context_, &done) != REDIS_OK) fail_transport("sending");
    }
}

std::optional<Reply> Connection::receive(int timeout_ms, int wake_fd) {
    if (!context_) throw Error(ErrorKind::internal, "receive() before send()");
    for (;;) {
        void* raw = nullptr;
        if (redisGetReplyFromReader(context_, &raw) != REDIS_OK) fail_transport("reading a reply");
        if (raw) return Reply(static_cast<redisReply*>(raw));
        pollfd fds[2] = {{context_->fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
        int ready = poll(fds, wake_fd >= 0 ? 2 : 1, timeout_ms);
        if (ready == 0 || (ready < 0 && errno == EINTR)) return std::nullopt;
        if (ready < 0) fail_transport("waiting for a reply");
        if (fds[0].revents == 0) return std::nullopt;  // woken by wake_fd
        if (redisBufferRead(context_) != REDIS_OK) fail_transport("reading a reply");
        timeout_ms = 0;  // what came is read; the loop returns it or nothing
    }
}

Reply Connection::call(const Command& command) {
    std::vector<Reply> replies = pipeline({command});
    return std::move(replies.front());
}

}  // namespace tbucket
