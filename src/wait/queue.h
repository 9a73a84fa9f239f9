#pragma once

// A waiter's ticket in a bucket's queue (SPEC §10; the layout is in the
// header of src/bucket/scripts/common.lua): joining, looking, leaving. Each call
// is one script through the retry loop of SPEC §8.

#include <cstdint>
#include <optional>
#include <string>

#include "bucket/bucket.h"

namespace tbucket {

struct Ticket {
    std::string id;  // 24 hex; the lease id too, when a lease is asked
    int64_t n = 1;
    std::optional<Settings> create_with;
    std::optional<LeaseSpec> lease;
    int64_t patience_ms = 0;       // the server drops the ticket after this (0: never)
    std::optional<int64_t> place;  // its place once queued, to regain it
};

struct QueueAnswer {
    TakeResult result;      // taken > 0: served (also by another client's script)
    int64_t position = -1;  // 0: first in line; -1: not queued
    double ahead = 0;       // tokens asked for by those ahead (an upper bound past the first)
    std::optional<int64_t> place;
};

// Takes the tokens now if no one is queued and they are there; else joins
// the queue, or, already in it, looks (the queue is served first).
QueueAnswer enter_queue(Client& client, const std::string& name, const Ticket& ticket);
// Quits the queue. Tokens set aside for the ticket meanwhile are still
// given: result.taken > 0.
QueueAnswer leave_queue(Client& client, const std::string& name, const Ticket& ticket);

}  // namespace tbucket
