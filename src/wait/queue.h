#pragma once

// A waiter's ticket in the queues of its buckets (SPEC §10, §11; the layout
// is in the header of src/bucket/scripts/common.lua): joining, looking,
// leaving. One bucket's line is wait.lua, several buckets' is
// wait_many.lua (one place in every queue); each call is one script
// through the retry loop of SPEC §8.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bucket/bucket.h"
#include "bucket/multi.h"

namespace tbucket {

struct Ticket {
    std::string id;                       // 24 hex; the lease id too, when a lease is asked
    std::optional<Settings> create_with;  // one bucket only: create it when missing
    std::optional<LeaseSpec> lease;
    int64_t patience_ms = 0;       // the server drops the ticket after this (0: never)
    std::optional<int64_t> place;  // its place once queued, to regain it
};

// One look at the line, per bucket in the order asked.
struct LineAnswer {
    MultiTakeResult result;         // ok(): served (one bucket: maybe by another client's script)
    std::vector<int64_t> position;  // 0: first; -1: not queued; -2: put back just now
    std::vector<double> ahead;  // tokens asked for by those ahead (an upper bound past the first)
    std::optional<int64_t> place;
};

enum class LineOp { enter, leave };

// enter: takes the tokens now if no one is queued and they are there; else
// joins the queues, or, already in them, looks (the queues are served
// first). leave: quits them; one bucket's tokens set aside for the ticket
// meanwhile are still given (result.ok()). nullopt: one script cannot
// reach every bucket (a cluster's shards); nothing ran.
std::optional<LineAnswer> in_line(Client& client, const std::vector<NamedCount>& list,
                                  const Ticket& ticket, LineOp op);

}  // namespace tbucket
