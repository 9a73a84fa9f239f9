#pragma once

// take and put from one thread over many connections at once, the way
// redis-benchmark -c N drives Redis: each connection carries one call at a
// time, calls wait their turn in a queue, and one epoll_wait() serves every
// connection. For a program that answers many requests from one event loop;
// Client is simpler for one call at a time, and is what a thread should use.
//
// Each call is its own script run, as with Client: the results are the
// same. A standalone server (or one node that owns every bucket asked
// for): cluster redirects come back as errors, they are not followed.
//
// It lives in bench/, not in the library: lib_bench drives Redis with it
// (bench/README.md), and tests/test_concurrent.cpp holds it to Client's
// results. A program that needs it can build it the same way.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "bucket/bucket.h"
#include "bucket/script.h"
#include "redis/connection.h"

namespace tbucket {

class ConcurrentClient {
  public:
    // Opens up to `connections` connections, as calls need them (opening
    // one blocks, up to the connect timeout).
    ConcurrentClient(ConnectionOptions options, std::string prefix, int connections);
    ~ConcurrentClient();
    ConcurrentClient(const ConcurrentClient&) = delete;
    ConcurrentClient& operator=(const ConcurrentClient&) = delete;

    using Ticket = uint64_t;
    // Queue a call; run() sends it and returns its result under this ticket.
    Ticket take(const std::string& name, int64_t n, TakeMode mode,
                const std::optional<Settings>& create_with = std::nullopt);
    Ticket put(const std::string& name, int64_t n, bool force,
               const std::optional<Settings>& create_with = std::nullopt);

    struct Done {
        Ticket ticket = 0;
        std::variant<TakeResult, PutResult, Error> result;
    };
    // Sends queued calls on idle connections, waits up to timeout_ms (-1:
    // until something finishes; at once when nothing is pending) and
    // returns every call that finished, in no particular order. A call in flight longer than the
    // I/O timeout, or on a connection that fails, finishes with Error(unavailable); its connection
    // is opened again for the next call.
    std::vector<Done> run(int timeout_ms);
    // Calls queued or in flight: not yet returned by run().
    std::size_t pending() const { return queue_.size() + busy_; }

  private:
    struct Call {
        Ticket ticket = 0;
        bool is_take = true;
        std::string name;
        int64_t n = 0;
        TakeMode mode = TakeMode::all;
        std::optional<Settings> create_with;
        ScriptCall script;
    };
    struct Slot;

    Ticket queue(Call call);
    void start(Slot& slot, Call call);
    void send(Slot& slot, bool by_sha);
    void finish(Slot& slot, const Reply& reply, std::vector<Done>& done);
    void fail(Slot& slot, const Error& error, std::vector<Done>& done);
    void expire(std::vector<Done>& done);

    ConnectionOptions options_;
    std::string prefix_;
    std::vector<std::unique_ptr<Slot>> slots_;
    std::deque<Call> queue_;
    std::size_t busy_ = 0;  // slots with a call in flight
    Ticket next_ticket_ = 1;
    int epoll_ = -1;
};

}  // namespace tbucket
