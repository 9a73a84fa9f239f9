#pragma once

// What the library's calls answer, as plain values: settings, a bucket's
// state, and the results of take, put and create. No Redis type is in
// sight here, so the command line's output (cli/output.h) includes this
// and not the client.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "util/error.h"
#include "util/parse.h"

namespace tbucket {

// A bucket refills continuously (rate), returns to full at each calendar
// window's end (window), or neither: a semaphore, whose tokens come back
// only when put or when a lease ends. Never both a rate and a window.
struct Settings {
    int64_t capacity = 0;
    std::optional<Rate> rate;
    std::optional<int64_t> expire_ms;
    std::optional<Window> window;
};

// "rate", "window" or "semaphore", as create, info, list and top show it.
const char* kind_name(const std::optional<Rate>& rate, const std::optional<Window>& window);

// What the scripts counted on a bucket since it was created (the fields
// ng nd nt np nw of common.lua); read by info.
struct Counters {
    int64_t grants = 0;          // take requests that took tokens
    int64_t denials = 0;         // one-shot take requests refused
    int64_t taken = 0;           // tokens taken
    double put = 0;              // tokens put (what went in)
    int64_t waits_served = 0;    // grants to waiters
    int64_t leases_expired = 0;  // leases that ended because no one renewed them
    int64_t leases_lost = 0;     // renewals that found their lease ended
    int64_t data_losses = 0;     // leases their holders found lost with Redis's data
};

// A bucket as read at server_time_us (refill applied).
struct State {
    std::string name;
    int64_t capacity = 0;
    double tokens = 0;
    std::optional<Rate> rate;
    std::optional<int64_t> expire_ms;
    int64_t server_time_us = 0;
    std::string node;                    // "host:port" of the server that answered, when known
    double leased = 0;                   // tokens held by leases (not in `tokens`)
    std::optional<int64_t> lease_count;  // known to info only
    std::optional<int64_t> queued;       // waiters in line; known to info only
    std::optional<Counters> counters;    // read by info (and list) only
    std::optional<Window> window;
    int64_t window_end_ms = 0;  // server time; a window bucket's only

    const char* kind() const { return kind_name(rate, window); }
    // Until the window ends and the bucket is full again (nullopt: no window).
    std::optional<int64_t> resets_in_ms() const;

    int64_t available() const;
    // Until the level reaches capacity: 0 when full, nullopt when it never will.
    std::optional<int64_t> full_in_ms() const;
    // Until at least `n` tokens are there, rounded up so that waiting exactly
    // that long is enough: 0 when they are, nullopt when refill never brings them.
    std::optional<int64_t> ms_until(double n) const;
};

struct TakeResult {
    State state;
    int64_t requested = 0;
    int64_t taken = 0;
    bool ok() const { return taken > 0; }
    std::optional<int64_t> retry_after_ms;  // 0 when ok
    // Until the bucket's next lease ends and gives its tokens back
    // (server's view); nullopt when no lease is held.
    std::optional<int64_t> next_lease_end_ms;
    int64_t fence = 0;  // of the lease made by this take; 0: none made
    bool leased() const { return fence > 0; }
    // Waiters queued ahead (SPEC §10), who are served first, and the tokens
    // they ask for; a one-shot take is denied while there are any.
    int64_t queued_ahead = 0;
    double queued_tokens = 0;
    // A one-shot denial on a semaphore: the leases held, and the holder
    // ("host pid"; "-": a served waiter's) of the one that ends first.
    int64_t leases_held = 0;
    std::string next_holder;
    // Denied because the bucket is held for holders re-asserting their
    // leases after Redis lost its data: ms left of that grace.
    std::optional<int64_t> grace_ms;
    // When the request that got this answer was first asked: a lease it
    // made (or claimed) runs on the server from no earlier than then.
    std::chrono::steady_clock::time_point asked_at{};
};

// A take as a lease (SPEC §9): the tokens are held under `id` for `ttl_ms`
// unless renewed, and come back when it is released or ends. On a bucket
// with refill a lease makes no sense: `required` makes that an Error usage,
// else the tokens are simply taken.
struct LeaseSpec {
    std::string id;  // new_lease_id()
    int64_t ttl_ms = 0;
    std::string holder;  // "<host> <pid>", shown by lease list
    bool required = true;
    // A semaphore this take creates on a server that started less than this
    // long ago without an append-only file grants nothing but re-asserted
    // leases until then (docs/DESIGN.md, "Telling a loss from a delete").
    int64_t restart_grace_ms = 0;
};

struct PutResult {
    State state;
    double added = 0;
    double overflow = 0;
};

// all: N tokens or none; partial: whole tokens up to N; check: take nothing,
// only read the state (creating a missing bucket when settings are given).
// wait_all and wait_check: as all and check, for a waiter: N above the
// capacity of a bucket without refill is not impossible to it, as a forced
// put may bring the level there.
enum class TakeMode { all, partial, check, wait_all, wait_check };

enum class CreateMode { ensure, update, replace };
enum class CreateOutcome { existed, created, updated, replaced };

struct CreateResult {
    State state;
    CreateOutcome outcome = CreateOutcome::existed;
};

// One name's answer in a multi-name command: its state, or why not.
using StateOrError = std::variant<State, Error>;

}  // namespace tbucket
