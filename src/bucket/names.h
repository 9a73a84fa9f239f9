#pragma once

// The index of bucket names, so that `list PREFIX*` costs what it finds
// rather than a SCAN of the whole keyspace (layout: src/bucket/scripts/common.lua).
//
// One sorted set per Redis Cluster slot, <prefix>names:{TAG}, where TAG is
// chosen so that the set lands in the same slot as the buckets it names:
// a script may only touch keys of one slot, and the scripts that create
// and delete a bucket keep its name there (members scored 0, read by
// ZRANGEBYLEX). A bucket that expires idle leaves its name behind; list
// drops such names when it finds the bucket gone. Buckets written by a
// tbucket without the index are found by one SCAN, the first time list
// runs on a server without <prefix>names:complete, which it then sets.
//
// A cluster's list reads all 16,384 sets, each on its own shard. A server
// without cluster mode holds every set, and reading them all costs it
// 16,384 commands whatever the pattern: there the scripts also keep each
// name in one set of all names, <prefix>names:all (a cluster node refuses
// that write, a key of another slot, and the script goes on), and list
// reads only that, with one ZRANGEBYLEX. <prefix>names:complete is "2"
// when both are complete; "1" (written by versions before names:all):
// list SCANs once more and fills names:all.

#include <string>
#include <string_view>
#include <vector>

#include "redis/cluster.h"

namespace tbucket {

// Four characters of '@'..'O' whose CRC16 is `slot` (0..16383): "{TAG}"
// hashes to that slot. Found by solving the CRC's linear system over GF(2).
std::string slot_tag(int slot);

// The index set for the bucket key <prefix>{NAME}: <prefix>names:{TAG} in
// the bucket's slot.
std::string index_key_of(std::string_view bucket_key);

// The set of all names on a server without cluster mode: <prefix>names:all.
std::string all_names_key(const std::string& prefix);

// True when the server's index is known to hold every bucket (the marker
// <prefix>names:complete is there; `one_set`: and says names:all is too).
bool index_complete(Nodes& nodes, const std::string& prefix, bool one_set);

// Names in the index that match the glob `pattern`, read over the literal
// prefix of the pattern with one ZRANGEBYLEX per slot, or on names:all
// (`one_set`), sorted.
std::vector<std::string> indexed_names(Nodes& nodes, const std::string& prefix,
                                       const std::string& pattern, bool one_set);

// Adds names to the index (and to names:all when `one_set`), then sets the
// marker when `complete`. Best effort: a server that refuses the writes
// (read-only, ACL, OOM) keeps the index it has, and list SCANs again next time.
void index_names(Nodes& nodes, const std::string& prefix, const std::vector<std::string>& names,
                 bool complete, bool one_set);

// Removes names of buckets found gone (idle expiry), from names:all too
// when `one_set`; best effort.
void unindex_names(Nodes& nodes, const std::string& prefix, const std::vector<std::string>& names,
                   bool one_set);

// Redis's glob (* ? [...] [^...] \x) over a bucket name.
bool glob_match(const std::string& pattern, const std::string& name);

}  // namespace tbucket
