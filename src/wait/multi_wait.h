#pragma once

// Waiting for several buckets at once (SPEC §11): in line in each, or,
// where one script cannot reach them all (buckets on several cluster
// slots), by looking again when one of them changes.

#include <optional>
#include <vector>

#include "bucket/multi.h"

namespace tbucket {

// Waits until every bucket gives its tokens at once, the deadline (Error
// timeout), or a signal on interrupt_fd (Error interrupted/terminated;
// nothing taken). Holds no tokens while it waits. On one server it holds a
// ticket in every bucket's queue with one place (wait_many.lua): served in
// order with single waiters, and never in a deadlock (see the man page,
// SEVERAL BUCKETS). Where one script cannot reach every bucket (a cluster's
// shards) it waits without a place: it sleeps on the events of a bucket
// that said no, or until that bucket's refill or lease end, and looks again.
struct MultiWaitResult {
    MultiTakeResult result;
    int64_t waited_ms = 0;
};
MultiWaitResult wait_many(Client& client, const std::vector<NamedCount>& list,
                          std::optional<int64_t> timeout_ms, int interrupt_fd,
                          const LeaseSpec* lease = nullptr);

namespace multi_detail {

// Waiting without a place in the queues: each look all or none (the
// fallback where one script cannot reach every bucket). For
// src/wait/queue_wait.cpp.
MultiWaitResult wait_unqueued(Client& client, const std::vector<NamedCount>& list,
                              std::optional<int64_t> timeout_ms, int interrupt_fd,
                              const LeaseSpec* lease);

}  // namespace multi_detail
}  // namespace tbucket
