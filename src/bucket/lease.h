#pragma once

// Leases (SPEC §9): tokens of a bucket without refill held for a while,
// renewed by their holder, given back when released or when their time is
// up. Taking one is Client::take with a LeaseSpec; the rest is here.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bucket/results.h"

namespace tbucket {

class Client;

// 24 lowercase hex digits from the kernel's random source.
std::string new_lease_id();
bool valid_lease_id(std::string_view id);
// "<host> <pid>" for lease list: who holds it; with a note (--note), a third
// word, the note percent-encoded (the scripts take no spaces).
std::string lease_holder(long pid, const std::string& note = "");

// What a renewal found: its lease held, or ended (or never was: not
// revived); or lost with Redis's data (a restart without persistence, a
// failover that lost writes) and written back, or lost with the data and
// its slot taken meanwhile.
enum class RenewOutcome { renewed, ended, reasserted, taken };

struct RenewResult {
    State state;
    RenewOutcome outcome = RenewOutcome::ended;
    bool held() const {
        return outcome == RenewOutcome::renewed || outcome == RenewOutcome::reasserted;
    }
};

// What the holder of a lease knows of it, so that a renewal can write it
// back when Redis lost it: its fence and tokens, the bucket's capacity, and
// its holder text (lease_holder()).
struct HeldLease {
    int64_t fence = 0;
    int64_t tokens = 0;
    int64_t capacity = 0;
    std::string holder;
};

enum class ReleaseOutcome { released, already, expired, unknown };

struct ReleaseResult {
    State state;
    ReleaseOutcome outcome = ReleaseOutcome::unknown;
    double added = 0;  // tokens that went back to the level
};

struct LeaseInfo {
    std::string id;
    int64_t tokens = 0;
    int64_t fence = 0;
    int64_t since_ms = 0;  // server time when it was taken, ms since the epoch
    int64_t ttl_ms = 0;    // as taken; renewals may give another
    std::string host;
    int64_t pid = 0;
    int64_t ends_in_ms = 0;
    std::string note;  // --note, as given
};

struct LeaseList {
    State state;
    std::vector<LeaseInfo> leases;  // soonest to end first
};

// A renewal whose reply is lost is asked again for `window_ms` (default:
// the client's retry window); a holder keeps it within its lease's third.
// With `mine`, a lease Redis lost is re-asserted (lease_renew.lua); a
// deleted bucket is Error not_found either way.
RenewResult renew_lease(Client& client, const std::string& name, const std::string& id,
                        int64_t ttl_ms, std::optional<int64_t> window_ms = std::nullopt,
                        const HeldLease* mine = nullptr);
ReleaseResult release_lease(Client& client, const std::string& name, const std::string& id);
LeaseList list_leases(Client& client, const std::string& name);

}  // namespace tbucket
