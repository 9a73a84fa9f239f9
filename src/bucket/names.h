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

// True when the server's index is known to hold every bucket (the marker
// <prefix>names:complete is there).
bool index_complete(Nodes& nodes, const std::string& prefix);

// Names in the index that match the glob `pattern`, read with one
// ZRANGEBYLEX per slot over the literal prefix of the pattern, sorted.
std::vector<std::string> indexed_names(Nodes& nodes, const std::string& prefix,
                                       const std::string& pattern);

// Adds names to the index, then sets the marker when `complete`. Best
// effort: a server that refuses the writes (read-only, ACL, OOM) keeps
// the index it has, and list SCANs again next time.
void index_names(Nodes& nodes, const std::string& prefix, const std::vector<std::string>& names,
                 bool complete);

// Removes names of buckets found gone (idle expiry); best effort.
void unindex_names(Nodes& nodes, const std::string& prefix, const std::vector<std::string>& names);

// Redis's glob (* ? [...] [^...] \x) over a bucket name.
bool glob_match(const std::string& pattern, const std::string& name);

}  // namespace tbucket
