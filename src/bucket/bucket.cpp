#include "bucket/bucket.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <thread>

#include "bucket/names.h"
#include "bucket/script.h"
#include "redis/reply_read.h"

namespace tbucket {
namespace {

// A script's reply, or the Error its error reply stands for. `asked`: the
// settings the caller wanted, named when the bucket has others.
const redisReply& checked(const Reply& reply, const std::string& name,
                          const Settings* asked = nullptr) {
    if (reply->type != REDIS_REPLY_ERROR) return *reply;
    Error error = script_error(*reply, name);
    if (error.kind() != ErrorKind::exists || !asked) throw error;
    throw Error(ErrorKind::exists, std::string(error.what()) + "; asked for " +
                                       describe_settings(*asked) +
                                       " (create --update or --replace changes it)");
}

std::vector<std::string> settings_args(const std::optional<Settings>& settings) {
    if (!settings) return {"", "", "", ""};
    const Settings& s = *settings;
    if (s.window) {
        return {std::to_string(s.capacity), window_wire(*s.window), "",
                s.expire_ms ? std::to_string(*s.expire_ms) : ""};
    }
    return {std::to_string(s.capacity), s.rate ? format_amount(s.rate->amount) : "",
            s.rate ? std::to_string(s.rate->period_ms) : "",
            s.expire_ms ? std::to_string(*s.expire_ms) : ""};
}

std::string escape_glob(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

}  // namespace

// A State built elsewhere than parse_state may hold a non-finite level;
// converting one to an integer is undefined, so it shows as nothing there.
int64_t State::available() const {
    if (!std::isfinite(tokens)) return 0;
    return static_cast<int64_t>(std::floor(
        std::clamp(tokens, -static_cast<double>(max_count), static_cast<double>(max_count))));
}

const char* kind_name(const std::optional<Rate>& rate, const std::optional<Window>& window) {
    return rate ? "rate" : window ? "window" : "semaphore";
}

std::string window_wire(const Window& w) {
    std::string text(1, '@');
    text.append(format_window(w));
    if (!w.zone.empty()) text.append(1, ',').append(w.zone);
    return text;
}

std::optional<Window> parse_window_wire(std::string_view text, int64_t* end_ms) {
    if (text.empty() || text.front() != '@') return std::nullopt;
    std::string rest(text.substr(1));
    std::vector<std::string> parts;
    for (std::size_t at = 0;;) {
        std::size_t comma = rest.find(',', at);
        parts.push_back(rest.substr(at, comma - at));
        if (comma == std::string::npos) break;
        at = comma + 1;
    }
    std::size_t i = 0;
    if (end_ms) {
        if (parts.size() < 2)
            throw Error(ErrorKind::internal, "unexpected window in a reply: " + rest);
        *end_ms = std::llround(std::strtod(parts[i++].c_str(), nullptr));
    }
    if (parts.size() < i + 1 || parts.size() > i + 2)
        throw Error(ErrorKind::internal, "unexpected window in a reply: " + rest);
    return parse_window(parts[i], parts.size() > i + 1 ? parts[i + 1] : "");
}

std::optional<int64_t> State::resets_in_ms() const {
    if (!window) return std::nullopt;
    return std::max<int64_t>(0, window_end_ms - server_time_us / 1000);
}

std::optional<int64_t> State::ms_until(double n) const {
    if (!std::isfinite(tokens)) return std::nullopt;
    if (tokens >= n) return 0;
    if (window) {
        // Full again when the window ends (less what is held for waiters
        // then: they look again).
        if (n > static_cast<double>(capacity)) return std::nullopt;
        return std::max<int64_t>(1, *resets_in_ms());
    }
    if (!rate || n > static_cast<double>(capacity)) return std::nullopt;
    // Mirror the script's refill, t + elapsed_us * r / (p * 1000), so that
    // waiting the returned time really brings n tokens despite rounding.
    const double per = static_cast<double>(rate->period_ms) * 1000;
    double us = std::ceil((n - tokens) * per / rate->amount);
    for (int i = 0; i < 8 && tokens + us * rate->amount / per < n; ++i) us += 1;
    double ms = std::ceil(us / 1000);
    // Beyond 100 years the server clock itself runs out of exact
    // microseconds (2^53 µs is the year 2255): call that never.
    if (!(ms <= static_cast<double>(max_duration_ms))) return std::nullopt;
    return static_cast<int64_t>(ms);
}

std::optional<int64_t> State::full_in_ms() const {
    if (!std::isfinite(tokens)) return std::nullopt;
    if (tokens >= static_cast<double>(capacity)) return 0;
    return ms_until(static_cast<double>(capacity));
}

State parse_state(const redisReply& reply, const std::string& name) {
    State s;
    s.name = name;
    s.tokens = number_at(reply, 0);
    s.capacity = integer_at(reply, 1);
    std::string amount = string_at(reply, 2);
    if (amount.starts_with('@')) {
        s.window = parse_window_wire(amount, &s.window_end_ms);
    } else if (!amount.empty()) {
        s.rate = Rate{number_at(reply, 2), integer_at(reply, 3)};
    }
    if (int64_t expire = integer_at(reply, 4); expire > 0) s.expire_ms = expire;
    s.server_time_us = integer_at(reply, 5);
    return s;
}

namespace {
// A counter field as the script read it: '' when nothing was counted yet.
double count_at(const redisReply& reply, std::size_t i) {
    return string_at(reply, i).empty() ? 0 : number_at(reply, i);
}
}  // namespace

// info's reply after the state: leased tokens, leases, waiters queued,
// then the counters.
void parse_counters(const redisReply& reply, State& state) {
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements < 14) return;  // an older server script
    state.leased = number_at(reply, 6);
    state.lease_count = integer_at(reply, 7);
    state.queued = integer_at(reply, 8);
    auto whole = [&reply](std::size_t i) { return std::llround(count_at(reply, i)); };
    state.counters = Counters{whole(9), whole(10), whole(11), count_at(reply, 12), whole(13), 0, 0};
    if (reply.elements > 14) state.counters->leases_expired = whole(14);
    if (reply.elements > 15) state.counters->leases_lost = whole(15);
    if (reply.elements > 16) state.counters->data_losses = whole(16);
}

Client::Client(ConnectionOptions options, std::string prefix)
    : Client(std::vector<ConnectionOptions>{std::move(options)}, std::move(prefix)) {}

Client::Client(std::vector<ConnectionOptions> seeds, std::string prefix)
    : nodes_(std::move(seeds)),
      prefix_(std::move(prefix)),
      retry_window_ms_(retry_window_ms(nodes_.common_options())) {}

// The one retry loop of SPEC §8. A change carries a request id; when the
// connection fails after it was sent, it goes again with the same id (on a
// new connection, to whichever node now owns the key) until the retry
// window has passed. The server runs an id at most once and answers a
// repeat with the first reply, so the answer that finally comes is true.
std::vector<Reply> Client::run_changes(const std::vector<ScriptCall>& calls,
                                       std::vector<std::string>& by, int64_t window_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(window_ms);
    bool sent = false;
    std::vector<ScriptCall> durable_calls;
    if (durable_ > 0) {
        // The WAIT must answer before the socket's I/O timeout does.
        int64_t wait_ms = std::max<int64_t>(100, nodes_.common_options().io_timeout_ms * 3 / 4);
        durable_calls = calls;
        for (ScriptCall& c : durable_calls) {
            c.wait_replicas = durable_;
            c.wait_ms = wait_ms;
        }
    }
    const std::vector<ScriptCall>& sending = durable_ > 0 ? durable_calls : calls;
    for (int64_t pause = 0;; pause = std::clamp<int64_t>(pause * 2, 50, 1000)) {
        try {
            std::vector<Reply> replies = run_scripts(nodes_, sending, &by);
            // A slot being migrated holds the bucket but not yet its id key:
            // Redis Cluster answers TRYAGAIN without running the script.
            bool again = std::any_of(replies.begin(), replies.end(), [](const Reply& r) {
                return r->type == REDIS_REPLY_ERROR &&
                       std::string_view(r->str, r->len).substr(0, 8) == "TRYAGAIN";
            });
            if (!again || Clock::now() + std::chrono::milliseconds(pause) >= deadline)
                return replies;
            std::this_thread::sleep_for(std::chrono::milliseconds(std::max<int64_t>(pause, 10)));
            continue;
        } catch (const Error& e) {
            sent = sent || e.maybe_done();
            // Never reached a server: nothing happened. Behind Sentinels a
            // primary that cannot be reached is likely being replaced: the
            // Sentinels are asked again until the window has passed.
            bool failing_over = !nodes_.sentinel_master().empty() && is_unreachable(e) &&
                                Clock::now() + std::chrono::milliseconds(pause) < deadline;
            if (!sent && failing_over) {
                std::this_thread::sleep_for(
                    std::chrono::milliseconds(std::max<int64_t>(pause, 50)));
                continue;
            }
            if (!sent) throw;
            std::string unknown = std::string(e.what()) + "; whether it happened is unknown";
            if (e.kind() != ErrorKind::unavailable) throw Error(e.kind(), unknown, true);
            if (Clock::now() + std::chrono::milliseconds(pause) >= deadline) {
                throw Error(ErrorKind::unavailable,
                            unknown + " (asked again for " + format_exact_ms(window_ms) +
                                " with the same request id)",
                            true);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(pause));
        }
    }
}

Reply Client::run_change(const Script& script, const std::string& name,
                         std::vector<std::string> args, std::string& node, bool indexed,
                         std::optional<int64_t> window_ms) {
    int64_t window = window_ms.value_or(retry_window_ms_);
    std::vector<std::string> by;
    std::vector<Reply> replies = run_changes(
        {change_call(script, key(name), std::move(args), 2 * window, indexed)}, by, window);
    node = std::move(by.front());
    return std::move(replies.front());
}

Reply Client::run_change_many(const Script& script, const std::vector<std::string>& names,
                              std::vector<std::string> args, std::string& node) {
    ScriptCall call =
        change_call(script, key(names.front()), std::move(args), 2 * retry_window_ms_);
    for (std::size_t i = 1; i < names.size(); ++i) call.more_keys.push_back(key(names[i]));
    std::vector<std::string> by;
    std::vector<Reply> replies = run_changes({std::move(call)}, by, retry_window_ms_);
    node = std::move(by.front());
    return std::move(replies.front());
}

CreateResult Client::create(const std::string& name, const Settings& settings,
                            std::optional<int64_t> tokens, CreateMode mode,
                            int64_t restart_grace_ms) {
    std::vector<std::string> args = settings_args(settings);
    args.push_back(tokens ? std::to_string(*tokens) : "");
    args.emplace_back(mode == CreateMode::update    ? "update"
                      : mode == CreateMode::replace ? "replace"
                                                    : "");
    if (restart_grace_ms > 0) args.push_back(std::to_string(restart_grace_ms));
    std::string node;
    Reply answer = run_change(scripts::create_script, name, std::move(args), node, true);
    const redisReply& reply = checked(answer, name, &settings);
    CreateResult result{parse_state(reply, name)};
    result.state.node = std::move(node);
    std::string outcome = string_at(reply, 6);
    if (outcome == "created") result.outcome = CreateOutcome::created;
    if (outcome == "updated") result.outcome = CreateOutcome::updated;
    if (outcome == "replaced") result.outcome = CreateOutcome::replaced;
    return result;
}

const char* mode_name(TakeMode mode) {
    switch (mode) {
        case TakeMode::all:
            return "all";
        case TakeMode::partial:
            return "partial";
        case TakeMode::check:
            return "check";
        case TakeMode::wait_all:
            return "wait-all";
        case TakeMode::wait_check:
            return "wait-check";
    }
    return "all";
}

std::vector<std::string> take_args(int64_t n, TakeMode mode,
                                   const std::optional<Settings>& create_with,
                                   const LeaseSpec* lease) {
    std::vector<std::string> args{std::to_string(n), mode_name(mode)};
    for (std::string& a : settings_args(create_with)) args.push_back(std::move(a));
    if (lease) {
        args.push_back(lease->id);
        args.push_back(std::to_string(lease->ttl_ms));
        args.push_back(lease->holder);
        args.emplace_back(lease->required ? "l" : "a");
        if (lease->restart_grace_ms > 0) args.push_back(std::to_string(lease->restart_grace_ms));
    }
    return args;
}

TakeResult take_result(const Reply& answer, std::string node, const std::string& name, int64_t n,
                       TakeMode mode, const std::optional<Settings>& create_with, ReplyTail tail) {
    const redisReply& reply = checked(answer, name, create_with ? &*create_with : nullptr);
    return read_take(reply, std::move(node), name, n, mode, tail);
}

TakeResult read_take(const redisReply& reply, std::string node, const std::string& name, int64_t n,
                     TakeMode mode, ReplyTail tail) {
    TakeResult result;
    result.state = parse_state(reply, name);
    result.requested = n;
    result.taken = integer_at(reply, 6);
    result.state.node = std::move(node);
    // The lease and queue part comes only when there is one (and not from
    // an id stored by a version before leases).
    if (reply.elements > 9) {
        result.state.leased = number_at(reply, 7);
        if (int64_t next = integer_at(reply, 8); next > 0) result.next_lease_end_ms = next;
        result.fence = integer_at(reply, 9);
    }
    if (reply.elements > 11) {
        result.queued_ahead = std::max<int64_t>(0, integer_at(reply, 10));
        result.queued_tokens = number_at(reply, 11);
    }
    std::size_t grace_at = tail == ReplyTail::place ? 13 : 12;
    if (tail == ReplyTail::holders) {
        if (reply.elements > 13) {
            result.leases_held = integer_at(reply, 12);
            result.next_holder = string_at(reply, 13);
        }
        grace_at = 14;
    }
    if (reply.elements > grace_at) result.grace_ms = integer_at(reply, grace_at);
    double wanted = mode == TakeMode::partial ? 1.0 : static_cast<double>(n);
    result.retry_after_ms = result.ok() ? 0 : result.state.ms_until(wanted);
    if (!result.ok() && result.queued_ahead > 0 && result.state.window) {
        // Those queued are served first, when the window ends.
        result.retry_after_ms =
            result.state.ms_until(std::min<double>(wanted, result.state.capacity));
    } else if (!result.ok() && !result.state.rate &&
               (result.queued_ahead > 0 || (result.state.tokens < wanted &&
                                            wanted <= result.state.tokens + result.state.leased))) {
        // A semaphore: only a put or a lease's end brings tokens (and those
        // queued are served first): the earliest is the next lease's end,
        // if one is held.
        result.retry_after_ms = result.next_lease_end_ms;
    } else if (!result.ok() && result.queued_ahead > 0) {
        // Those queued are served first: when the refill has brought theirs too.
        const Rate& r = *result.state.rate;
        double missing = result.queued_tokens + wanted - result.state.tokens;
        double ms = std::ceil(std::max(0.0, missing) * static_cast<double>(r.period_ms) / r.amount);
        result.retry_after_ms = ms <= static_cast<double>(max_duration_ms)
                                    ? std::optional<int64_t>(static_cast<int64_t>(ms))
                                    : std::nullopt;
    }
    // Held for holders re-asserting after a loss: nothing before its end.
    if (!result.ok() && result.grace_ms) {
        result.retry_after_ms = std::max(*result.grace_ms, result.retry_after_ms.value_or(0));
    }
    return result;
}

std::vector<std::string> put_args(int64_t n, bool force,
                                  const std::optional<Settings>& create_with) {
    std::vector<std::string> args{std::to_string(n), force ? "1" : "0"};
    for (std::string& a : settings_args(create_with)) args.push_back(std::move(a));
    return args;
}

PutResult put_result(const Reply& answer, std::string node, const std::string& name,
                     const std::optional<Settings>& create_with) {
    const redisReply& reply = checked(answer, name, create_with ? &*create_with : nullptr);
    PutResult result{parse_state(reply, name), number_at(reply, 6), number_at(reply, 7)};
    result.state.node = std::move(node);
    return result;
}

TakeResult Client::take(const std::string& name, int64_t n, TakeMode mode,
                        const std::optional<Settings>& create_with, const LeaseSpec* lease) {
    std::string node;
    auto asked_at = std::chrono::steady_clock::now();
    Reply answer = run_change(scripts::take_script, name, take_args(n, mode, create_with, lease),
                              node, create_with.has_value());
    TakeResult result = take_result(answer, std::move(node), name, n, mode, create_with);
    result.asked_at = asked_at;
    return result;
}

PutResult Client::put(const std::string& name, int64_t n, bool force,
                      const std::optional<Settings>& create_with) {
    std::string node;
    Reply answer = run_change(scripts::put_script, name, put_args(n, force, create_with), node,
                              create_with.has_value());
    return put_result(answer, std::move(node), name, create_with);
}

State Client::reset(const std::string& name, std::optional<int64_t> tokens) {
    std::vector<std::string> args{tokens ? std::to_string(*tokens) : ""};
    std::string node;
    Reply answer = run_change(scripts::reset_script, name, std::move(args), node);
    State state = parse_state(checked(answer, name), name);
    state.node = std::move(node);
    return state;
}

std::vector<StateOrError> Client::each(const Script& script, const std::vector<std::string>& names,
                                       bool change) {
    std::vector<ScriptCall> calls;
    calls.reserve(names.size());
    for (const std::string& name : names) {
        calls.push_back(change ? change_call(script, key(name), {}, 2 * retry_window_ms_, true)
                               : ScriptCall{&script, key(name), {}});
    }
    std::vector<std::string> by;
    std::vector<Reply> replies =
        change ? run_changes(calls, by, retry_window_ms_) : run_scripts(nodes_, calls, &by);
    std::vector<StateOrError> results;
    results.reserve(names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (replies[i]->type == REDIS_REPLY_ERROR) {
            results.emplace_back(script_error(*replies[i], names[i]));
        } else {
            State state = parse_state(*replies[i], names[i]);
            if (&script == &scripts::info_script) parse_counters(*replies[i], state);
            state.node = std::move(by[i]);
            results.emplace_back(std::move(state));
        }
    }
    return results;
}

std::vector<StateOrError> Client::info(const std::vector<std::string>& names) {
    return each(scripts::info_script, names, false);
}

std::vector<StateOrError> Client::remove(const std::vector<std::string>& names) {
    return each(scripts::delete_script, names, true);
}

void Client::scan(Connection& connection, const std::string& match,
                  std::vector<std::string>& names) {
    const std::string head = prefix_ + "{";
    std::string cursor = "0";
    do {
        // Every type, not TYPE hash: a key of another type under the prefix
        // is not a bucket, and list warns about it rather than hide it.
        Reply reply = connection.call({"SCAN", cursor, "MATCH", match, "COUNT", "1000"});
        if (reply->type == REDIS_REPLY_ERROR) {
            std::string text = reply_error_text(*reply);
            throw Error(classify_reply_error(text),
                        "SCAN failed on " + connection.endpoint() + ": " + text);
        }
        cursor = string_at(*reply, 0);
        const redisReply& keys = element(*reply, 1);
        for (std::size_t i = 0; i < keys.elements; ++i) {
            std::string k(keys.element[i]->str, keys.element[i]->len);
            if (k.size() <= head.size() + 1 || k.compare(0, head.size(), head) != 0 ||
                k.back() != '}')
                continue;
            std::string name = k.substr(head.size(), k.size() - head.size() - 1);
            if (name.find_first_of("{}") == std::string::npos) names.push_back(std::move(name));
        }
    } while (cursor != "0");
}

std::vector<std::string> Client::list(const std::string& pattern, bool by_scan) {
    // CLUSTER SLOTS also teaches the router every slot's node, for the index.
    std::vector<Connection*> primaries = nodes_.primaries();
    const bool one_set = nodes_.standalone();
    if (!by_scan && index_complete(nodes_, prefix_, one_set)) {
        try {
            return indexed_names(nodes_, prefix_, pattern, one_set);
        } catch (const Error& e) {
            // A user whose ACL predates the index (no ZRANGEBYLEX) lists as before.
            if (e.kind() != ErrorKind::refused) throw;
        }
    }
    const std::string match = escape_glob(prefix_ + "{") + "*}";
    std::vector<std::string> names;
    for (Connection* primary : primaries) scan(*primary, match, names);
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    try {
        index_names(nodes_, prefix_, names, true, one_set);
    } catch (const Error&) {
        // The listing stands without the index; the next list scans again.
    }
    std::erase_if(names, [&pattern](const std::string& n) { return !glob_match(pattern, n); });
    return names;
}

void Client::unlist(const std::vector<std::string>& names) {
    try {
        unindex_names(nodes_, prefix_, names, nodes_.standalone());
    } catch (const Error&) {
        // A stale name costs the next list one read; nothing more.
    }
}

}  // namespace tbucket
