#pragma once

// run's lease (SPEC §9): tbucket stays the command's parent, passes signals
// on, renews the lease while the command runs, gives the tokens back when
// it ends, and exits as it did.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace tbucket::cli {

class Context;

struct Lease {
    std::string name;
    std::string id;
    int64_t fence = 0;
    int64_t tokens = 0;
    int64_t ttl_ms = 0;
    bool keep_on_lost = false;     // --on-lost=keep: warn, and let the command run
    int64_t kill_after_ms = 5000;  // --kill-after: SIGKILL the tree this long after the SIGTERM
    // When the take that made (or claimed) it was asked: it runs from no
    // earlier than then on the server.
    std::chrono::steady_clock::time_point asked_at = std::chrono::steady_clock::now();
    // What a renewal needs to write the lease back when Redis lost it.
    int64_t capacity = 0;
    std::string holder;
};

// Forks and runs the command at `path` with TBUCKET_LEASE and TBUCKET_FENCE
// set; never returns: tbucket exits with the command's status, or dies of
// the signal that killed it. Signals must be held (Context::commit).
// Several leases (a bucket list: one id, a fence each; at least one) are
// all renewed and all given back: TBUCKET_FENCE is the first one's, and
// TBUCKET_FENCES lists them all as NAME=FENCE,...
[[noreturn]] void supervise(Context& ctx, const std::vector<Lease>& leases, const std::string& path,
                            const std::vector<std::string>& command);

}  // namespace tbucket::cli
