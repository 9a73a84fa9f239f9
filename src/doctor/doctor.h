#pragma once

// `tbucket doctor`: what about the server tbucket talks to would make
// buckets wrong, found by asking it (INFO, CONFIG GET, ACL DRYRUN, CLUSTER
// NODES, a pub/sub round trip). Results are plain structs; the caller
// decides how to show them. Nothing here writes a bucket: the probes use a
// fresh random name under the prefix and leave no key behind.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "redis/cluster.h"

namespace tbucket {

// ok: nothing to do. info: a fact worth knowing that needs no action.
// warn: buckets can go wrong in an unusual event (a restart, a failover)
// or a feature degrades. fail: buckets are wrong, or will be in the normal
// course of things (an eviction), or tbucket cannot work.
enum class CheckStatus { ok, info, warn, fail };

// "OK", "INFO", "WARN", "FAIL".
std::string_view status_name(CheckStatus status);

struct Check {
    // Stable names: version, scripts, persistence, eviction, acl, pubsub,
    // clock, replication, cluster-slots, cluster-primary.
    std::string name;
    CheckStatus status = CheckStatus::ok;
    std::vector<std::string>
        nodes;            // "host:port" it was found on; empty: the whole server or cluster
    std::string summary;  // what was found, one short sentence
    std::string advice;   // what it means for buckets, and what to do
};

struct DoctorOptions {
    std::string prefix = "tbucket:";
    // How long a published probe message may take to arrive.
    int64_t pubsub_timeout_ms = 2000;
};

// Runs every check. A seed that cannot be reached or refuses the password
// throws (Error unavailable or refused), as for any command; anything
// found after that is a Check. Checks that came out the same on several
// nodes are one Check naming them all.
std::vector<Check> run_doctor(Nodes& nodes, const DoctorOptions& options);

bool any_failed(const std::vector<Check>& checks);

}  // namespace tbucket
