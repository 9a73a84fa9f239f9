#include "bucket/names.h"

#include <fnmatch.h>

#include <algorithm>
#include <array>

#include "util/error.h"

namespace tbucket {
namespace {

constexpr std::string_view base_tag = "@@@@";
constexpr std::size_t batch = 1000;  // commands per pipeline

int tag_slot(std::string_view tag) {
    std::string key;
    key.reserve(tag.size() + 2);
    key.append(1, '{').append(tag).append(1, '}');
    return key_slot(key);
}

// CRC16 with a zero start is linear over GF(2) for messages of one length:
// slot(base ^ x) = slot(base) ^ L(x). The 16 bits of x are the low nibbles
// of the 4 characters; their images span the 14 bits of a slot. `basis[b]`
// is a vector with highest bit b, `combo[b]` the bits of x that make it.
struct Solver {
    std::array<int, 14> basis{};
    std::array<int, 14> combo{};
    int base = tag_slot(base_tag);

    Solver() {
        for (int j = 0; j < 16; ++j) {
            std::string t(base_tag);
            t[j / 4] = static_cast<char>(t[j / 4] ^ (1 << (j % 4)));
            int v = tag_slot(t) ^ base, c = 1 << j;
            for (int b = 13; b >= 0 && v; --b) {
                if (!(v >> b & 1)) continue;
                if (!basis[b]) {
                    basis[b] = v, combo[b] = c;
                    break;
                }
                v ^= basis[b], c ^= combo[b];
            }
        }
    }
};

std::string literal_prefix(const std::string& pattern) {
    return pattern.substr(0, pattern.find_first_of("*?[\\"));
}

std::string marker(const std::string& prefix) {
    return prefix + "names:complete";
}

// The marker's value when names:all is complete too (see names.h).
constexpr std::string_view both_complete = "2";

// Sends the commands in pipelines of `batch`; error replies are left to the caller.
std::vector<Reply> send(Nodes& nodes, const std::vector<Routed>& commands) {
    std::vector<Reply> replies;
    for (std::size_t i = 0; i < commands.size(); i += batch) {
        std::vector<Routed> part(commands.begin() + i,
                                 commands.begin() + std::min(commands.size(), i + batch));
        for (Reply& r : nodes.pipeline(part)) replies.push_back(std::move(r));
    }
    return replies;
}

}  // namespace

std::string slot_tag(int slot) {
    static const Solver solver;
    int want = (slot % cluster_slots) ^ solver.base, x = 0;
    for (int b = 13; b >= 0; --b) {
        if (!(want >> b & 1)) continue;
        if (!solver.basis[b])
            throw Error(ErrorKind::internal, "no tag for slot " + std::to_string(slot));
        want ^= solver.basis[b], x ^= solver.combo[b];
    }
    std::string tag(base_tag);
    for (int j = 0; j < 16; ++j) {
        if (x >> j & 1) tag[j / 4] = static_cast<char>(tag[j / 4] ^ (1 << (j % 4)));
    }
    return tag;
}

std::string index_key_of(std::string_view bucket_key) {
    std::string_view prefix = bucket_key.substr(0, bucket_key.rfind('{'));
    return std::string(prefix) + "names:{" + slot_tag(key_slot(bucket_key)) + "}";
}

std::string all_names_key(const std::string& prefix) {
    return prefix + "names:all";
}

bool index_complete(Nodes& nodes, const std::string& prefix, bool one_set) {
    std::vector<Reply> r = nodes.pipeline({{marker(prefix), {"GET", marker(prefix)}}});
    const redisReply& m = *r.front();
    if (m.type != REDIS_REPLY_STRING) return false;
    return !one_set || std::string_view(m.str, m.len) == both_complete;
}

std::vector<std::string> indexed_names(Nodes& nodes, const std::string& prefix,
                                       const std::string& pattern, bool one_set) {
    std::string lit = literal_prefix(pattern);
    std::string lo = lit.empty() ? "-" : "[" + lit, hi = lit.empty() ? "+" : "(" + lit + "\xff";
    std::vector<Routed> commands;
    if (one_set) {
        std::string key = all_names_key(prefix);
        commands.push_back({key, {"ZRANGEBYLEX", key, lo, hi}});
    } else {
        commands.reserve(cluster_slots);
        for (int slot = 0; slot < cluster_slots; ++slot) {
            std::string key = prefix + "names:{" + slot_tag(slot) + "}";
            commands.push_back({key, {"ZRANGEBYLEX", key, lo, hi}});
        }
    }
    std::vector<std::string> names;
    for (const Reply& r : send(nodes, commands)) {
        if (r->type == REDIS_REPLY_ERROR) {
            std::string text = reply_error_text(*r);
            throw Error(classify_reply_error(text), "reading the index of names failed: " + text);
        }
        for (std::size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; ++i) {
            std::string name(r->element[i]->str, r->element[i]->len);
            if (glob_match(pattern, name)) names.push_back(std::move(name));
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

void index_names(Nodes& nodes, const std::string& prefix, const std::vector<std::string>& names,
                 bool complete, bool one_set) {
    std::vector<Routed> commands;
    for (const std::string& name : names) {
        std::string key = index_key_of(prefix + "{" + name + "}");
        commands.push_back({key, {"ZADD", key, "0", name}});
    }
    if (one_set) {
        std::string all = all_names_key(prefix);
        for (std::size_t i = 0; i < names.size(); i += batch) {
            Command add{"ZADD", all};
            for (std::size_t j = i; j < std::min(names.size(), i + batch); ++j) {
                add.emplace_back("0");
                add.push_back(names[j]);
            }
            commands.push_back({all, std::move(add)});
        }
    }
    // Batch by batch, stopping at the first refusal: a read-only user's
    // list pays for one refused batch, not for a million.
    for (std::size_t i = 0; i < commands.size(); i += batch) {
        std::vector<Routed> part(commands.begin() + i,
                                 commands.begin() + std::min(commands.size(), i + batch));
        for (const Reply& r : nodes.pipeline(part)) {
            if (r->type == REDIS_REPLY_ERROR) return;
        }
    }
    if (complete) {
        std::string value(one_set ? both_complete : "1");
        nodes.pipeline({{marker(prefix), {"SET", marker(prefix), value}}});
    }
}

void unindex_names(Nodes& nodes, const std::string& prefix, const std::vector<std::string>& names,
                   bool one_set) {
    std::vector<Routed> commands;
    const std::string all = all_names_key(prefix);
    for (const std::string& name : names) {
        std::string key = index_key_of(prefix + "{" + name + "}");
        commands.push_back({key, {"ZREM", key, name}});
        if (one_set) commands.push_back({all, {"ZREM", all, name}});
    }
    send(nodes, commands);
}

bool glob_match(const std::string& pattern, const std::string& name) {
    return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

}  // namespace tbucket
