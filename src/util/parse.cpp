#include "util/parse.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <optional>

#include "util/error.h"

namespace tbucket {
namespace {

[[noreturn]] void bad(const std::string& message) {
    throw Error(ErrorKind::usage, message);
}

std::string quoted(std::string_view text) {
    std::string out = "'";
    out += printable(text);  // (not "'" + ... + "'": GCC 12 warns -Wrestrict)
    out += '\'';
    return out;
}

std::string describe_byte(unsigned char c) {
    char buf[32];
    if (c > 0x20 && c < 0x7f) {
        std::snprintf(buf, sizeof buf, "'%c'", c);
    } else if (c == ' ') {
        std::snprintf(buf, sizeof buf, "a space");
    } else {
        std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
    }
    return buf;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_name_char(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(static_cast<char>(c)) ||
           c == '.' || c == '_' || c == '-' || c == ':' || c == '/' || c == '@' || c == '+';
}

bool is_glob_char(unsigned char c) {
    return c == '*' || c == '?' || c == '[' || c == ']' || c == '^' || c == '\\';
}

// digits ['.' digits] at text[pos]; advances pos. No sign, exponent, inf or nan.
bool scan_decimal(std::string_view text, std::size_t& pos, double& value) {
    std::size_t start = pos;
    while (pos < text.size() && is_digit(text[pos])) ++pos;
    if (pos == start) return false;
    if (pos < text.size() && text[pos] == '.') {
        std::size_t frac = ++pos;
        while (pos < text.size() && is_digit(text[pos])) ++pos;
        if (pos == frac) return false;
    }
    auto [end, ec] = std::from_chars(text.data() + start, text.data() + pos, value);
    return ec == std::errc() && end == text.data() + pos && std::isfinite(value);
}

// The units of durations and rate periods, short and as people write them
// in a crontab comment (10/sec, 5/minutes, 1/day).
constexpr struct {
    std::string_view name;
    double ms;
} units[] = {
    {"ms", 1},         {"s", 1e3},        {"sec", 1e3},     {"secs", 1e3},     {"second", 1e3},
    {"seconds", 1e3},  {"m", 60e3},       {"min", 60e3},    {"mins", 60e3},    {"minute", 60e3},
    {"minutes", 60e3}, {"h", 3600e3},     {"hour", 3600e3}, {"hours", 3600e3}, {"d", 86400e3},
    {"day", 86400e3},  {"days", 86400e3},
};

// Milliseconds per unit, or 0 when `unit` is not one.
double unit_ms(std::string_view unit) {
    for (const auto& u : units) {
        if (u.name == unit) return u.ms;
    }
    return 0;
}

// "ms, s, sec, ..., days": for messages.
std::string unit_names() {
    std::string names;
    for (const auto& u : units) names.append(names.empty() ? "" : ", ").append(u.name);
    return names;
}

// A duration; `where` names it in messages ("--wait '5x'").
int64_t duration_ms(const std::string& where, std::string_view text) {
    if (text[0] == '-') bad(where + " is negative");
    std::size_t pos = 0;
    double total = 0;
    while (pos < text.size()) {
        double number = 0;
        std::size_t number_start = pos;
        if (!scan_decimal(text, pos, number)) {
            bad(where + " is not a duration; expected e.g. 250ms, 30s, 5m, 2h, 1d, 1m30s or 1.5");
        }
        std::size_t unit_start = pos;
        while (pos < text.size() && text[pos] >= 'a' && text[pos] <= 'z') ++pos;
        std::string_view unit = text.substr(unit_start, pos - unit_start);
        if (unit.empty()) {
            if (pos != text.size() || number_start != 0) {
                bad(where + " has a number without a unit (ms, s, m, h, d)");
            }
            total = number * 1e3;  // a bare number is seconds
            break;
        }
        double scale = unit_ms(unit);
        if (scale == 0) {
            bad(where + " has an unknown unit " + quoted(unit) + "; the units are " + unit_names());
        }
        total += number * scale;
        if (total > static_cast<double>(max_duration_ms)) bad(where + " is longer than 100 years");
    }
    if (total > static_cast<double>(max_duration_ms)) bad(where + " is longer than 100 years");
    if (total == 0) return 0;
    return std::max<int64_t>(1, std::llround(total));
}

// A duration as exact decimal arithmetic gives it: whole milliseconds and
// the fraction of one left over, in units of 1e-10 ms. The double sum in
// parse_duration_ms cannot tell 1.001s (1001ms) from 1000.9999999999999ms.
struct ExactMs {
    int64_t whole = 0;
    int64_t tenth_nanos = 0;  // 0..fraction_scale-1
};
constexpr int64_t fraction_scale = 10'000'000'000;  // 1e10

// Of a duration parse_duration_ms accepted (so every part is in range);
// nullopt when a part has more than 10 decimals of a millisecond.
std::optional<ExactMs> exact_ms(std::string_view text) {
    ExactMs total;
    std::size_t pos = 0;
    while (pos < text.size()) {
        int64_t whole = 0, fraction = 0, digits = 0;
        for (; pos < text.size() && is_digit(text[pos]); ++pos)
            whole = whole * 10 + (text[pos] - '0');
        std::string_view decimals;
        if (pos < text.size() && text[pos] == '.') {
            std::size_t start = ++pos;
            while (pos < text.size() && is_digit(text[pos])) ++pos;
            decimals = text.substr(start, pos - start);
        }
        decimals = decimals.substr(0, decimals.find_last_not_of('0') + 1);
        if (decimals.size() > 10) return std::nullopt;
        for (char c : decimals) {
            fraction = fraction * 10 + (c - '0');
            ++digits;
        }
        std::size_t unit_start = pos;
        while (pos < text.size() && text[pos] >= 'a' && text[pos] <= 'z') ++pos;
        std::string_view unit = text.substr(unit_start, pos - unit_start);
        auto scale = static_cast<int64_t>(unit.empty() ? 1e3 : unit_ms(unit));
        // fraction * scale < 1e10 * 8.64e7 / 10^(10-digits): fits in 64 bits.
        int64_t part = fraction * scale;
        for (int64_t i = digits; i < 10; ++i) part *= 10;
        total.whole += whole * scale + part / fraction_scale;
        total.tenth_nanos += part % fraction_scale;
        total.whole += total.tenth_nanos / fraction_scale;
        total.tenth_nanos %= fraction_scale;
    }
    return total;
}

// For a period of exact.whole + exact.tenth_nanos/1e10 ms: the same rate
// over a whole number of milliseconds ("2/3ms" for "1/1.5ms"), or "".
std::string whole_ms_rate(double amount, const ExactMs& exact) {
    int64_t g = std::gcd(exact.tenth_nanos, fraction_scale);
    int64_t times = fraction_scale / g, ms = 0;
    if (__builtin_mul_overflow(exact.whole, times, &ms)) return "";
    ms += exact.tenth_nanos / g;
    double scaled = amount * static_cast<double>(times);
    if (scaled != std::floor(scaled) || scaled > max_rate_amount || ms > max_duration_ms) return "";
    return format_amount(scaled) + "/" + format_period_ms(ms);
}

}  // namespace

std::string parse_name(std::string_view text) {
    if (text.empty()) bad("bucket name is empty");
    if (text.size() > max_name_bytes) {
        bad("bucket name is " + std::to_string(text.size()) + " bytes; at most " +
            std::to_string(max_name_bytes) + " are allowed");
    }
    for (unsigned char c : text) {
        if (!is_name_char(c)) {
            bad("bucket name " + quoted(text) + " contains " + describe_byte(c) +
                "; allowed are A-Z a-z 0-9 . _ - : / @ +");
        }
    }
    return std::string(text);
}

std::string parse_pattern(std::string_view text) {
    if (text.empty()) bad("pattern is empty");
    if (text.size() > max_name_bytes)
        bad("pattern is longer than " + std::to_string(max_name_bytes) + " bytes");
    for (unsigned char c : text) {
        if (!is_name_char(c) && !is_glob_char(c)) {
            bad("pattern " + quoted(text) + " contains " + describe_byte(c) +
                "; allowed are name characters and * ? [ ] ^ \\");
        }
    }
    return std::string(text);
}

bool is_glob_free(std::string_view pattern) {
    for (unsigned char c : pattern) {
        if (is_glob_char(c)) return false;
    }
    return true;
}

int64_t parse_count(std::string_view what, std::string_view text, bool allow_zero) {
    std::string lowest = allow_zero ? "0" : "1";
    std::string range = lowest + ".." + std::to_string(max_count);
    if (text.empty()) bad(std::string(what) + " is empty; expected a whole number " + range);
    int64_t value = 0;
    for (char c : text) {
        if (!is_digit(c)) {
            bad(std::string(what) + " " + quoted(text) + " is not a whole number " + range);
        }
        value = value * 10 + (c - '0');
        if (value > max_count)
            bad(std::string(what) + " " + quoted(text) + " is above " + std::to_string(max_count));
    }
    if (value == 0 && !allow_zero) bad(std::string(what) + " must be at least 1");
    return value;
}

int64_t parse_duration_ms(std::string_view what, std::string_view text) {
    if (text.empty())
        bad(std::string(what) + " is empty; expected a duration such as 250ms, 30s, 1m30s");
    return duration_ms(std::string(what) + " " + quoted(text), text);
}

int64_t parse_lease_ms(std::string_view what, std::string_view text) {
    int64_t ms = parse_duration_ms(what, text);
    if (ms < min_lease_ms || ms > max_lease_ms) {
        bad(std::string(what) + " must be 1s..1d, not " + quoted(text));
    }
    return ms;
}

int64_t parse_exact_duration_ms(std::string_view what, std::string_view text) {
    parse_duration_ms(what, text);  // the syntax and the range
    std::optional<ExactMs> exact = exact_ms(text);
    if (!exact || exact->tenth_nanos != 0) {
        bad(std::string(what) + " " + quoted(text) +
            " is not a whole number of milliseconds, which is what is stored");
    }
    return exact->whole;
}

Rate parse_rate(std::string_view text) {
    std::string where = "rate " + quoted(text);
    std::size_t slash = text.find('/');
    if (slash == std::string_view::npos)
        bad(where + " has no '/'; expected AMOUNT/PERIOD such as 10/s or 100/min");
    std::string_view amount_text = text.substr(0, slash);
    std::string_view period_text = text.substr(slash + 1);
    Rate rate;
    std::size_t pos = 0;
    if (!scan_decimal(amount_text, pos, rate.amount) || pos != amount_text.size()) {
        bad(where + ": amount " + quoted(amount_text) + " is not a positive decimal number");
    }
    if (rate.amount <= 0) bad(where + ": amount must be above 0");
    if (rate.amount > max_rate_amount) bad(where + ": amount is above 1e15");
    if (period_text.empty()) bad(where + ": period is empty; expected e.g. s, min, 30s");
    // "10/s" means 10 per 1s
    std::string period = period_text[0] >= 'a' && period_text[0] <= 'z' ? "1" : "";
    period += period_text;
    rate.period_ms = duration_ms(where + ": period", period);
    if (rate.period_ms == 0) bad(where + ": period is zero");
    // Stored in whole milliseconds: 1/1.5ms must not quietly become 1/2ms.
    std::optional<ExactMs> exact = exact_ms(period);
    if (!exact || exact->tenth_nanos != 0) {
        std::string same = exact ? whole_ms_rate(rate.amount, *exact) : "";
        bad(where + ": period is not a whole number of milliseconds" +
            (same.empty() ? std::string("; scale amount and period up together")
                          : "; write " + same));
    }
    return rate;
}

std::string format_amount(double value) {
    // The fewest significant digits that read back as `value` (std::to_chars
    // without a precision, which may answer in d.ddde±XX)...
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    std::string shortest(buf, ec == std::errc() ? end : buf);
    std::size_t e = shortest.find('e');
    if (e == std::string::npos) return shortest;
    // ...written in plain notation, so the result parses back as a rate.
    std::string digits = shortest.substr(0, e);
    int exponent = std::stoi(shortest.substr(e + 1));
    std::size_t dot = digits.find('.');
    int int_digits = static_cast<int>(dot == std::string::npos ? digits.size() : dot);
    if (dot != std::string::npos) digits.erase(dot, 1);
    int point = int_digits + exponent;  // position of the decimal point in `digits`
    if (point <= 0) return "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
    if (point >= static_cast<int>(digits.size())) {
        return digits + std::string(static_cast<std::size_t>(point) - digits.size(), '0');
    }
    return digits.substr(0, static_cast<std::size_t>(point)) + "." +
           digits.substr(static_cast<std::size_t>(point));
}

std::string format_tokens(double value) {
    // Cut the shortest exact decimal after two places: 8.2 stays 8.2 (the
    // double just below it is not shown as 8.19), 4.9999 is 4.99, never 5.
    std::string text = format_amount(value);
    std::size_t dot = text.find('.');
    if (dot != std::string::npos && text.size() > dot + 3) text.resize(dot + 3);
    while (dot != std::string::npos && (text.back() == '0' || text.back() == '.')) {
        bool was_dot = text.back() == '.';
        text.pop_back();
        if (was_dot) break;
    }
    return text;
}

std::string format_exact_ms(int64_t ms) {
    static constexpr struct {
        int64_t ms;
        const char* unit;
    } units[] = {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
    std::string out;
    for (const auto& u : units) {
        if (ms >= u.ms) {
            out += std::to_string(ms / u.ms) + u.unit;
            ms %= u.ms;
        }
    }
    return out.empty() ? "0s" : out;
}

std::string format_period_ms(int64_t ms) {
    if (ms == 1000) return "s";
    if (ms == 60'000) return "min";
    if (ms == 3'600'000) return "h";
    if (ms == 86'400'000) return "d";
    return format_exact_ms(ms);
}

std::string format_rate(const Rate& rate) {
    return format_amount(rate.amount) + "/" + format_period_ms(rate.period_ms);
}

std::string format_duration_ms(int64_t ms) {
    // Rounded up ("ready in" must not promise early), in the largest unit
    // the rounded value still fits: 59950ms is "1m", not "60s".
    char buf[64];
    long long tenths = (ms + 99) / 100, s = (ms + 999) / 1000;
    long long m = (ms + 59'999) / 60'000, h = (ms + 3'599'999) / 3'600'000;
    if (ms < 1000) {
        std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
    } else if (tenths < 600) {
        std::snprintf(buf, sizeof buf, tenths % 10 ? "%lld.%llds" : "%llds", tenths / 10,
                      tenths % 10);
    } else if (s < 3600) {
        std::snprintf(buf, sizeof buf, "%lldm%llds", s / 60, s % 60);
    } else if (m < 1440) {
        std::snprintf(buf, sizeof buf, "%lldh%lldm", m / 60, m % 60);
    } else {
        std::snprintf(buf, sizeof buf, "%lldd%lldh", h / 24, h % 24);
    }
    std::string out = buf;
    for (const char* zero : {"m0s", "h0m", "d0h"}) {  // "2m0s" reads better as "2m"
        if (out.ends_with(zero)) out.resize(out.size() - 2);
    }
    return out;
}

// Text as typed, for messages: control and non-ASCII bytes as \xNN.
std::string printable(std::string_view text) {
    std::string out;
    for (unsigned char c : text) {
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        }
    }
    return out;
}

}  // namespace tbucket

namespace tbucket {

Window parse_window(std::string_view text, std::string zone) {
    std::string where = "window " + quoted(text);
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    Window w;
    w.zone = std::move(zone);
    if (digits > 0) {
        if (digits > 2) bad(where + ": too many units; the longest window is 12mo");
        w.count = std::stoll(std::string(text.substr(0, digits)));
    }
    std::string_view unit = text.substr(digits);
    struct Unit {
        std::string_view name;
        const char* canonical;
        int64_t divides;
    };
    static constexpr Unit units[] = {
        {"m", "m", 60},    {"min", "m", 60},  {"minute", "m", 60}, {"minutes", "m", 60},
        {"h", "h", 24},    {"hour", "h", 24}, {"hours", "h", 24},  {"d", "d", 1},
        {"day", "d", 1},   {"days", "d", 1},  {"w", "w", 1},       {"week", "w", 1},
        {"weeks", "w", 1}, {"mo", "mo", 12},  {"month", "mo", 12}, {"months", "mo", 12}};
    const Unit* found = nullptr;
    for (const Unit& u : units) {
        if (u.name == unit) found = &u;
    }
    if (unit.empty() || !found)
        bad(where + ": expected a count and a unit: 1m..60m, 1h..24h, 1d, 1w, 1mo..12mo");
    w.unit = found->canonical;
    if (w.count < 1 || found->divides % w.count != 0) {
        static const std::map<std::string, std::string> whole = {
            {"m", "minutes that divide an hour, so windows align to it: 1m, 5m, 15m, 30m"},
            {"h", "hours that divide a day, so windows align to it: 1h, 6h, 12h"},
            {"d", "one calendar day (1d); for longer, 1w or 1mo"},
            {"w", "one ISO week (1w); for longer, 1mo"},
            {"mo", "months that divide a year, so windows align to it: 1mo, 3mo, 12mo"}};
        bad(where + ": a window of " + whole.at(w.unit));
    }
    return w;
}

std::string format_window(const Window& window) {
    return std::to_string(window.count) + window.unit;
}

std::string describe_window(const Window& window) {
    return format_window(window) + " " + (window.zone.empty() ? "UTC" : window.zone);
}

}  // namespace tbucket
