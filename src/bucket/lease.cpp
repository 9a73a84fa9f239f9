#include "bucket/lease.h"

#include <sys/random.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>

#include "bucket/script.h"
#include "redis/reply_read.h"

namespace tbucket {
namespace {

const redisReply& checked(const Reply& reply, const std::string& name) {
    if (reply->type == REDIS_REPLY_ERROR) throw script_error(*reply, name);
    return *reply;
}

State answered_state(const redisReply& reply, const std::string& name, std::string node) {
    State state = parse_state(reply, name);
    state.node = std::move(node);
    state.leased = number_at(reply, 6);
    return state;
}

std::string percent_decoded(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() &&
            std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
            out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

// "<tokens> <fence> <since ms> <ttl ms> <host> <pid>[ <note>]"
LeaseInfo parse_record(const std::string& id, const std::string& record, int64_t ends_in_ms) {
    LeaseInfo info;
    info.id = id;
    long long tokens = 0, fence = 0, since = 0, ttl = 0, pid = 0;
    char host[256] = {0}, note[1024] = {0};
    int fields = std::sscanf(record.c_str(), "%lld %lld %lld %lld %255s %lld %1023s", &tokens,
                             &fence, &since, &ttl, host, &pid, note);
    if (fields < 6)
        throw Error(ErrorKind::data, "a lease record is not a tbucket lease's; left untouched");
    info.note = percent_decoded(note);
    info.tokens = tokens;
    info.fence = fence;
    info.since_ms = since;
    info.ttl_ms = ttl;
    info.host = host;
    info.pid = pid;
    info.ends_in_ms = ends_in_ms;
    return info;
}

}  // namespace

std::string new_lease_id() {
    unsigned char bytes[12];
    if (getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes))
        throw Error(ErrorKind::internal, "cannot read random bytes for a lease id");
    std::string id;
    static const char hex[] = "0123456789abcdef";
    for (unsigned char b : bytes) {
        id += hex[b >> 4];
        id += hex[b & 15];
    }
    return id;
}

bool valid_lease_id(std::string_view id) {
    if (id.size() != 24) return false;
    for (char c : id) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

std::string lease_holder(long pid, const std::string& note) {
    char host[256] = {0};
    if (gethostname(host, sizeof host - 1) != 0 || !host[0])
        std::snprintf(host, sizeof host, "unknown");
    // The script takes a host of letters, digits, '.', '-' and '_'.
    for (char* c = host; *c; ++c) {
        bool fine = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                    (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_';
        if (!fine) *c = '_';
    }
    std::string holder = std::string(host) + " " + std::to_string(pid);
    if (note.empty()) return holder;
    // One word for the record: letters, digits and . _ - ~ as they are,
    // every other byte as %XX.
    holder += ' ';
    static const char hex[] = "0123456789ABCDEF";
    for (unsigned char c : note) {
        if (std::isalnum(c) || c == '.' || c == '_' || c == '-' || c == '~') {
            holder += static_cast<char>(c);
        } else {
            holder += '%';
            holder += hex[c >> 4];
            holder += hex[c & 15];
        }
    }
    return holder;
}

RenewResult renew_lease(Client& client, const std::string& name, const std::string& id,
                        int64_t ttl_ms, std::optional<int64_t> window_ms, const HeldLease* mine) {
    std::string node;
    std::vector<std::string> args{id, std::to_string(ttl_ms)};
    if (mine) {
        args.insert(args.end(), {std::to_string(mine->fence), std::to_string(mine->tokens),
                                 std::to_string(mine->capacity), mine->holder});
    }
    // Indexed: a bucket re-created by a re-assert is listed.
    Reply answer = client.run_change(scripts::lease_renew_script, name, std::move(args), node,
                                     mine != nullptr, window_ms);
    const redisReply& reply = checked(answer, name);
    RenewResult result;
    result.state = answered_state(reply, name, std::move(node));
    std::string outcome = string_at(reply, 7);
    if (outcome == "renewed") result.outcome = RenewOutcome::renewed;
    if (outcome == "reasserted") result.outcome = RenewOutcome::reasserted;
    if (outcome == "taken") result.outcome = RenewOutcome::taken;
    return result;
}

ReleaseResult release_lease(Client& client, const std::string& name, const std::string& id) {
    std::string node;
    Reply answer = client.run_change(scripts::lease_release_script, name, {id}, node);
    const redisReply& reply = checked(answer, name);
    ReleaseResult result;
    result.state = answered_state(reply, name, std::move(node));
    std::string outcome = string_at(reply, 7);
    if (outcome == "released") result.outcome = ReleaseOutcome::released;
    if (outcome == "already") result.outcome = ReleaseOutcome::already;
    if (outcome == "expired") result.outcome = ReleaseOutcome::expired;
    result.added = number_at(reply, 8);
    return result;
}

LeaseList list_leases(Client& client, const std::string& name) {
    std::vector<std::string> by;
    std::vector<Reply> replies = run_scripts(
        client.nodes(), {ScriptCall{&scripts::lease_list_script, client.key(name), {}}}, &by);
    const redisReply& reply = checked(replies.front(), name);
    LeaseList list;
    list.state = answered_state(reply, name, std::move(by.front()));
    for (std::size_t i = 7; i < reply.elements; ++i) {
        const redisReply& lease = element(reply, i);
        list.leases.push_back(
            parse_record(string_at(lease, 0), string_at(lease, 1), integer_at(lease, 2)));
    }
    return list;
}

}  // namespace tbucket
