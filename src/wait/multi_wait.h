#pragma once

// Waiting for several buckets at once (SPEC §11): in line in each, or,
// where one script cannot reach them all (buckets on several cluster
// slots), by looking again when one of them changes.

#include <optional>
#include <vector>

#include "bucket/multi.h"
#include "wait/wait.h"

namespace tbucket {

// One bucket or several, in line (SPEC §10, §11).
struct LineRequest {
    std::vector<NamedCount> list;
    std::optional<Settings> create_with;  // one bucket: created with these when missing
    // Buckets without refill hold their tokens as this lease (one bucket:
    // `required` makes a refilling one an Error usage; in a list it is
    // simply taken from).
    std::optional<LeaseSpec> lease;
    std::optional<int64_t> timeout_ms;  // nullopt: forever; 0: look once
    // Readable when the caller was signalled (see WaitRequest).
    int interrupt_fd = -1;
};

struct MultiWaitResult {
    MultiTakeResult result;
    int64_t waited_ms = 0;
};

// Waits until every bucket gives its tokens at once, the deadline (Error
// timeout), deletion (Error not_found), or a signal (Error interrupted /
// terminated; what was taken at that moment goes back). Holds no tokens
// while it waits: a ticket in every bucket's queue with one place (one
// bucket: wait.lua; several: wait_many.lua), served in order with every
// other waiter, and never in a deadlock (see the man page, SEVERAL
// BUCKETS). Where one script cannot reach every bucket (a cluster's
// shards) it waits without a place: it sleeps on the events of a bucket
// that said no, or until that bucket's refill or lease end, and looks
// again. The observer hears of progress and of a lost connection.
MultiWaitResult wait_in_line(Client& client, const LineRequest& request, WaitObserver& observer);

namespace multi_detail {

// Waiting without a place in the queues: each look all or none (the
// fallback where one script cannot reach every bucket). For
// src/wait/queue_wait.cpp.
MultiWaitResult wait_unqueued(Client& client, const std::vector<NamedCount>& list,
                              std::optional<int64_t> timeout_ms, int interrupt_fd,
                              const LeaseSpec* lease);

}  // namespace multi_detail
}  // namespace tbucket
