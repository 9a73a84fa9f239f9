#pragma once

// Local mode (SPEC §14, --url local): buckets for this host only, kept by a
// private redis-server that tbucket starts on first use and that outlives
// the command, on a unix socket in a directory only the user can reach,
// with append-only persistence (fsync on every write). Every command finds
// it there; one that finds none answering starts one, under a lock, so that
// two commands starting at once start one server.

#include <cstdint>
#include <string>

namespace tbucket {

struct LocalPaths {
    std::string run_dir;  // $XDG_RUNTIME_DIR/tbucket, /run/tbucket (root), /tmp/tbucket-UID
    std::string
        state_dir;  // $XDG_STATE_HOME/tbucket, /var/lib/tbucket (root), ~/.local/state/tbucket
    std::string socket() const { return run_dir + "/redis.sock"; }
    std::string pidfile() const { return run_dir + "/redis.pid"; }
    std::string lock() const { return run_dir + "/redis.lock"; }
};

LocalPaths local_paths();

// The socket of the user's local server, started now if none answers.
// Throws Error(unavailable) when it cannot be (no redis-server installed,
// a directory that is not the user's, a server that does not come up).
std::string ensure_local_server(const LocalPaths& paths);

}  // namespace tbucket
