#include "concurrent.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "bucket/script.h"

namespace tbucket {

// One connection and the call it carries.
struct ConcurrentClient::Slot {
    Slot(const ConnectionOptions& options, uint32_t index) : connection(options), index(index) {}
    Connection connection;
    uint32_t index;
    std::optional<Call> call;  // in flight
    bool by_sha = true;        // sent as EVALSHA, so NOSCRIPT means: send it as EVAL
    Deadline deadline{};
    int watched_fd = -1;  // the socket registered with epoll
};

ConcurrentClient::ConcurrentClient(ConnectionOptions options, std::string prefix, int connections)
    : options_(std::move(options)), prefix_(std::move(prefix)) {
    if (connections < 1)
        throw Error(ErrorKind::usage, "ConcurrentClient needs at least one connection");
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0)
        throw Error(ErrorKind::internal, std::string("epoll_create1: ") + std::strerror(errno));
    for (int i = 0; i < connections; ++i) {
        slots_.push_back(std::make_unique<Slot>(options_, static_cast<uint32_t>(i)));
    }
}

ConcurrentClient::~ConcurrentClient() {
    ::close(epoll_);
}

ConcurrentClient::Ticket ConcurrentClient::take(const std::string& name, int64_t n, TakeMode mode,
                                                const std::optional<Settings>& create_with) {
    ScriptCall script = change_call(scripts::take_script, prefix_ + "{" + name + "}",
                                    take_args(n, mode, create_with), 2 * retry_window_ms(options_),
                                    create_with.has_value());
    return queue({0, true, name, n, mode, create_with, std::move(script)});
}

ConcurrentClient::Ticket ConcurrentClient::put(const std::string& name, int64_t n, bool force,
                                               const std::optional<Settings>& create_with) {
    ScriptCall script = change_call(scripts::put_script, prefix_ + "{" + name + "}",
                                    put_args(n, force, create_with), 2 * retry_window_ms(options_),
                                    create_with.has_value());
    return queue({0, false, name, n, TakeMode::all, create_with, std::move(script)});
}

ConcurrentClient::Ticket ConcurrentClient::queue(Call call) {
    call.ticket = next_ticket_++;
    queue_.push_back(std::move(call));
    return queue_.back().ticket;
}

std::vector<ConcurrentClient::Done> ConcurrentClient::run(int timeout_ms) {
    std::vector<Done> done;
    auto start_next = [&](Slot& slot) {
        if (queue_.empty() || slot.call) return;
        slot.call = std::move(queue_.front());
        queue_.pop_front();
        ++busy_;
        try {
            send(slot, true);
        } catch (const Error& e) {
            fail(slot, e, done);
        }
    };
    auto start_queued = [&] {
        for (auto& slot : slots_) start_next(*slot);
    };
    start_queued();
    if (busy_ == 0) return done;

    // Wait no longer than the first call's I/O deadline, and not at all
    // when something already finished.
    Deadline first = Deadline::max();
    for (auto& slot : slots_) {
        if (slot->call) first = std::min(first, slot->deadline);
    }
    auto until_first = std::chrono::ceil<std::chrono::milliseconds>(first - Clock::now()).count();
    int wait_ms =
        done.empty() ? static_cast<int>(std::clamp<int64_t>(until_first, 0, INT32_MAX)) : 0;
    if (timeout_ms >= 0) wait_ms = std::min(wait_ms, timeout_ms);

    epoll_event events[64];
    int ready = epoll_wait(epoll_, events, 64, wait_ms);
    if (ready < 0 && errno != EINTR) {
        throw Error(ErrorKind::internal, std::string("epoll_wait: ") + std::strerror(errno));
    }
    for (int i = 0; i < ready; ++i) {
        Slot& slot = *slots_[events[i].data.u32];
        if (!slot.call) continue;
        try {
            std::optional<Reply> reply = slot.connection.receive(0);
            if (!reply) continue;  // part of a reply so far
            if (slot.by_sha && is_noscript(*reply)) {
                send(slot, false);  // the server lost its script cache
                continue;
            }
            finish(slot, *reply, done);
        } catch (const Error& e) {
            fail(slot, e, done);
        }
        start_next(slot);  // the connection is free: no need to wait for the others
    }
    expire(done);
    start_queued();  // on the connections freed just now
    return done;
}

void ConcurrentClient::send(Slot& slot, bool by_sha) {
    slot.by_sha = by_sha;
    slot.connection.send(script_command(slot.call->script, by_sha));  // connects when needed
    slot.deadline = Clock::now() + std::chrono::milliseconds(options_.io_timeout_ms);
    int fd = slot.connection.fd();
    if (fd == slot.watched_fd) return;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u32 = slot.index;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event) != 0) {
        throw Error(ErrorKind::internal, std::string("epoll_ctl: ") + std::strerror(errno));
    }
    slot.watched_fd = fd;
}

void ConcurrentClient::finish(Slot& slot, const Reply& reply, std::vector<Done>& done) {
    Call call = std::move(*slot.call);
    slot.call.reset();
    --busy_;
    Done d{call.ticket, Error(ErrorKind::internal, "")};
    try {
        std::string node = slot.connection.endpoint();
        if (call.is_take) {
            d.result =
                take_result(reply, std::move(node), call.name, call.n, call.mode, call.create_with);
        } else {
            d.result = put_result(reply, std::move(node), call.name, call.create_with);
        }
    } catch (const Error& e) {
        d.result = e;
    }
    done.push_back(std::move(d));
}

void ConcurrentClient::fail(Slot& slot, const Error& error, std::vector<Done>& done) {
    Call call = std::move(*slot.call);
    slot.call.reset();
    --busy_;
    slot.connection
        .close();  // a late reply must not answer the next call; epoll forgets the socket
    slot.watched_fd = -1;
    done.push_back({call.ticket, error});
}

void ConcurrentClient::expire(std::vector<Done>& done) {
    Deadline now = Clock::now();
    for (auto& slot : slots_) {
        if (!slot->call || slot->deadline > now) continue;
        fail(*slot,
             // Not sent again (the blocking Client does that): the caller
             // learns the outcome is unknown.
             Error(ErrorKind::unavailable,
                   "Redis at " + slot->connection.endpoint() + " did not answer within " +
                       std::to_string(options_.io_timeout_ms) + " ms; the outcome is unknown",
                   true),
             done);
    }
}

}  // namespace tbucket
