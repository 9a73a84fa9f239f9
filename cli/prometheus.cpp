#include "prometheus.h"

#include <charconv>
#include <cmath>
#include <optional>

#include "shown.h"

namespace tbucket::cli {
namespace {

// The shortest text that reads back as the same double (whole numbers as
// digits): 7.0012735, not %.17g's 7.0012734999999999.
std::string value_text(double v) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : "NaN";
}

struct Family {
    const char* name;
    const char* type;
    const char* help;
    // The sample of one bucket, or nullopt when it has none (no refill, no
    // lease, counters not read).
    std::optional<double> (*value)(const State&);
};

std::optional<double> counter(const State& s, double Counters::*field) {
    if (!s.counters) return std::nullopt;
    return (*s.counters).*field;
}

std::optional<double> whole_counter(const State& s, int64_t Counters::*field) {
    if (!s.counters) return std::nullopt;
    return static_cast<double>((*s.counters).*field);
}

const Family families[] = {
    {"tbucket_tokens", "gauge", "Tokens in the bucket now (refill applied; may be fractional).",
     [](const State& s) -> std::optional<double> { return s.tokens; }},
    {"tbucket_available_tokens", "gauge", "Whole tokens a take could get now.",
     [](const State& s) -> std::optional<double> { return static_cast<double>(s.available()); }},
    {"tbucket_capacity_tokens", "gauge", "Capacity of the bucket.",
     [](const State& s) -> std::optional<double> { return static_cast<double>(s.capacity); }},
    {"tbucket_refill_tokens_per_second", "gauge",
     "Refill rate; absent for a bucket without refill.",
     [](const State& s) -> std::optional<double> {
         if (!s.rate) return std::nullopt;
         return s.rate->amount * 1000.0 / static_cast<double>(s.rate->period_ms);
     }},
    {"tbucket_window_resets_in_seconds", "gauge",
     "Seconds until the calendar window ends and the bucket is full again; absent without a "
     "window.",
     [](const State& s) -> std::optional<double> {
         if (!s.resets_in_ms()) return std::nullopt;
         return static_cast<double>(*s.resets_in_ms()) / 1000.0;
     }},
    {"tbucket_leased_tokens", "gauge",
     "Tokens held by leases, and set aside for waiters that were served and have not yet claimed "
     "them.",
     [](const State& s) -> std::optional<double> { return s.leased; }},
    {"tbucket_waiters", "gauge", "Waiters queued for tokens.",
     [](const State& s) -> std::optional<double> {
         if (!s.queued) return std::nullopt;
         return static_cast<double>(*s.queued);
     }},
    {"tbucket_grants_total", "counter", "Take requests that got tokens.",
     [](const State& s) { return whole_counter(s, &Counters::grants); }},
    {"tbucket_denials_total", "counter", "One-shot take requests refused for want of tokens.",
     [](const State& s) { return whole_counter(s, &Counters::denials); }},
    {"tbucket_taken_tokens_total", "counter", "Tokens taken.",
     [](const State& s) { return whole_counter(s, &Counters::taken); }},
    {"tbucket_put_tokens_total", "counter", "Tokens put back (what went in, not the overflow).",
     [](const State& s) { return counter(s, &Counters::put); }},
    {"tbucket_waits_served_total", "counter", "Take requests granted after waiting.",
     [](const State& s) { return whole_counter(s, &Counters::waits_served); }},
    {"tbucket_leases_expired_total", "counter",
     "Leases that ended because their holder stopped renewing them (died, stopped or cut off).",
     [](const State& s) { return whole_counter(s, &Counters::leases_expired); }},
    {"tbucket_leases_lost_total", "counter",
     "Renewals that found their lease ended: a holder that lost its slot.",
     [](const State& s) { return whole_counter(s, &Counters::leases_lost); }},
    {"tbucket_data_losses_total", "counter",
     "Leases their holders found lost with Redis's data (a restart without persistence, or a "
     "failover), taken back or not.",
     [](const State& s) { return whole_counter(s, &Counters::data_losses); }},
};

std::string labels(const State& s, bool with_node) {
    std::string text = "{bucket=\"" + prometheus_label(s.name) + "\"";
    if (with_node) text += ",node=\"" + prometheus_label(s.node) + "\"";
    return text + "}";
}

}  // namespace

std::string prometheus_label(const std::string& raw) {
    // Label values must be UTF-8 (the textfile collector drops a file that
    // is not): a name from Redis that is not is shown escaped.
    const std::string value = is_utf8(raw) ? raw : shown(raw);
    std::string out;
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string prometheus_text(const std::vector<State>& states, bool with_node) {
    std::string out;
    for (const Family& f : families) {
        std::string samples;
        for (const State& s : states) {
            if (std::optional<double> v = f.value(s)) {
                samples += f.name + labels(s, with_node) + " " + value_text(*v) + "\n";
            }
        }
        // A family with no sample is left out whole: HELP and TYPE alone
        // would announce a series that never comes.
        if (samples.empty()) continue;
        out += std::string("# HELP ") + f.name + " " + f.help + "\n";
        out += std::string("# TYPE ") + f.name + " " + f.type + "\n";
        out += samples;
    }
    return out;
}

}  // namespace tbucket::cli
