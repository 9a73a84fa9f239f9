#pragma once

// Waiting without polling. A waiter subscribes to the bucket's events
// channel first, then checks; while not satisfied it sleeps until a
// notification says enough tokens may be there, until the refill rate says
// they will be (computed from the server's state, not the client clock), or
// until its deadline. No timer asks Redis anything.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "bucket/bucket.h"

namespace tbucket {

struct WaitRequest {
    std::string name;
    int64_t n = 1;
    bool take = true;  // take the tokens in the same script as the check
    std::optional<Settings> create_with;
    std::optional<int64_t> timeout_ms;  // nullopt: forever; 0: check once
    // Readable when the caller was signalled: it holds the signal number as
    // one byte (a self-pipe written by the caller's signal handler).
    int interrupt_fd = -1;
    // Take the tokens as this lease (with take only).
    std::optional<LeaseSpec> lease = std::nullopt;
};

struct WaitProgress {
    int64_t waited_ms = 0;
    std::optional<int64_t> ready_in_ms;     // by the refill rate, if it can tell
    std::optional<int64_t> deadline_in_ms;  // until the timeout, if there is one
    // A new lease held for holders Redis may have lost (the restart grace,
    // SPEC §16): until it ends.
    std::optional<int64_t> grace_ms;
};

// What a waiter tells the one who waits for it; the library never prints.
class WaitObserver {
  public:
    virtual ~WaitObserver() = default;
    // How often to call progress() while waiting; 0: never.
    virtual int progress_interval_ms() const { return 0; }
    virtual void progress(const WaitProgress&) {}
    virtual void reconnecting(const Error&) {}
    virtual void finished() {}
};

struct WaitResult {
    TakeResult result;  // with take: what the script took; else taken is 0
    int64_t waited_ms = 0;
};

// Blocks until n tokens are there (taking them when request.take), the
// deadline (Error timeout), deletion (not_found), a signal (interrupted /
// terminated; tokens taken at that moment are given back). Leases of the
// bucket that end give their tokens back: the waiter wakes for that too. N above the
// capacity of a refilling bucket is Error impossible at once, unless the
// level holds N; a bucket without refill waits for puts (forced ones may
// pass capacity). A lost connection is re-opened with
// backoff until the deadline, with one observer.reconnecting() call.
WaitResult wait_for(Client& client, const WaitRequest& request, WaitObserver& observer);

// Calls on_state with the state now, then with the state after every change,
// until the deadline or a signal (returns normally) or deletion (Error
// not_found).
void follow(Client& client, const std::string& name, std::optional<int64_t> timeout_ms,
            int interrupt_fd, const std::function<void(const State&)>& on_state,
            WaitObserver& observer);

// Parses an events-channel message ("<t> <c> <r|-> <p> <x> <now_us>
// [<leased>]"), or nullopt for "deleted".
std::optional<State> parse_event(const std::string& name, const std::string& payload);

}  // namespace tbucket
