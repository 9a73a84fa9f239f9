// tbucket doctor: the layout (standalone or cluster, from CLUSTER NODES),
// each primary's checks on a connection of its own, the pub/sub round
// trip through the same routing the commands use, and the merge of what
// several nodes said alike.

#include "doctor/doctor.h"

#include <algorithm>
#include <optional>

#include "doctor/doctor_checks.h"

namespace tbucket {
namespace doctor {

Info parse_info(std::string_view text) {
    Info info;
    while (!text.empty()) {
        std::size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        std::size_t colon = line.find(':');
        if (colon != std::string_view::npos && line.front() != '#')
            info.emplace(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    }
    return info;
}

std::string text_of(const redisReply& reply) {
    bool text = reply.type == REDIS_REPLY_STRING || reply.type == REDIS_REPLY_STATUS ||
                reply.type == REDIS_REPLY_ERROR;
    return text && reply.str ? std::string(reply.str, reply.len) : std::string();
}

bool is_error(const Reply& reply) {
    return !reply || reply->type == REDIS_REPLY_ERROR;
}

Check make(std::string name, CheckStatus status, const std::string& node, std::string summary,
           std::string advice) {
    Check c{std::move(name), status, {}, std::move(summary), std::move(advice)};
    if (!node.empty()) c.nodes.push_back(node);
    return c;
}

namespace {

std::vector<std::string_view> node_words(std::string_view line) {
    std::vector<std::string_view> out;
    while (!line.empty()) {
        std::size_t space = line.find(' ');
        if (space != 0) out.push_back(line.substr(0, space));
        line.remove_prefix(space == std::string_view::npos ? line.size() : space + 1);
    }
    return out;
}

std::optional<ClusterNode> parse_node(std::string_view line) {
    std::vector<std::string_view> w = node_words(line);
    if (w.size() < 8) return std::nullopt;
    ClusterNode n;
    n.id = w[0];
    std::string_view where = w[1].substr(0, w[1].find_first_of("@,"));
    std::size_t colon = where.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    n.host = where.substr(0, colon);
    n.port = std::atoi(std::string(where.substr(colon + 1)).c_str());
    n.flags = w[2];
    // Whole flags, so that "nofailover" is no failure.
    std::string_view flags = w[2];
    while (!flags.empty()) {
        std::string_view flag = flags.substr(0, flags.find(','));
        n.primary = n.primary || flag == "master";
        n.failed = n.failed || flag == "fail" || flag == "fail?";
        flags.remove_prefix(std::min(flags.size(), flag.size() + 1));
    }
    n.primary_id = w[3] == "-" ? "" : std::string(w[3]);
    for (std::size_t i = 8; i < w.size(); ++i) {
        if (w[i].front() == '[') continue;  // a slot being imported or migrated
        std::string range(w[i]);
        std::size_t dash = range.find('-');
        int lo = std::atoi(range.c_str());
        n.slots.emplace_back(lo,
                             dash == std::string::npos ? lo : std::atoi(range.c_str() + dash + 1));
    }
    return n;
}

}  // namespace

std::vector<ClusterNode> parse_cluster_nodes(std::string_view text) {
    std::vector<ClusterNode> nodes;
    while (!text.empty()) {
        std::size_t end = text.find('\n');
        if (auto n = parse_node(text.substr(0, end))) nodes.push_back(std::move(*n));
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    }
    return nodes;
}

namespace {

// "0-5460, 10923" for slots, at most five ranges named.
std::string ranges_text(const std::vector<std::pair<int, int>>& ranges) {
    std::string out;
    for (std::size_t i = 0; i < ranges.size() && i < 5; ++i) {
        const auto& [lo, hi] = ranges[i];
        out += (i ? ", " : "") + std::to_string(lo) + (hi > lo ? "-" + std::to_string(hi) : "");
    }
    if (ranges.size() > 5) out += " and " + std::to_string(ranges.size() - 5) + " more ranges";
    return out;
}

std::string node_address(const ClusterNode& n) {
    return n.host + ":" + std::to_string(n.port);
}

int replicas_of(const std::vector<ClusterNode>& all, const ClusterNode& primary) {
    return static_cast<int>(std::count_if(all.begin(), all.end(), [&](const ClusterNode& n) {
        return !n.primary && !n.failed && n.primary_id == primary.id;
    }));
}

Check primary_down(const ClusterNode& p, const std::string& why, int replicas) {
    std::string then = replicas > 0
                           ? "until one of its " + std::to_string(replicas) +
                                 " replicas takes over (automatic after cluster-node-timeout; "
                                 "CLUSTER FAILOVER FORCE on a replica does it now)"
                           : "until it is back: it has no replica to take over";
    return make(
        "cluster-primary", CheckStatus::fail, node_address(p),
        "primary " + node_address(p) + " (" + p.id.substr(0, 8) + ", flags " + p.flags +
            ") is down: " + why,
        "buckets in its slots " + ranges_text(p.slots) + " cannot be used (exit 69) " + then);
}

// Which slots have a primary that answers.
std::vector<bool> live_slots(const std::vector<ClusterNode>& all,
                             const std::vector<std::string>& down) {
    std::vector<bool> live(cluster_slots, false);
    for (const ClusterNode& n : all) {
        if (!n.primary || n.failed || std::count(down.begin(), down.end(), n.id)) continue;
        for (auto [lo, hi] : n.slots)
            for (int s = std::max(lo, 0); s <= hi && s < cluster_slots; ++s) live[s] = true;
    }
    return live;
}

Check slots_check(const std::vector<ClusterNode>& all, const std::vector<bool>& live) {
    auto primaries = std::count_if(
        all.begin(), all.end(), [](const ClusterNode& n) { return n.primary && !n.slots.empty(); });
    std::vector<std::pair<int, int>> missing;
    int count = 0;
    for (int s = 0; s < cluster_slots; ++s) {
        if (live[s]) continue;
        ++count;
        if (!missing.empty() && missing.back().second == s - 1)
            missing.back().second = s;
        else
            missing.emplace_back(s, s);
    }
    if (count == 0) {
        return make("cluster-slots", CheckStatus::ok, "",
                    "all 16384 slots served by " + std::to_string(primaries) + " live primaries",
                    "every bucket name hashes to a primary that answers");
    }
    return make(
        "cluster-slots", CheckStatus::fail, "",
        std::to_string(count) + " slots have no live primary: " + ranges_text(missing),
        "buckets whose names hash there cannot be used (exit 69); bring their primary back, "
        "fail over to a replica, or assign the slots (redis-cli --cluster fix)");
}

// Returns the slots that have a live primary.
std::vector<bool> check_cluster(Nodes& nodes, const std::vector<ClusterNode>& all,
                                const std::string& prefix, std::vector<Check>& out) {
    std::vector<std::string> down;
    for (const ClusterNode& p : all) {
        if (!p.primary || p.slots.empty()) continue;
        // A node that does not know its own address lists itself as ":port".
        std::string host = p.host.empty() ? nodes.seed_options().front().host : p.host;
        Connection server(nodes.node_options(host, p.port));
        try {
            check_server(server, Role{true, replicas_of(all, p)}, out);
            out.push_back(check_acl(server, prefix));
        } catch (const Error& e) {
            down.push_back(p.id);
            out.push_back(primary_down(p, e.what(), replicas_of(all, p)));
            continue;
        }
        if (p.failed) {
            down.push_back(p.id);
            out.push_back(primary_down(p, "the cluster marks it failed", replicas_of(all, p)));
            continue;
        }
        out.push_back(make("cluster-primary", CheckStatus::ok, node_address(p), "primary answers",
                           "its buckets can be used"));
    }
    bool any_slots = std::any_of(
        all.begin(), all.end(), [](const ClusterNode& n) { return n.primary && !n.slots.empty(); });
    // A cluster with no slots assigned yet still has a server to check.
    if (!any_slots) {
        Connection seed(nodes.seed_options().front());
        check_server(seed, Role{true, -1}, out);
        out.push_back(check_acl(seed, prefix));
    }
    std::vector<bool> live = live_slots(all, down);
    out.push_back(slots_check(all, live));
    return live;
}

// Checks alike on several nodes become one naming them all; then the
// order of `order`, each name's checks in the order they were made.
std::vector<Check> merge(std::vector<Check> checks) {
    std::vector<Check> out;
    for (Check& c : checks) {
        auto same = std::find_if(out.begin(), out.end(), [&](const Check& o) {
            return o.name == c.name && o.status == c.status && o.summary == c.summary &&
                   o.advice == c.advice;
        });
        if (same == out.end()) {
            out.push_back(std::move(c));
        } else {
            same->nodes.insert(same->nodes.end(), c.nodes.begin(), c.nodes.end());
        }
    }
    static const std::vector<std::string> order{
        "cluster-primary", "cluster-slots", "version", "scripts",     "persistence",
        "eviction",        "acl",           "pubsub",  "replication", "clock"};
    auto rank = [](const Check& c) {
        return std::find(order.begin(), order.end(), c.name) - order.begin();
    };
    std::stable_sort(out.begin(), out.end(),
                     [&](const Check& a, const Check& b) { return rank(a) < rank(b); });
    return out;
}

}  // namespace
}  // namespace doctor

std::string_view status_name(CheckStatus status) {
    switch (status) {
        case CheckStatus::ok:
            return "OK";
        case CheckStatus::info:
            return "INFO";
        case CheckStatus::warn:
            return "WARN";
        case CheckStatus::fail:
            return "FAIL";
    }
    return "FAIL";
}

bool any_failed(const std::vector<Check>& checks) {
    return std::any_of(checks.begin(), checks.end(),
                       [](const Check& c) { return c.status == CheckStatus::fail; });
}

std::vector<Check> run_doctor(Nodes& nodes, const DoctorOptions& options) {
    // Through the seeds, as every command: an unreachable server or a wrong
    // password ends doctor here with 69 or 77.
    using namespace doctor;
    Reply layout = std::move(nodes.pipeline({{"", {"CLUSTER", "NODES"}}}).front());
    std::vector<Check> out;
    std::vector<bool> live;  // on a cluster, the slots whose primary answers
    std::string why = is_error(layout) ? text_of(*layout) : "";
    if (!is_error(layout)) {
        live = check_cluster(nodes, parse_cluster_nodes(text_of(*layout)), options.prefix, out);
    } else {
        if (why.find("cluster support disabled") == std::string::npos) {
            out.push_back(
                make("cluster-slots", CheckStatus::warn, "",
                     "cannot tell whether this is a cluster: CLUSTER NODES failed: " + why,
                     "if it is one, only the first seed was checked"));
        }
        Connection server(nodes.seed_options().front());
        check_server(server, Role{}, out);
        out.push_back(check_acl(server, options.prefix));
    }
    try {
        out.push_back(check_pubsub(nodes, options, live));
    } catch (const Error& e) {
        out.push_back(
            make("pubsub", CheckStatus::fail, "", std::string("round trip failed: ") + e.what(),
                 "waiters cannot hear changes: they wake only when refill would be enough"));
    }
    return merge(std::move(out));
}

}  // namespace tbucket
