#pragma once

// What src/multi.cpp and src/multi_queue.cpp share; not for other callers.

#include <optional>
#include <vector>

#include "multi.h"

namespace tbucket::multi_detail {

// take_many.lua's and wait_many.lua's errors name the bucket by its place
// in the list (" @<i>"): the Error for it, naming that bucket.
[[noreturn]] void throw_script_error(const redisReply& reply, const std::vector<NamedCount>& list);
// A cluster refused a script over keys of several slots (nothing ran).
bool is_crossslot(const redisReply& reply);
// Waiting without a place in the queues: each look all or none (the
// fallback where one script cannot reach every bucket).
MultiWaitResult wait_unqueued(Client& client, const std::vector<NamedCount>& list,
                              std::optional<int64_t> timeout_ms, int interrupt_fd,
                              const LeaseSpec* lease);

}  // namespace tbucket::multi_detail
