#include "output.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "shown.h"
#include "util/parse.h"

namespace tbucket::cli {
namespace {

using Json = nlohmann::ordered_json;

Json number(double value) {
    if (std::floor(value) == value && std::fabs(value) <= static_cast<double>(max_count)) {
        return static_cast<int64_t>(value);
    }
    return value;
}

// A level is a sum of refill fractions, so its double carries noise
// (5.004973000000001): shown rounded to micro-tokens, the stored value
// keeping every bit. Large values, whose doubles are coarser than a
// micro-token anyway, are left alone.
double micro_tokens(double value) {
    if (!(std::fabs(value) < 1e9)) return value;
    return std::round(value * 1e6) / 1e6;
}

// The same for a level, but never up to a whole token it has not reached,
// so that `available` is always floor(`tokens`) as shown.
double micro_level(double value) {
    double shown = micro_tokens(value);
    if (std::floor(shown) > std::floor(value)) return std::floor(value * 1e6) / 1e6;
    return shown;
}

Json optional_ms(std::optional<int64_t> ms) {
    return ms ? Json(*ms) : Json(nullptr);
}

Json state_json(const State& s) {
    Json j;
    j["name"] = s.name;
    if (!is_utf8(s.name)) {
        // A key written into Redis by hand: JSON cannot hold it exactly, so
        // it is given escaped, and said so.
        j["name"] = shown(s.name);
        j["name_escaped"] = true;
    }
    j["capacity"] = s.capacity;
    j["tokens"] = number(micro_level(s.tokens));
    j["available"] = s.available();
    j["kind"] = s.kind();
    j["rate"] = s.rate ? Json{{"amount", number(s.rate->amount)}, {"period_ms", s.rate->period_ms}}
                       : Json(nullptr);
    j["window"] = s.window ? Json{{"length", format_window(*s.window)},
                                  {"zone", s.window->zone.empty() ? "UTC" : s.window->zone}}
                           : Json(nullptr);
    j["resets_in_ms"] = optional_ms(s.resets_in_ms());
    j["full_in_ms"] = optional_ms(s.full_in_ms());
    j["expire_ms"] = optional_ms(s.expire_ms);
    j["server_time_ms"] = s.server_time_us / 1000;
    j["leased"] = number(s.leased);
    if (s.lease_count) j["leases"] = *s.lease_count;
    if (s.queued) j["waiters"] = *s.queued;
    if (s.counters) {
        const Counters& c = *s.counters;
        j["counters"] = {{"grants", c.grants},
                         {"denials", c.denials},
                         {"taken", c.taken},
                         {"put", number(c.put)},
                         {"waits_served", c.waits_served},
                         {"leases_expired", c.leases_expired},
                         {"leases_lost", c.leases_lost},
                         {"data_losses", c.data_losses}};
    }
    return j;
}

void write_line(std::FILE* stream, const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stream);
    std::fputc('\n', stream);
}

// A reader that is gone (EPIPE) ends tbucket as it ends cat(1): by
// SIGPIPE, which main() ignores only so that a closed socket is an error to
// report. Any other failure (ENOSPC) is an error for main's catch site.
[[noreturn]] void stdout_failed(int err) {
    if (err == EPIPE) {
        std::signal(SIGPIPE, SIG_DFL);
        std::raise(SIGPIPE);
    }
    std::string why = err ? std::strerror(err) : "unknown error";
    throw Error(ErrorKind::output, "cannot write to standard output: " + why);
}

// Checks stdout after each write, so that a reader that is gone stops a
// long listing or a follow at its next line, not at the end.
void check_stdout() {
    if (std::ferror(stdout)) stdout_failed(errno);
}

// One line, whatever a server or a parser put in the message.
std::string one_line(std::string text) {
    for (char& c : text) {
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    }
    return text;
}

std::string dump(const Json& j) {
    return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string plural(int64_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// State calls a refill slower than 100 years "never" (nullopt); it is
// still a refill, so the text says how slow rather than "no refill".
std::string full_text(const State& s) {
    std::optional<int64_t> full = s.full_in_ms();
    if (!full) return "full in over 100 years";
    return *full == 0 ? "full" : "full in " + format_duration_ms(*full);
}

std::string pad(std::string text, std::size_t width) {
    if (text.size() < width) text.append(width - text.size(), ' ');
    return text;
}

std::string level_text(const State& s) {
    return format_tokens(micro_level(s.tokens)) + "/" + std::to_string(s.capacity) + " tokens";
}

}  // namespace

std::string state_text(const State& s, const Columns& columns) {
    std::string text = pad(shown(s.name), columns.name) + "  " + pad(level_text(s), columns.level);
    if (s.rate) {
        text += "  rate: refill " + format_rate(*s.rate) + "  " + full_text(s);
    } else if (s.window) {
        text += "  window: " + std::to_string(s.capacity) + " per " + describe_window(*s.window) +
                ", resets in " + format_duration_ms(*s.resets_in_ms());
    } else {
        text += "  semaphore: no refill";
    }
    if (s.expire_ms) text += "  expires after " + format_duration_ms(*s.expire_ms) + " idle";
    if (s.leased > 0) {
        text += "  " + format_tokens(s.leased) + " leased";
        if (s.lease_count) text += " (" + plural(*s.lease_count, "lease") + ")";
    }
    if (s.queued && *s.queued > 0) text += "  " + plural(*s.queued, "waiter") + " in line";
    return text;
}

std::string version_text(const BuildInfo& info, bool json) {
    if (json) {
        return dump(
            Json{{"version", info.version}, {"commit", info.commit}, {"build", info.build}});
    }
    return std::string("tbucket ") + info.version + "\ncommit " + info.commit + "\nbuild " +
           info.build;
}

// One answer in both forms: the JSON object --json prints, and the lines a
// person reads on stdout with, when it was denied, why on stderr.
struct Output::Record {
    Record(Json j = {}, std::vector<std::string> lines = {}, std::string why = "", bool all = false,
           bool is_change = false)
        : json(std::move(j)),
          text(std::move(lines)),
          denial(std::move(why)),
          always(all),
          change(is_change) {}
    Json json;
    std::vector<std::string> text;
    std::string denial;  // one stderr line ("" none); not with -q
    bool always;         // text shown even with -q
    // A change's state line (take, put, create, reset, watch --take): like
    // flock(1) and timeout(1), nothing on stdout where a script runs it,
    // unless -v; on a terminal, or as --json (even with -q), it is shown.
    bool change;
};

Output::Output(bool json, bool quiet, bool verbose)
    : json_(json), quiet_(quiet), changes_shown_(verbose || isatty(STDOUT_FILENO)) {}

void Output::emit(const Record& r) {
    if (json_) return line(dump(r.json), true);  // asked for: -q does not silence it
    if (!r.change || changes_shown_) {
        for (const std::string& text : r.text) line(text, r.always);
    }
    if (!r.denial.empty() && !quiet_) write_line(stderr, "tbucket: " + r.denial);
}

void Output::line(const std::string& text, bool always) {
    if (quiet_ && !always) return;
    errno = 0;
    write_line(stdout, text);
    check_stdout();
}

void Output::flush() {
    // After a failure (say in --help, which CLI11 writes) errno still tells why.
    if (!std::ferror(stdout)) errno = 0;
    std::fflush(stdout);
    check_stdout();
}

void Output::align(const std::vector<State>& states) {
    columns_ = {};
    for (const State& s : states) {
        columns_.name = std::max(columns_.name, shown(s.name).size());
        columns_.level = std::max(columns_.level, level_text(s).size());
    }
}

void Output::reset(const State& state) {
    emit({state_json(state), {state_text(state, columns_)}, "", false, true});
}

void Output::state(const State& state) {
    Json j = state_json(state);
    if (!state.node.empty()) j["node"] = state.node;  // which server answered
    emit({j, {state_text(state, columns_)}, "", true});
}

void Output::created(const CreateResult& r) {
    static const char* const words[] = {"(exists)", "(created)", "(updated)", "(replaced)"};
    Json j = state_json(r.state);
    j["created"] = r.outcome == CreateOutcome::created;
    j["updated"] = r.outcome == CreateOutcome::updated;
    j["replaced"] = r.outcome == CreateOutcome::replaced;
    emit({j, {state_text(r.state) + "  " + words[static_cast<int>(r.outcome)]}, "", false, true});
}

namespace {

// What every take answer says of one bucket, after its state (a list's
// buckets: without `waited_ms`, which the list has once).
Json take_json(const TakeResult& t, std::optional<int64_t> waited_ms) {
    Json j = state_json(t.state);
    j["ok"] = t.ok();
    j["requested"] = t.requested;
    j["taken"] = t.taken;
    j["retry_after_ms"] = optional_ms(t.retry_after_ms);
    if (waited_ms) j["waited_ms"] = *waited_ms;
    j["queued_ahead"] = t.queued_ahead;
    return j;
}

// "host 123" as "host, pid 123".
std::string holder_text(const std::string& holder) {
    std::size_t space = holder.rfind(' ');
    if (space == std::string::npos) return holder;
    return holder.substr(0, space) + ", pid " + holder.substr(space + 1);
}

std::string denial_text(const TakeResult& r) {
    // `take all` finding nothing reports 0 asked: say what it looked for.
    std::string asked = r.requested > 0 ? plural(r.requested, "token") : "all tokens";
    std::string why = "denied: " + asked + " asked, " + plural(r.state.available(), "token") +
                      " available in '" + r.state.name + "'";
    if (r.queued_ahead > 0) {
        why += ", " + plural(r.queued_ahead, "waiter") + " queued ahead (served first)";
    }
    if (r.grace_ms) {
        why += "; held " + format_duration_ms(*r.grace_ms) +
               " more for holders whose leases Redis may have lost (it started recently and "
               "keeps no append-only file; see restart_grace): wait with --wait";
    } else if (r.leases_held > 0 && r.next_lease_end_ms) {
        why += "; held by " + plural(r.leases_held, "lease") + ", the next ends in " +
               format_duration_ms(*r.next_lease_end_ms) +
               (r.next_holder == "-" ? " (a served waiter's)"
                                     : " (" + holder_text(r.next_holder) + ")") +
               "; wait for it with --wait, see them with 'tbucket lease list " + r.state.name + "'";
    } else if (r.retry_after_ms) {
        why += "; enough in " + format_duration_ms(*r.retry_after_ms);
    } else if (r.state.window) {
        why += "; more than the window's " + std::to_string(r.state.capacity) +
               ", so only a put can bring them";
    } else if (r.state.rate) {
        why += "; refill " + format_rate(*r.state.rate) +
               " is too slow to bring them within 100 years, so only a put can";
    } else {
        why += "; no refill, so only a put can bring more";
    }
    return why;
}

std::string list_denial_text(const MultiTakeResult& r) {
    std::string why;
    for (std::size_t i = 0; i < r.buckets.size(); ++i) {
        if (!r.refused(i)) continue;
        const TakeResult& t = r.buckets[i];
        why.append(why.empty() ? "'" : ", '").append(t.state.name).append("' has ");
        why.append(plural(t.state.available(), "token")).append(" of ");
        why.append(std::to_string(t.requested));
        if (t.queued_ahead > 0) why += " (" + plural(t.queued_ahead, "waiter") + " queued ahead)";
    }
    why = "denied, nothing taken: " + why;
    if (r.retry_after_ms) {
        why += "; all have enough in " + format_duration_ms(*r.retry_after_ms);
    } else {
        why += "; refill alone will not bring them all (no refill, or too slow)";
    }
    return why;
}

}  // namespace

void Output::took(const MultiTakeResult& list, int64_t waited_ms, bool as_list, bool run) {
    Record record;
    record.change = true;
    if (!as_list) {
        const TakeResult& t = list.buckets.front();
        // Only the form that is printed is built: the one-shot take is the
        // hot path (bench/README.md), and where a script runs it prints nothing.
        if (json_) {
            record.json = take_json(t, waited_ms);
        } else {
            if (!run && changes_shown_) record.text.push_back(state_text(t.state));
            if (!t.ok()) record.denial = denial_text(t);
        }
        return emit(record);
    }
    // A list (SPEC §11): one line per bucket, lined up, or one object.
    Json& j = record.json;
    j["ok"] = list.ok();
    int64_t taken = 0;
    Json buckets = Json::array(), refused = Json::array();
    std::vector<State> states;
    for (std::size_t i = 0; i < list.buckets.size(); ++i) {
        const TakeResult& t = list.buckets[i];
        taken += t.taken;
        Json b = take_json(t, std::nullopt);
        b.erase("ok");
        b["refused"] = list.refused(i);
        if (list.refused(i)) refused.push_back(t.state.name);
        buckets.push_back(std::move(b));
        states.push_back(t.state);
    }
    j["taken"] = taken;
    j["retry_after_ms"] = optional_ms(list.retry_after_ms);
    j["waited_ms"] = waited_ms;
    j["refused"] = std::move(refused);
    j["buckets"] = std::move(buckets);
    align(states);
    if (!run) {
        for (const State& s : states) record.text.push_back(state_text(s, columns_));
    }
    if (!list.ok()) record.denial = list_denial_text(list);
    emit(record);
}

void Output::dry_run(const MultiTakeResult& would, bool as_list) {
    Record record;
    record.change = true;
    Json buckets = Json::array();
    for (std::size_t i = 0; i < would.buckets.size(); ++i) {
        const TakeResult& t = would.buckets[i];
        Json b = take_json(t, std::nullopt);
        b["taken"] = 0;  // a dry run takes nothing
        b.erase("ok");
        if (as_list) b["refused"] = would.refused(i);
        buckets.push_back(std::move(b));
        record.text.push_back(state_text(t.state) + (would.ok() ? "  would be granted" : ""));
    }
    if (as_list) {
        record.json = {{"ok", would.ok()}, {"buckets", std::move(buckets)}};
    } else {
        record.json = std::move(buckets.front());
        record.json["ok"] = would.ok();
    }
    record.json["dry_run"] = true;
    if (!would.ok()) {
        record.denial =
            "dry run: " + (as_list ? list_denial_text(would) : denial_text(would.buckets.front()));
    }
    emit(record);
}

void Output::snapshot(int64_t time_ms, const std::vector<State>& states,
                      const std::vector<std::optional<double>>& grants_per_s,
                      const std::vector<std::optional<double>>& denials_per_s) {
    Json buckets = Json::array();
    auto rate = [](const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); };
    for (std::size_t i = 0; i < states.size(); ++i) {
        Json b = state_json(states[i]);
        b["grants_per_s"] = rate(grants_per_s[i]);
        b["denials_per_s"] = rate(denials_per_s[i]);
        buckets.push_back(std::move(b));
    }
    emit({Json{{"time_ms", time_ms}, {"buckets", std::move(buckets)}}, {}, "", true});
}

void Output::put(const PutResult& r) {
    Json j = state_json(r.state);
    j["added"] = number(micro_tokens(r.added));
    j["overflow"] = number(micro_tokens(r.overflow));
    std::string text = state_text(r.state);
    if (r.overflow > 0) text += "  overflow " + format_tokens(micro_tokens(r.overflow));
    emit({j, {text}, "", false, true});
}

void Output::deleted(const State& state) {
    Json j = state_json(state);
    j["deleted"] = true;
    emit({j, {"deleted " + state.name}});
}

void Output::watched(const State& state, int64_t waited_ms) {
    Json j = state_json(state);
    j["waited_ms"] = waited_ms;
    emit({j, {state_text(state)}});
}

void Output::followed(const State& state) {
    emit({state_json(state), {state_text(state)}, "", true});
    flush();
}

void Output::lease_taken(const TakeResult& r, const std::string& id, int64_t ttl_ms,
                         int64_t waited_ms) {
    // "ID FENCE", even with -q: it is what the caller reads.
    Record record{take_json(r, std::nullopt), {}, "", true};
    Json& j = record.json;
    for (const char* later : {"retry_after_ms", "queued_ahead"}) j.erase(later);
    j["lease"] = r.ok() ? Json(id) : Json(nullptr);
    j["fence"] = r.ok() ? Json(r.fence) : Json(nullptr);
    j["ttl_ms"] = ttl_ms;
    j["retry_after_ms"] = optional_ms(r.retry_after_ms);
    j["waited_ms"] = waited_ms;
    if (r.ok()) record.text.push_back(id + " " + std::to_string(r.fence));
    if (!r.ok()) record.denial = denial_text(r);
    emit(record);
}

void Output::lease_renewed(const State& state, const std::string& id, int64_t ttl_ms) {
    Json j = state_json(state);
    j["lease"] = id;
    j["renewed"] = true;
    j["ends_in_ms"] = ttl_ms;
    emit({j,
          {"lease " + id + " on " + state.name + " renewed: ends in " + format_duration_ms(ttl_ms)},
          "",
          false,
          true});  // a change: quiet where scripts run (SPEC §15)
}

void Output::lease_released(const State& state, const std::string& id, bool already, double added) {
    Json j = state_json(state);
    j["lease"] = id;
    j["released"] = !already;
    j["added"] = number(micro_tokens(added));
    std::string text = already ? "lease " + id + " on " + state.name + " was released before"
                               : "lease " + id + " released: " + format_tokens(added) +
                                     (added == 1 ? " token" : " tokens") + " back to " + state.name;
    emit({j, {text}, "", false, true});  // a change: quiet where scripts run
}

void Output::leases(const State& state, const std::vector<LeaseInfo>& leases, bool all_buckets) {
    for (const LeaseInfo& l : leases) {
        int64_t held_ms = std::max<int64_t>(0, state.server_time_us / 1000 - l.since_ms);
        Json j{{"name", state.name},     {"lease", l.id},      {"tokens", l.tokens},
               {"fence", l.fence},       {"host", l.host},     {"pid", l.pid},
               {"since_ms", l.since_ms}, {"held_ms", held_ms}, {"ends_in_ms", l.ends_in_ms}};
        j["note"] = l.note.empty() ? Json(nullptr) : Json(printable(l.note));
        std::string text = l.id + "  " + plural(l.tokens, "token") + "  fence " +
                           std::to_string(l.fence) + "  " + shown(l.host) + " pid " +
                           std::to_string(l.pid) + "  held " + format_duration_ms(held_ms) +
                           "  ends in " + format_duration_ms(l.ends_in_ms);
        if (all_buckets) text = shown(state.name) + "  " + text;
        if (!l.note.empty()) text += "  " + printable(l.note);
        emit({j, {text}, "", true});
    }
}

void Output::name(const std::string& name) {
    line(shown(name), true);
}

void Output::block(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    check_stdout();
}

void Output::warning(std::string_view message) {
    if (quiet_) return;
    write_line(stderr, "tbucket: warning: " + std::string(message));
}

void Output::error(const Error& error, int exit) {
    if (json_) {
        Json j{{"error", std::string(kind_name(error.kind()))},
               {"message", one_line(error.what())},
               {"exit", exit}};
        return write_line(stderr, dump(j));
    }
    // A wait that timed out is an expected outcome of a throttle: with -q
    // only the exit status (124) says it, as a denial's does.
    if (quiet_ && error.kind() == ErrorKind::timeout) return;
    write_line(stderr, "tbucket: error: " + one_line(error.what()));
}

}  // namespace tbucket::cli
