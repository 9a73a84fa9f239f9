#include "redis/cluster.h"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <utility>

#include "util/error.h"

namespace tbucket {
namespace {

// CRC16-CCITT as Redis Cluster uses it (XMODEM: polynomial 0x1021, initial 0).
uint16_t crc16(std::string_view bytes) {
    uint16_t crc = 0;
    for (unsigned char byte : bytes) {
        crc ^= static_cast<uint16_t>(byte << 8);
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                                 : static_cast<uint16_t>(crc << 1);
        }
    }
    return crc;
}

std::string error_text(const Reply& reply) {
    return reply->type == REDIS_REPLY_ERROR ? reply_error_text(*reply) : std::string();
}

}  // namespace

// Connection says "cannot connect to Redis at ..." when it failed before
// sending anything (tests/test_cluster_unit.cpp holds it to that wording).
bool is_connect_failure(const Error& e) {
    return e.kind() == ErrorKind::unavailable &&
           std::string_view(e.what()).substr(0, 14) == "cannot connect";
}

bool is_unreachable(const Error& e) {
    if (!is_connect_failure(e)) return false;
    std::string_view text = e.what();
    for (std::string_view why : {"Connection refused", "no answer within", "No route to host",
                                 "Network is unreachable", "Connection reset"}) {
        if (text.find(why) != std::string_view::npos) return true;
    }
    return false;
}

int key_slot(std::string_view key) {
    std::size_t open = key.find('{');
    if (open != std::string_view::npos) {
        std::size_t close = key.find('}', open + 1);
        if (close != std::string_view::npos && close > open + 1)
            key = key.substr(open + 1, close - open - 1);
    }
    return crc16(key) % cluster_slots;
}

std::optional<Redirect> parse_redirect(std::string_view message) {
    Redirect r;
    if (message.substr(0, 6) == "MOVED ") {
        message.remove_prefix(6);
    } else if (message.substr(0, 4) == "ASK ") {
        r.ask = true;
        message.remove_prefix(4);
    } else {
        return std::nullopt;
    }
    std::size_t space = message.find(' ');
    std::size_t colon = message.rfind(':');
    if (space == std::string_view::npos || colon == std::string_view::npos || colon < space)
        return std::nullopt;
    try {
        r.slot = std::stoi(std::string(message.substr(0, space)));
        r.port = std::stoi(std::string(message.substr(colon + 1)));
    } catch (const std::exception&) {
        return std::nullopt;
    }
    r.host = std::string(message.substr(space + 1, colon - space - 1));
    if (r.host == "?") r.host.clear();  // Redis 7: endpoint unknown to the sender
    if (r.slot < 0 || r.slot >= cluster_slots || r.port <= 0 || r.port > 65535) return std::nullopt;
    return r;
}

struct Nodes::Pending {
    std::size_t index;
    std::string endpoint;  // empty: the seeds
    bool asking = false;
    int redirects = 0;
    std::vector<std::string> trail;  // nodes the command was sent to
};

Nodes::Nodes(std::vector<ConnectionOptions> seeds) : seeds_(std::move(seeds)) {
    if (seeds_.empty()) throw Error(ErrorKind::internal, "no seed node");
    common_ = seeds_.front();
    common_.sentinel_master.clear();
    const std::string& master = seeds_.front().sentinel_master;
    for (const ConnectionOptions& seed : seeds_) {
        if (seed.sentinel_master != master) {
            throw Error(ErrorKind::usage,
                        master.empty() || seed.sentinel_master.empty()
                            ? "the URLs name both Sentinels and Redis servers; give one kind"
                            : "the Sentinel URLs name different primaries ('" + master + "' and '" +
                                  seed.sentinel_master + "')");
        }
    }
    if (!master.empty()) sentinels_ = std::exchange(seeds_, {});
}

// SENTINEL GET-MASTER-ADDR-BY-NAME on each Sentinel in turn, the one that
// answered last first. A Sentinel that does not know the name says so with
// a nil; one that cannot be reached is skipped.
ConnectionOptions Nodes::ask_sentinels() {
    const std::string& master = sentinels_.front().sentinel_master;
    std::optional<Error> failure;
    std::vector<std::string> unaware;
    for (std::size_t tried = 0; tried < sentinels_.size(); ++tried) {
        std::size_t i = (sentinel_ + tried) % sentinels_.size();
        ConnectionOptions options = sentinels_[i];
        options.db = 0;  // a Sentinel has no databases to select
        Connection sentinel(options);
        Reply reply;
        try {
            reply = sentinel.call({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", master});
        } catch (const Error& e) {
            if (!failure) failure = e;
            continue;
        }
        const redisReply& r = *reply;
        if (r.type == REDIS_REPLY_ARRAY && r.elements == 2 &&
            r.element[0]->type == REDIS_REPLY_STRING && r.element[1]->type == REDIS_REPLY_STRING) {
            int port = std::atoi(r.element[1]->str);
            if (port > 0 && port <= 65535) {
                sentinel_ = i;
                return node_options(std::string(r.element[0]->str, r.element[0]->len), port);
            }
        }
        if (r.type == REDIS_REPLY_NIL) {
            unaware.push_back(sentinel.endpoint());
            continue;
        }
        std::string text =
            r.type == REDIS_REPLY_ERROR ? reply_error_text(r) : "an unexpected reply";
        text.erase(text.find_last_not_of(' ') + 1);
        ErrorKind kind = classify_reply_error(text);
        if (!failure) {
            failure = Error(kind == ErrorKind::internal ? ErrorKind::unavailable : kind,
                            "the Sentinel at " + sentinel.endpoint() + " answered " + text +
                                (kind == ErrorKind::internal ? "; is it a Sentinel?" : ""));
        }
    }
    std::string asked = std::to_string(sentinels_.size()) + " asked";
    if (!unaware.empty()) {
        std::string at;
        for (const std::string& e : unaware) at.append(at.empty() ? "" : ", ").append(e);
        throw Error(ErrorKind::unavailable,
                    "no Sentinel knows a primary named '" + master + "' (asked " + at + ")");
    }
    std::string why = failure->what();
    if (is_connect_failure(*failure))
        throw Error(ErrorKind::unavailable, "no Sentinel of '" + master +
                                                "' could be reached: " + why + " (" + asked + ")");
    throw Error(failure->kind(), why + " (" + asked + ")");
}

bool Nodes::follow_sentinels() {
    if (sentinels_.empty() || seeds_.empty()) return false;
    std::string was = describe_endpoint(seeds_.front());
    ConnectionOptions now;
    try {
        now = ask_sentinels();
    } catch (const Error&) {
        return false;
    }
    if (describe_endpoint(now) == was) return false;
    forget(was);
    seeds_ = {std::move(now)};
    seed_ = 0;
    return true;
}

// A primary that has become a replica refuses writes with READONLY, having
// written nothing: the Sentinels are asked again and the commands go again
// (with their request ids, so nothing can happen twice).
void Nodes::check_writable(const std::vector<Reply>& replies, const std::string& endpoint) {
    if (sentinels_.empty()) return;
    for (const Reply& r : replies) {
        if (r->type == REDIS_REPLY_ERROR && error_text(r).substr(0, 8) == "READONLY") {
            forget(endpoint);
            throw Error(ErrorKind::unavailable,
                        "Redis at " + endpoint + " is a replica now (READONLY): the primary of '" +
                            sentinels_.front().sentinel_master + "' moved",
                        true);
        }
    }
}

Connection& Nodes::connection_to(const ConnectionOptions& options) {
    std::unique_ptr<Connection>& c = connections_[describe_endpoint(options)];
    if (!c) c = std::make_unique<Connection>(options);
    return *c;
}

ConnectionOptions Nodes::node_options(const std::string& host, int port) const {
    ConnectionOptions o = common_;
    o.transport = ConnectionOptions::Transport::tcp;
    o.path.clear();
    o.host = host;
    o.port = port;
    return o;
}

std::string Nodes::route(std::string_view key) const {
    if (slots_.empty() || key.empty()) return "";
    auto known = slots_.find(key_slot(key));
    return known == slots_.end() ? "" : known->second;
}

std::optional<ConnectionOptions> Nodes::owner_options(std::string_view key) const {
    std::string endpoint = route(key);
    if (endpoint.empty()) return std::nullopt;
    return connections_.at(endpoint)->options();
}

std::vector<ConnectionOptions> Nodes::seed_options() {
    if (!sentinels_.empty() && seeds_.empty()) {
        seeds_ = {ask_sentinels()};
        seed_ = 0;
    }
    std::vector<ConnectionOptions> order;
    for (std::size_t i = 0; i < seeds_.size(); ++i)
        order.push_back(seeds_[(seed_ + i) % seeds_.size()]);
    return order;
}

void Nodes::learn(const Redirect& moved) {
    if (moved.ask || moved.host.empty()) return;
    slots_[moved.slot] = connection_to(node_options(moved.host, moved.port)).endpoint();
}

void Nodes::forget(const std::string& endpoint) {
    if (auto it = connections_.find(endpoint); it != connections_.end()) it->second->close();
    if (!sentinels_.empty() && !seeds_.empty() && describe_endpoint(seeds_.front()) == endpoint)
        seeds_.clear();  // behind Sentinels: ask them again
    std::erase_if(slots_, [&endpoint](const auto& slot) { return slot.second == endpoint; });
}

void Nodes::close_all() {
    for (auto& [endpoint, connection] : connections_) connection->close();
}

void Nodes::reset() {
    for (auto& [endpoint, connection] : connections_) connection->close();
    slots_.clear();
    if (!sentinels_.empty()) seeds_.clear();
}

std::vector<Reply> Nodes::on_seed(const std::vector<Command>& commands, std::string& endpoint) {
    if (!sentinels_.empty() && seeds_.empty()) {
        seeds_ = {ask_sentinels()};
        seed_ = 0;
    }
    std::optional<Error> first;
    // Behind Sentinels there is one seed, the primary, which forget() clears.
    const std::size_t count = seeds_.size();
    for (std::size_t tried = 0; tried < count; ++tried) {
        std::size_t i = (seed_ + tried) % count;
        Connection& c = connection_to(seeds_[i]);
        endpoint = c.endpoint();
        bool was_open = c.is_open();
        try {
            std::vector<Reply> replies = c.pipeline(commands);
            seed_ = i;
            return replies;
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::unavailable) forget(endpoint);
            if (was_open || !is_connect_failure(e) || count == 1) throw;
            if (!first) first = e;
        }
    }
    throw Error(ErrorKind::unavailable, std::string(first->what()) +
                                            "; no other seed node answered either (" +
                                            std::to_string(count) + " tried)");
}

std::vector<Reply> Nodes::on_node(const std::string& endpoint,
                                  const std::vector<Command>& commands) {
    try {
        return connections_.at(endpoint)->pipeline(commands);
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::unavailable) forget(endpoint);
        throw;
    }
}

void Nodes::follow(Pending& p, const Redirect& r, const std::string& from, const std::string& key) {
    std::string host = r.host.empty() ? connections_.at(from)->options().host : r.host;
    Connection& to = connection_to(node_options(host, r.port));
    p.trail.push_back(from);
    if (++p.redirects > max_redirects) {
        std::vector<std::string> nodes;
        for (const std::string& n : p.trail) {
            if (std::find(nodes.begin(), nodes.end(), n) == nodes.end()) nodes.push_back(n);
        }
        std::string between;
        for (std::size_t i = 0; i < nodes.size(); ++i) {
            between += (i == 0 ? "" : i + 1 == nodes.size() ? " and " : ", ") + nodes[i];
        }
        throw Error(ErrorKind::unavailable, "gave up on slot " + std::to_string(r.slot) + " (key " +
                                                key + ") after " + std::to_string(max_redirects) +
                                                " redirects: it moved between " + between +
                                                "; the cluster is resharding or misconfigured");
    }
    p.endpoint = to.endpoint();
    p.asking = r.ask;
    if (!r.ask) slots_[r.slot] = p.endpoint;
}

void Nodes::send_group(const std::vector<Routed>& commands, const std::string& endpoint,
                       std::vector<Pending>& group, std::vector<Reply>& replies,
                       std::vector<Pending>& again, std::vector<std::string>* answered_by) {
    std::vector<Command> batch;
    batch.reserve(group.size());
    for (const Pending& p : group) {
        if (p.asking) batch.push_back({"ASKING"});
        batch.push_back(commands[p.index].command);
    }
    std::string used = endpoint;
    std::vector<Reply> raw = endpoint.empty() ? on_seed(batch, used) : on_node(endpoint, batch);
    check_writable(raw, used);
    std::size_t k = 0;
    for (Pending& p : group) {
        if (p.asking) ++k;  // ASKING's +OK
        Reply& reply = raw[k++];
        if (std::optional<Redirect> r = parse_redirect(error_text(reply))) {
            follow(p, *r, used, commands[p.index].key);
            again.push_back(std::move(p));
            continue;
        }
        replies[p.index] = std::move(reply);
        if (answered_by) (*answered_by)[p.index] = used;
    }
}

std::vector<Reply> Nodes::pipeline(const std::vector<Routed>& commands,
                                   std::vector<std::string>* answered_by) {
    std::vector<Reply> replies(commands.size());
    if (answered_by) answered_by->assign(commands.size(), "");
    std::vector<Pending> pending;
    pending.reserve(commands.size());
    for (std::size_t i = 0; i < commands.size(); ++i)
        pending.push_back({i, route(commands[i].key), false, 0, {}});
    while (!pending.empty()) {
        // One pipeline per node, in the order the nodes first appear.
        std::vector<std::string> order;
        std::map<std::string, std::vector<Pending>> groups;
        for (Pending& p : pending) {
            if (!groups.count(p.endpoint)) order.push_back(p.endpoint);
            groups[p.endpoint].push_back(std::move(p));
        }
        std::vector<Pending> again;
        for (const std::string& endpoint : order) {
            send_group(commands, endpoint, groups[endpoint], replies, again, answered_by);
        }
        pending = std::move(again);
    }
    return replies;
}

std::vector<Connection*> Nodes::primaries() {
    std::string endpoint;
    std::vector<Reply> replies = on_seed({{"CLUSTER", "SLOTS"}}, endpoint);
    const redisReply& slots = *replies.front();
    Connection& seed = *connections_.at(endpoint);
    standalone_ = false;
    if (slots.type == REDIS_REPLY_ERROR) {
        std::string text = reply_error_text(slots);
        // No cluster support, or an ACL without CLUSTER: then the seed is all there is.
        standalone_ = text.find("cluster support disabled") != std::string::npos;
        if (standalone_ || classify_reply_error(text) == ErrorKind::refused) return {&seed};
        throw Error(classify_reply_error(text) == ErrorKind::internal ? ErrorKind::unavailable
                                                                      : classify_reply_error(text),
                    "CLUSTER SLOTS failed on " + endpoint + ": " + text);
    }
    std::vector<Connection*> out;
    std::set<std::string> seen;
    for (std::size_t i = 0; slots.type == REDIS_REPLY_ARRAY && i < slots.elements; ++i) {
        const redisReply& range = *slots.element[i];
        if (range.type != REDIS_REPLY_ARRAY || range.elements < 3) continue;
        const redisReply& primary = *range.element[2];  // [host, port, id, ...]
        if (primary.type != REDIS_REPLY_ARRAY || primary.elements < 2) continue;
        std::string host(primary.element[0]->str ? primary.element[0]->str : "",
                         primary.element[0]->len);
        if (host.empty() || host == "?") host = seed.options().host;
        Connection& c =
            connection_to(node_options(host, static_cast<int>(primary.element[1]->integer)));
        if (seen.insert(c.endpoint()).second) out.push_back(&c);
        // The whole map, so that commands for many slots (list's index)
        // go straight to their owners rather than through MOVED each.
        for (long long slot = range.element[0]->integer; slot <= range.element[1]->integer; ++slot)
            slots_[static_cast<int>(slot) % cluster_slots] = c.endpoint();
    }
    if (out.empty()) out.push_back(&seed);  // a cluster with no slots assigned yet
    return out;
}

}  // namespace tbucket
