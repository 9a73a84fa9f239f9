#include "script.h"

#include <cstdio>
#include <cstdlib>

#include "error.h"
#include "parse.h"

namespace tbucket {

Command script_command(const ScriptCall& call, bool by_sha) {
    Command command;
    command.reserve(4 + call.args.size());
    command.emplace_back(by_sha ? "EVALSHA" : "EVAL");
    command.emplace_back(by_sha ? call.script->sha1 : call.script->source);
    command.emplace_back("1");
    command.push_back(call.key);
    command.insert(command.end(), call.args.begin(), call.args.end());
    return command;
}

bool is_noscript(const Reply& reply) {
    return reply->type == REDIS_REPLY_ERROR &&
           std::string_view(reply->str, reply->len).substr(0, 8) == "NOSCRIPT";
}

std::string describe_settings(const Settings& s) {
    std::string out = "capacity " + std::to_string(s.capacity);
    out += s.rate ? ", rate " + format_rate(*s.rate) : ", no refill";
    if (s.expire_ms) out += ", expire " + format_exact_ms(*s.expire_ms);
    return out;
}

namespace {

std::string settings_text(std::string_view detail) {
    // detail: "<capacity> <amount|-> <period_ms> <expire_ms>"
    char amount[64] = {0};
    long long capacity = 0, period = 0, expire = 0;
    std::string d(detail);
    if (std::sscanf(d.c_str(), "%lld %63s %lld %lld", &capacity, amount, &period, &expire) != 4)
        return d;
    Settings s{capacity, std::nullopt, std::nullopt};
    if (std::string_view(amount) != "-") s.rate = Rate{std::strtod(amount, nullptr), period};
    if (expire > 0) s.expire_ms = expire;
    return describe_settings(s);
}

}  // namespace

std::vector<Reply> run_scripts(Nodes& nodes, const std::vector<ScriptCall>& calls,
                               std::vector<std::string>* answered_by) {
    std::vector<Routed> commands;
    commands.reserve(calls.size());
    for (const ScriptCall& call : calls) commands.push_back({call.key, script_command(call, true)});
    std::vector<Reply> replies = nodes.pipeline(commands, answered_by);
    std::vector<Routed> retry;
    std::vector<std::size_t> retry_index;
    for (std::size_t i = 0; i < replies.size(); ++i) {
        if (!is_noscript(replies[i])) continue;
        retry.push_back({calls[i].key, script_command(calls[i], false)});
        retry_index.push_back(i);
    }
    if (retry.empty()) return replies;
    std::vector<std::string> retry_by;
    std::vector<Reply> again = nodes.pipeline(retry, answered_by ? &retry_by : nullptr);
    for (std::size_t i = 0; i < again.size(); ++i) {
        replies[retry_index[i]] = std::move(again[i]);
        if (answered_by) (*answered_by)[retry_index[i]] = std::move(retry_by[i]);
    }
    return replies;
}

Error script_error(const redisReply& reply, std::string_view name) {
    std::string text = reply_error_text(reply);
    std::size_t space = text.find(' ');
    std::string code = text.substr(0, space);
    std::string detail = space == std::string::npos ? "" : text.substr(space + 1);
    std::string bucket = "bucket '" + std::string(name) + "'";
    if (code == "TBNOTFOUND")
        return Error(ErrorKind::not_found, "no such bucket: " + std::string(name));
    if (code == "TBEXISTS") {
        return Error(ErrorKind::exists,
                     bucket + " exists with other settings (" + settings_text(detail) + ")");
    }
    if (code == "TBIMPOSSIBLE") {
        return Error(ErrorKind::impossible,
                     "more tokens asked than " + bucket + " can hold (capacity " + detail + ")");
    }
    if (code == "TBDATA") return Error(ErrorKind::data, detail);
    if (code == "TBUSAGE") return Error(ErrorKind::usage, detail);
    ErrorKind kind = classify_reply_error(text);
    if (kind == ErrorKind::refused) {
        return Error(kind, "Redis refused the command on " + bucket + ": " + text);
    }
    return Error(kind, "Redis error on " + bucket + ": " + text);
}

}  // namespace tbucket
