#pragma once

// What src/bucket/multi.cpp shares with the waiting for lists
// (src/wait/multi_*.cpp); not for other callers.

#include <optional>
#include <vector>

#include "bucket/bucket.h"
#include "bucket/multi.h"

namespace tbucket::multi_detail {

// take_many.lua's and wait_many.lua's errors name the bucket by its place
// in the list (" @<i>"): the Error for it, naming that bucket.
[[noreturn]] void throw_script_error(const redisReply& reply, const std::vector<NamedCount>& list);
// A cluster refused a script over keys of several slots (nothing ran).
bool is_crossslot(const redisReply& reply);

}  // namespace tbucket::multi_detail
