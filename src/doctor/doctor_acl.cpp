// What the current user may do with buckets (ACL DRYRUN), and whether an
// event published under the prefix reaches a subscriber.

#include <chrono>
#include <optional>
#include <random>
#include <set>

#include "doctor/doctor_checks.h"
#include "redis/subscription.h"

namespace tbucket::doctor {
namespace {

using DoctorClock = std::chrono::steady_clock;

struct Need {
    std::string what;  // "SPUBLISH on tbucket:{doctor}:events"
    Command command;
    bool lease = false;  // only leases need it (run on a semaphore, lease ...)
};

// Every command a tbucket command runs, itself or inside its scripts, with
// the keys and channel of a bucket (README: "The least an ACL user needs").
std::vector<Need> needs(const std::string& key) {
    std::string channel = key + ":events";
    std::string id = key + ":id:doctor";
    std::string leases = key + ":leases", expiries = key + ":lexp";
    // The waiters' queue (SPEC §10): every take --wait and run --wait.
    std::string queue = key + ":q", tickets = key + ":qt", grant = key + ":g:doctor";
    std::string own = key + ":w:doctor";
    std::string sha(40, '0');  // DRYRUN runs nothing: any SHA will do
    return {
        {"EVALSHA on " + key, {"EVALSHA", sha, "2", key, id}},
        {"EVAL on " + key, {"EVAL", "return", "2", key, id}},  // one word: see probe()
        {"HSET on " + key, {"HSET", key, "c", "1"}},           // third: see denials()
        {"HMGET on " + key, {"HMGET", key, "c"}},
        {"DEL on " + key, {"DEL", key}},
        {"PEXPIRE on " + key, {"PEXPIRE", key, "1000"}},
        {"EXISTS on " + key, {"EXISTS", key}},
        {"TYPE on " + key, {"TYPE", key}},
        {"SET on " + id, {"SET", id, "1"}},
        {"GET on " + id, {"GET", id}},
        {"TIME", {"TIME"}},
        {"SCAN", {"SCAN", "0"}},
        {"SPUBLISH on " + channel, {"SPUBLISH", channel, "x"}},
        {"SSUBSCRIBE on " + channel, {"SSUBSCRIBE", channel}},
        {"ZADD on " + queue, {"ZADD", queue, "1", "x"}},
        {"ZRANGE on " + queue, {"ZRANGE", queue, "0", "1"}},
        {"ZRANK on " + queue, {"ZRANK", queue, "x"}},
        {"ZREM on " + queue, {"ZREM", queue, "x"}},
        {"ZSCORE on " + queue, {"ZSCORE", queue, "x"}},
        {"HDEL on " + tickets, {"HDEL", tickets, "x"}},
        {"SET on " + grant, {"SET", grant, "1"}},
        {"SPUBLISH on " + own, {"SPUBLISH", own, "x"}},
        {"SSUBSCRIBE on " + own, {"SSUBSCRIBE", own}},
        {"HGET on " + leases, {"HGET", leases, "x"}, true},
        {"HDEL on " + leases, {"HDEL", leases, "x"}, true},
        {"ZADD on " + expiries, {"ZADD", expiries, "1", "x"}, true},
        {"ZCARD on " + expiries, {"ZCARD", expiries}, true},
        {"ZRANGEBYSCORE on " + expiries, {"ZRANGEBYSCORE", expiries, "0", "1"}, true},
        {"ZREM on " + expiries, {"ZREM", expiries, "x"}, true},
        {"ZSCORE on " + expiries, {"ZSCORE", expiries, "x"}, true},
    };
}

std::string plus_command(const Need& need) {
    std::string command = need.command.front();
    for (char& c : command) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return "+" + command;
}

// The ACL rules that grant what a denial names. A script's "refused" does
// not say why: then both the pattern and the command.
// `keys_ok`: some command on a key under the prefix was allowed, so the
// key pattern is not what is missing.
std::vector<std::string> rules_for(const std::string& denial, const Need& need,
                                   const std::string& prefix, bool keys_ok) {
    if (denial == "refused") {
        bool channel = need.command.front() == "SPUBLISH" || need.command.front() == "SSUBSCRIBE";
        bool key = need.command.size() > 1 && !channel && need.command.front() != "SCAN";
        if (channel) return {"'&" + prefix + "*'", plus_command(need)};
        if (key && !keys_ok) return {"'~" + prefix + "*'", plus_command(need)};
        return {plus_command(need)};
    }
    auto ends_with = [&denial](std::string_view end) {
        return denial.size() >= end.size() &&
               denial.compare(denial.size() - end.size(), end.size(), end) == 0;
    };
    // "... to access the 'tbucket:{doctor}:events' channel" or "... key".
    if (ends_with("' channel")) return {"'&" + prefix + "*'"};
    if (ends_with("' key")) return {"'~" + prefix + "*'"};
    return {plus_command(need)};
}

Check cannot_check(const std::string& node, const std::string& why) {
    return make("acl", CheckStatus::warn, node, "cannot tell the user's rights: " + why,
                "ACL DRYRUN (Redis 7, as a user that may run it) checks them; the pub/sub check "
                "still shows whether events get through");
}

std::string hex_text(uint64_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 16; ++i, n >>= 4) out += digits[n & 15];
    return out;
}

// ACL DRYRUN's answer to each need ("OK" or why not); nullopt with `why`
// set when DRYRUN itself may not run.
std::optional<std::vector<std::string>> dry_run(Connection& server, const std::string& user,
                                                const std::vector<Need>& list, std::string& why) {
    std::vector<Command> dry;
    for (const Need& need : list) {
        Command c{"ACL", "DRYRUN", user};
        c.insert(c.end(), need.command.begin(), need.command.end());
        dry.push_back(std::move(c));
    }
    std::vector<Reply> replies = server.pipeline(dry);
    std::vector<std::string> answers;
    for (const Reply& reply : replies) {
        if (is_error(reply)) {
            why = "ACL DRYRUN failed: " + text_of(*reply);
            return std::nullopt;
        }
        answers.push_back(text_of(*reply));
    }
    return answers;
}

// For a user who may not run ACL DRYRUN (the least rights tbucket needs
// do not include it): Redis 7's redis.acl_check_cmd inside a script, which
// runs nothing either. Commands travel as words in ARGV, no keys declared,
// so any node takes it.
std::optional<std::vector<std::string>> probe(Connection& server, const std::vector<Need>& list,
                                              std::string& why) {
    static const char* script =
        "local out = {}\n"
        "for i, line in ipairs(ARGV) do\n"
        "  local words = {}\n"
        "  for w in string.gmatch(line, '%S+') do words[#words + 1] = w end\n"
        "  local ok, allowed = pcall(redis.acl_check_cmd, unpack(words))\n"
        "  out[i] = (ok and allowed) and 'OK' or 'refused'\n"
        "end\n"
        "return out\n";
    Command eval{"EVAL", script, "0"};
    for (const Need& need : list) {
        std::string line;
        for (const std::string& word : need.command) line += (line.empty() ? "" : " ") + word;
        eval.push_back(line);
    }
    Reply reply = server.call(eval);
    if (is_error(reply) || reply->elements != list.size()) {
        why += "; a script with redis.acl_check_cmd failed too: " +
               (is_error(reply) ? text_of(*reply) : std::string("unexpected reply"));
        return std::nullopt;
    }
    std::vector<std::string> answers;
    for (std::size_t i = 0; i < reply->elements; ++i)
        answers.push_back(text_of(*reply->element[i]));
    return answers;
}

// What is denied, "EVAL on K; SPUBLISH on C (why)", and the rules that grant it.
std::string denials(const std::vector<Need>& list, const std::vector<std::string>& answers,
                    bool lease, const std::string& prefix, std::set<std::string>& rules) {
    bool keys_ok = answers.size() > 2 && answers[2] == "OK";  // HSET on the bucket's key
    std::string denied;
    for (std::size_t i = 0; i < list.size(); ++i) {
        if (answers[i] == "OK" || list[i].lease != lease) continue;
        denied += (denied.empty() ? "" : "; ") + list[i].what +
                  (answers[i] == "refused" ? "" : " (" + answers[i] + ")");
        for (std::string& rule : rules_for(answers[i], list[i], prefix, keys_ok))
            rules.insert(std::move(rule));
    }
    return denied;
}

// FAIL when a bucket command would be refused; WARN when only leases
// would be (a deployment without them needs none of their commands).
Check verdict(const std::string& node, const std::string& user, const std::vector<Need>& list,
              const std::vector<std::string>& answers, const std::string& prefix) {
    std::set<std::string> rules;
    std::string denied = denials(list, answers, false, prefix, rules);
    std::string lease_denied = denials(list, answers, true, prefix, rules);
    std::string who = user.empty() ? "the current user" : "user '" + user + "'";
    if (denied.empty() && lease_denied.empty()) {
        return make("acl", CheckStatus::ok, node,
                    who + " may run every command tbucket needs on " + prefix +
                        "{...} and its events channels",
                    "no bucket command is refused by an ACL");
    }
    std::string fix = user.empty() ? "it needs" : "grant it with: ACL SETUSER " + user;
    for (const std::string& rule : rules) fix += " " + rule;
    if (user.empty()) fix += " (the least an ACL user needs is in tbucket(1))";
    if (denied.empty()) {
        return make(
            "acl", CheckStatus::warn, node,
            who + " may run bucket commands but not what leases need: " + lease_denied,
            "run on a bucket without refill, and lease, fail with NOPERM (exit 77); " + fix);
    }
    if (!lease_denied.empty()) denied += "; and for leases: " + lease_denied;
    return make("acl", CheckStatus::fail, node, who + " may not run: " + denied,
                "bucket commands fail with NOPERM (exit 77) and change nothing; " + fix);
}

// Whether the message `tag` comes on the subscription before `deadline`.
bool arrives(Subscription& subscription, const std::string& tag, DoctorClock::time_point deadline) {
    while (DoctorClock::now() < deadline) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - DoctorClock::now());
        Subscription::Event event = subscription.next(std::max<int64_t>(left.count(), 1), -1);
        if (event.kind == Subscription::Event::Kind::message && event.payload == tag) return true;
    }
    return false;
}

}  // namespace

Check check_acl(Connection& server, const std::string& prefix) {
    std::string node = server.endpoint();
    std::vector<Need> list = needs(prefix + "{doctor}");
    Reply whoami = server.call({"ACL", "WHOAMI"});
    std::string user = is_error(whoami) ? "" : text_of(*whoami);
    std::string why = "ACL WHOAMI failed: " + text_of(*whoami);
    if (is_error(whoami) && why.find("unknown command") != std::string::npos) {
        return make("acl", CheckStatus::info, node, "no ACL users (Redis before 6)",
                    "whoever has the password may do everything");
    }
    std::optional<std::vector<std::string>> answers;
    if (!user.empty()) answers = dry_run(server, user, list, why);
    if (!answers) answers = probe(server, list, why);
    if (!answers) return cannot_check(node, why);
    return verdict(node, user, list, *answers, prefix);
}

Check check_pubsub(Nodes& nodes, const DoctorOptions& options, const std::vector<bool>& live) {
    std::random_device random;
    std::string tag, key;
    // A fresh random channel in a live slot (tries are independent, so a
    // handful find one unless nearly every slot is down).
    for (int tries = 0; tries < 1000; ++tries) {
        tag = "doctor-" + hex_text((uint64_t(random()) << 32) | random());
        key = options.prefix + "{" + tag + "}";
        if (live.empty() || live[key_slot(key)]) break;
    }
    std::string channel = key + ":events";
    Subscription subscription(nodes, key);
    try {
        subscription.open();
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::refused && e.kind() != ErrorKind::unavailable) throw;
        return make("pubsub", CheckStatus::fail, "", e.what(),
                    "waiters (take --wait, watch, run --wait) cannot hear changes: they wake only "
                    "when refill would be enough, and a put or delete wakes nobody");
    }
    const char* publish = subscription.sharded() ? "SPUBLISH" : "PUBLISH";
    std::string how = subscription.sharded() ? "SSUBSCRIBE + SPUBLISH" : "SUBSCRIBE + PUBLISH";
    auto start = DoctorClock::now();
    Reply sent = std::move(nodes.pipeline({{key, {publish, channel, tag}}}).front());
    if (is_error(sent)) {
        return make("pubsub", CheckStatus::fail, "",
                    std::string(publish) + " refused: " + text_of(*sent),
                    "every change publishes its new state, so bucket changes fail too; allow " +
                        std::string(publish) + " on " + options.prefix + "*");
    }
    auto deadline = start + std::chrono::milliseconds(options.pubsub_timeout_ms);
    if (arrives(subscription, tag, deadline)) {
        double ms = std::chrono::duration<double, std::milli>(DoctorClock::now() - start).count();
        char took[64];
        std::snprintf(took, sizeof took, " delivered in %.2fms", ms);
        return make("pubsub", CheckStatus::ok, "", how + took,
                    "waiters wake as soon as a bucket changes");
    }
    long long receivers = sent->type == REDIS_REPLY_INTEGER ? sent->integer : -1;
    return make(
        "pubsub", CheckStatus::fail, "",
        how + ": published on " + channel + " (Redis counted " + std::to_string(receivers) +
            (receivers == 1 ? " receiver" : " receivers") + ") but nothing arrived within " +
            std::to_string(options.pubsub_timeout_ms) + "ms",
        "something in between (a proxy?) drops pub/sub: waiters wake only when refill "
        "would be enough, and a put or delete wakes nobody; connect tbucket to Redis itself");
}

}  // namespace tbucket::doctor
