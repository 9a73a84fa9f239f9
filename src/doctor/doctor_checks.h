#pragma once

// The parts of doctor.cpp: checks of one server (doctor_server.cpp), of its
// ACL rights (doctor_acl.cpp) and of a cluster's layout (doctor.cpp).

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "doctor/doctor.h"
#include "redis/connection.h"

namespace tbucket::doctor {

// INFO's "field:value" lines.
using Info = std::map<std::string, std::string, std::less<>>;
Info parse_info(std::string_view text);

// A string, status or error reply's text; "" for other types.
std::string text_of(const redisReply& reply);
bool is_error(const Reply& reply);

Check make(std::string name, CheckStatus status, const std::string& node, std::string summary,
           std::string advice);

// One line of CLUSTER NODES: "<id> <ip:port@bus[,host]> <flags> <primary>
// <ping> <pong> <epoch> <link> <slot ranges...>".
struct ClusterNode {
    std::string id, host, flags, primary_id;
    int port = 0;
    bool primary = false, failed = false;    // failed: flagged fail, or fail? (suspected)
    std::vector<std::pair<int, int>> slots;  // slots being migrated or imported left out
};
std::vector<ClusterNode> parse_cluster_nodes(std::string_view text);

// What a server is, as far as the cluster layout tells (standalone: none).
struct Role {
    bool in_cluster = false;
    int replicas = -1;  // known replicas of this primary; -1: ask INFO replication
};

// version, scripts, persistence, eviction, replication and clock of one
// server, on a connection of its own. Throws Error(unavailable) when it
// cannot be reached.
void check_server(Connection& server, const Role& role, std::vector<Check>& out);

// The rights of the connection's user on `<prefix>{x}` and its events
// channel (ACL WHOAMI, ACL DRYRUN).
Check check_acl(Connection& server, const std::string& prefix);

// SSUBSCRIBE (SUBSCRIBE before Redis 7) on one connection, SPUBLISH on
// another: is the message delivered within the bound? On a cluster the
// channel's slot is one of `live` (a down primary is its own check).
Check check_pubsub(Nodes& nodes, const DoctorOptions& options, const std::vector<bool>& live);

}  // namespace tbucket::doctor
