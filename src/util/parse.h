#pragma once

// Parsers and formatters for what a user types: bucket names, counts, rates
// and durations. Pure functions: no I/O, no globals. Parsers throw
// tbucket::Error with ErrorKind::usage and a message naming the problem.

#include <cstdint>
#include <string>
#include <string_view>

namespace tbucket {

inline constexpr int64_t max_count = (int64_t{1} << 53) - 1;  // exact in a double and in Lua
inline constexpr std::size_t max_name_bytes = 200;
inline constexpr double max_rate_amount = 1e15;
inline constexpr int64_t max_duration_ms = int64_t{36500} * 86'400'000;  // 100 years

// AMOUNT tokens every period_ms milliseconds.
struct Rate {
    double amount = 0;
    int64_t period_ms = 0;
    bool operator==(const Rate&) const = default;
};

// A calendar window (--window): `count` units, aligned in the local time
// of `zone` ("" is UTC). Units: m (count divides 60), h (divides 24), d and
// w (an ISO week, from Monday; count 1), mo (divides 12).
struct Window {
    int64_t count = 1;
    std::string unit;
    std::string zone;
    bool operator==(const Window&) const = default;
};

// 1d, 15m, 1h, 1w, 1mo, 3mo; also day, week, month, hour, minute. The zone
// is not looked at here (see util/zone.h).
Window parse_window(std::string_view text, std::string zone = "");
std::string format_window(const Window& window);    // 1d, 15m, 1mo
std::string describe_window(const Window& window);  // "1d UTC", "1mo Europe/Berlin"

// 1-200 bytes of A-Z a-z 0-9 . _ - : / @ +
std::string parse_name(std::string_view text);

// A glob for `list`: name characters plus * ? [ ] ^ and backslash.
std::string parse_pattern(std::string_view text);
// True when a valid pattern has no glob character: it names one bucket.
bool is_glob_free(std::string_view pattern);

// A whole number 1..2^53-1 (0..2^53-1 when allow_zero). `what` names the
// value in the error message ("count", "--capacity").
int64_t parse_count(std::string_view what, std::string_view text, bool allow_zero = false);

// AMOUNT/PERIOD: 10/s, 100/min, 1/30s, 0.5/h, 5000/1d, 3/1m30s. The period
// must be a whole number of milliseconds (1/1.5ms is refused: "write 2/3ms").
Rate parse_rate(std::string_view text);

// 250ms, 30s, 5m, 2h, 1d, 1m30s, or bare seconds (1.5). For waits and
// timeouts: rounded to the nearest millisecond, a positive duration below
// 1ms counting as 1ms (a wait a fraction of a millisecond off is harmless).
int64_t parse_duration_ms(std::string_view what, std::string_view text);

// As parse_duration_ms, for durations that are stored (--expire): a
// duration that is not a whole number of milliseconds is refused, not rounded.
int64_t parse_exact_duration_ms(std::string_view what, std::string_view text);

// How long a lease lives without renewal (--lease, --ttl): 1s..1d. Shorter
// cannot be renewed reliably across a network; longer keeps a dead
// holder's tokens away for more than a day.
inline constexpr int64_t min_lease_ms = 1000;
inline constexpr int64_t max_lease_ms = 86'400'000;
int64_t parse_lease_ms(std::string_view what, std::string_view text);

// Human forms, each accepted back by the parsers above.
std::string format_duration_ms(int64_t ms);  // 250ms, 16.5s, 2m30s, 1h5m, 3d2h
std::string format_exact_ms(int64_t ms);     // exact: 1h, 1m30s, 250ms
std::string format_period_ms(int64_t ms);    // as format_exact_ms, but s, min, h, d alone
std::string format_rate(const Rate& rate);   // 10/min
std::string format_amount(double value);     // shortest exact decimal: 0.5, 10
std::string format_tokens(double value);     // rounded down to 2 decimals: 7.25

// Text as typed, for messages: control and non-ASCII bytes as \xNN.
std::string printable(std::string_view text);

}  // namespace tbucket
