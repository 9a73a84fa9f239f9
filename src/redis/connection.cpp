#include "redis/connection.h"

#include <utility>

#include "util/error.h"
#include "util/parse.h"

namespace tbucket {
namespace {

Deadline after(int64_t ms) {
    return Clock::now() + std::chrono::milliseconds(ms);
}

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

ErrorKind classify_reply_error(std::string_view message) {
    if (starts_with(message, "NOAUTH") || starts_with(message, "WRONGPASS") ||
        starts_with(message, "NOPERM") ||
        // Redis 7 refuses a long command from a client that has not
        // authenticated as a protocol error, where a short one gets NOAUTH
        starts_with(message, "ERR Protocol error: unauthenticated") ||
        // Redis 7.0's wording when an ACL refuses a command inside a script
        message.find("The user executing the script can't") != std::string_view::npos) {
        return ErrorKind::refused;
    }
    if (starts_with(message, "ERR max number of clients reached")) return ErrorKind::unavailable;
    if (starts_with(message, "WRONGTYPE")) return ErrorKind::data;
    // Refusals that last until an operator acts: waiting would not help.
    if (starts_with(message, "READONLY") || starts_with(message, "MISCONF") ||
        starts_with(message, "OOM")) {
        return ErrorKind::unwritable;
    }
    if (starts_with(message, "LOADING") || starts_with(message, "BUSY") ||
        starts_with(message, "MASTERDOWN") || starts_with(message, "TRYAGAIN") ||
        starts_with(message, "CLUSTERDOWN")) {
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

Connection::~Connection() {
    close();
}

void Connection::close() {
    in_flight_ = false;
    stream_.reset();
    if (reader_) redisReaderFree(reader_);
    reader_ = nullptr;
    output_.clear();
    input_.clear();
}

void Connection::open() {
    auto stream = std::make_unique<Stream>();
    Stream::Io io = stream->open(options_, after(options_.connect_timeout_ms));
    if (io != Stream::Io::ok) {
        std::string why =
            io == Stream::Io::timed_out && options_.tls.enabled ? stream->failure()
            : io == Stream::Io::timed_out
                ? "no answer within " + format_duration_ms(options_.connect_timeout_ms)
            : io == Stream::Io::closed ? "the server closed the connection"
                                       : stream->failure();
        throw Error(ErrorKind::unavailable,
                    "cannot connect to Redis at " + endpoint() + ": " + why);
    }
    reader_ = redisReaderCreate();
    if (!reader_) throw Error(ErrorKind::internal, "out of memory connecting to Redis");
    stream_ = std::move(stream);
    fresh_ = true;
    handshake_pending_ = options_.has_password || options_.db != 0;
}

void Connection::fail_transport(Stream::Io io, std::string_view doing) {
    std::string why = stream_ ? stream_->failure() : "no connection";
    bool maybe_done = in_flight_;
    close();  // a connection that failed halfway is out of step: never reuse it
    if (io == Stream::Io::timed_out) {
        throw Error(ErrorKind::unavailable,
                    "Redis at " + endpoint() + " did not answer within " +
                        format_duration_ms(options_.io_timeout_ms) + " (" + std::string(doing) +
                        ")",
                    maybe_done);
    }
    if (io == Stream::Io::closed) {
        why = "the server closed the connection";
        // A TLS port drops a plain client without a word.
        if (!options_.tls.enabled && fresh_) why += " (a TLS port? use rediss:// or --tls)";
    }
    throw Error(
        ErrorKind::unavailable,
        "lost connection to Redis at " + endpoint() + " (" + std::string(doing) + "): " + why,
        maybe_done);
}

// RESP, written out: an array of bulk strings, each with its length, so
// no byte of user data is ever interpreted.
void Connection::append(const Command& command) {
    output_ += '*';
    output_ += std::to_string(command.size());
    output_ += "\r\n";
    for (const std::string& arg : command) {
        output_ += '$';
        output_ += std::to_string(arg.size());
        output_ += "\r\n";
        output_ += arg;
        output_ += "\r\n";
    }
}

void Connection::flush(Deadline deadline) {
    Stream::Io io = stream_->write_all(output_, deadline);
    output_.clear();
    if (io != Stream::Io::ok) fail_transport(io, "sending");
}

// The next reply, reading until the deadline; nullopt when woken (by a
// signal or wake_fd) and `until_woken`, or when the deadline passes.
std::optional<Reply> Connection::next_reply(Deadline deadline, int wake_fd, bool until_woken) {
    for (;;) {
        void* raw = nullptr;
        if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
            std::string why = reader_->errstr;
            bool maybe_done = in_flight_;
            close();
            throw Error(ErrorKind::unavailable,
                        "Redis at " + endpoint() + " sent a malformed reply: " + why, maybe_done);
        }
        if (raw) {
            fresh_ = false;
            return Reply(static_cast<redisReply*>(raw));
        }
        Stream::Io io = stream_->read_some(input_, deadline, wake_fd);
        if (!input_.empty()) redisReaderFeed(reader_, input_.data(), input_.size());
        input_.clear();
        if (io == Stream::Io::woken && !until_woken) continue;
        if (io == Stream::Io::woken || (io == Stream::Io::timed_out && until_woken))
            return std::nullopt;
        if (io != Stream::Io::ok)
            fail_transport(io, until_woken ? "waiting for a message" : "reading a reply");
    }
}

Reply Connection::read(Deadline deadline) {
    return std::move(*next_reply(deadline, -1, false));
}

// AUTH and SELECT in a round trip of their own: pipelined ahead of a
// command, that command would still run when they fail, as the default user
// or in database 0 (bench/README.md has what this costs).
void Connection::handshake() {
    handshake_pending_ = false;
    bool auth = options_.has_password, select = options_.db != 0;
    if (auth && options_.user.empty()) append({"AUTH", options_.password});
    if (auth && !options_.user.empty()) append({"AUTH", options_.user, options_.password});
    if (select) append({"SELECT", std::to_string(options_.db)});
    Deadline deadline = after(options_.io_timeout_ms);
    flush(deadline);
    if (auth) {
        Reply reply = read(deadline);
        std::string text = reply->type == REDIS_REPLY_ERROR ? reply_error_text(*reply) : "";
        // A password given to a server that has none is harmless (redis-cli goes on too).
        if (!text.empty() && text.find("without any password configured") == std::string::npos) {
            close();
            std::string who = options_.user.empty() ? "default" : options_.user;
            throw Error(ErrorKind::refused, "Redis at " + endpoint() +
                                                " refused authentication for user '" + who +
                                                "': " + text);
        }
    }
    if (select) {
        Reply reply = read(deadline);
        if (reply->type == REDIS_REPLY_ERROR) {
            std::string text = reply_error_text(*reply);
            close();
            ErrorKind kind = classify_reply_error(text);
            throw Error(kind == ErrorKind::internal ? ErrorKind::usage : kind,
                        "cannot select database " + std::to_string(options_.db) + ": " + text);
        }
    }
}

std::vector<Reply> Connection::pipeline(const std::vector<Command>& commands) {
    if (!stream_) open();
    if (handshake_pending_) handshake();
    for (const Command& command : commands) append(command);
    Deadline deadline = after(options_.io_timeout_ms);
    in_flight_ = true;  // from here on, a failure leaves the commands' outcome unknown
    flush(deadline);
    std::vector<Reply> replies;
    replies.reserve(commands.size());
    for (std::size_t i = 0; i < commands.size(); ++i) replies.push_back(read(deadline));
    in_flight_ = false;
    return replies;
}

void Connection::send(const Command& command) {
    if (!stream_) open();
    if (handshake_pending_) handshake();
    append(command);
    flush(after(options_.io_timeout_ms));
}

std::optional<Reply> Connection::receive(int timeout_ms, int wake_fd) {
    if (!stream_) throw Error(ErrorKind::internal, "receive() before send()");
    return next_reply(timeout_ms < 0 ? no_deadline : after(timeout_ms), wake_fd, true);
}

int Connection::fd() const {
    return stream_ ? stream_->fd() : -1;
}

Reply Connection::call(const Command& command) {
    std::vector<Reply> replies = pipeline({command});
    return std::move(replies.front());
}

}  // namespace tbucket
