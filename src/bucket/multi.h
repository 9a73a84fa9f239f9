#pragma once

// Several buckets, one decision (SPEC §11): N tokens from each, all or none.
// On one server: one script over all the keys (take_many.lua), one command.
// On a Redis Cluster whose shards hold the names apart: bucket by bucket in
// the order of their keys, giving back what was taken when a later one says
// no: never more granted than all-or-none allows; the tokens given back
// were out of reach for others for the few round trips that took.

#include <optional>
#include <string>
#include <vector>

#include "bucket/results.h"
#include "util/name_list.h"

namespace tbucket {

class Client;

struct MultiTakeResult {
    std::vector<TakeResult> buckets;  // in the order asked
    // Until every bucket will have enough by refill (0 when taken; nullopt
    // when one never will: no refill, or waiters whose needs refill cannot
    // meet), the longest of theirs.
    std::optional<int64_t> retry_after_ms;
    bool ok() const;
    // Whether bucket i said no: too few tokens, or waiters queued first.
    bool refused(std::size_t i) const;
};

// mode: TakeMode::all (all or none) or TakeMode::check (take nothing); one
// bucket: also TakeMode::partial. `lease` (with all): buckets without
// refill hold their tokens as this lease (one id, a fence each); refilling
// ones are taken from for good (one bucket: unless lease->required, an
// Error usage). One bucket is one take (take.lua), created with
// `create_with` when missing.
MultiTakeResult take_many(Client& client, const std::vector<NamedCount>& list, TakeMode mode,
                          const LeaseSpec* lease = nullptr,
                          const std::optional<Settings>& create_with = std::nullopt);

// Gives back what a granted take_many took (a signal came before the
// commit): leases released, the rest put back. Returns the names.
std::vector<std::string> give_back_many(Client& client, const MultiTakeResult& result,
                                        const LeaseSpec* lease);

}  // namespace tbucket
