// Unit tests for src/util/parse.h: names, patterns, counts, rates, durations and
// their human forms (SPEC §6).

#include <catch2/catch.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"
#include "util/parse.h"

namespace tbucket {
namespace {

// The message of the tbucket::Error that `f` throws; fails unless it throws
// one, and checks that its kind is `usage` (exit 2).
template <typename F>
std::string usage_error(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        CHECK(kind_name(e.kind()) == kind_name(ErrorKind::usage));
        return e.what();
    }
    FAIL("no tbucket::Error was thrown");
    return {};
}

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

// ---------------------------------------------------------------- names

TEST_CASE("an empty name is refused", "[parse]") {
    std::string message = usage_error([] { parse_name(""); });
    CHECK(contains(message, "empty"));
}

TEST_CASE("a name of 1 byte is accepted", "[parse]") {
    CHECK(parse_name("a") == "a");
    CHECK(parse_name("Z") == "Z");
    CHECK(parse_name("7") == "7");
}

TEST_CASE("a name of 200 bytes is accepted", "[parse]") {
    std::string name(200, 'x');
    CHECK(parse_name(name) == name);
}

TEST_CASE("a name of 201 bytes is refused", "[parse]") {
    std::string name(201, 'x');
    std::string message = usage_error([&] { parse_name(name); });
    CHECK(contains(message, "201"));
    CHECK(contains(message, "200"));
}

TEST_CASE("a name may hold letters, digits and every allowed punctuation", "[parse]") {
    CHECK(parse_name("ABCxyz0189") == "ABCxyz0189");
    for (char c : std::string_view("._-:/@+")) {
        std::string name = std::string("a") + c + "b";
        INFO("name: " << name);
        CHECK(parse_name(name) == name);
        std::string alone(1, c);
        CHECK(parse_name(alone) == alone);
    }
    CHECK(parse_name("api:user@example.com/v1+beta_2-x") == "api:user@example.com/v1+beta_2-x");
}

TEST_CASE("a name with a space is refused and the space is named", "[parse]") {
    std::string message = usage_error([] { parse_name("my bucket"); });
    CHECK(contains(message, "a space"));
}

TEST_CASE("a name with braces is refused and the brace is named", "[parse]") {
    CHECK(contains(usage_error([] { parse_name("a{b"); }), "'{'"));
    CHECK(contains(usage_error([] { parse_name("a}b"); }), "'}'"));
}

TEST_CASE("a name with glob characters is refused and the character is named", "[parse]") {
    for (char c : std::string_view("*?[]")) {
        std::string name = std::string("a") + c;
        INFO("name: " << name);
        std::string message = usage_error([&] { parse_name(name); });
        CHECK(contains(message, std::string("'") + c + "'"));
    }
}

TEST_CASE("a name with other punctuation is refused and the character is named", "[parse]") {
    for (char c : std::string_view("!\"#$%&'(),;<=>\\^`|~")) {
        std::string name = std::string("a") + c;
        INFO("name: " << name);
        std::string message = usage_error([&] { parse_name(name); });
        CHECK(contains(message, std::string("'") + c + "'"));
    }
}

TEST_CASE("a name with a control byte is refused and the byte is named in hex", "[parse]") {
    CHECK(contains(usage_error([] { parse_name("a\x01"); }), "byte 0x01"));
    CHECK(contains(usage_error([] { parse_name("a\tb"); }), "byte 0x09"));
    CHECK(contains(usage_error([] { parse_name("a\nb"); }), "byte 0x0a"));
    CHECK(contains(usage_error([] { parse_name("a\x7f"); }), "byte 0x7f"));
    CHECK(contains(usage_error([] { parse_name(std::string_view("a\0b", 3)); }), "byte 0x00"));
}

TEST_CASE("a name's error message does not echo raw control bytes", "[parse]") {
    std::string message = usage_error([] { parse_name("evil\n\x1b[2Jname"); });
    CHECK_FALSE(contains(message, "\n"));
    CHECK_FALSE(contains(message, "\x1b"));
}

TEST_CASE("a name with non-ASCII bytes is refused and the byte is named in hex", "[parse]") {
    CHECK(contains(usage_error([] { parse_name("a\xff"); }), "byte 0xff"));
    CHECK(contains(usage_error([] { parse_name("caf\xc3\xa9"); }), "byte 0xc3"));
}

// ---------------------------------------------------------------- patterns

TEST_CASE("a pattern may hold name characters and glob characters", "[parse]") {
    for (std::string_view p : {"*", "user:*", "a?b", "[ab]*", "[^a]x", "\\*", "api/v1@x+y_z-w.q"}) {
        INFO("pattern: " << p);
        CHECK(parse_pattern(p) == p);
    }
}

TEST_CASE("an empty pattern is refused", "[parse]") {
    CHECK(contains(usage_error([] { parse_pattern(""); }), "empty"));
}

TEST_CASE("a pattern of 201 bytes is refused, 200 accepted", "[parse]") {
    std::string ok(200, '*');
    CHECK(parse_pattern(ok) == ok);
    usage_error([] { parse_pattern(std::string(201, '*')); });
}

TEST_CASE("a pattern with a space, a brace or a bad byte is refused and named", "[parse]") {
    CHECK(contains(usage_error([] { parse_pattern("a *"); }), "a space"));
    CHECK(contains(usage_error([] { parse_pattern("{a}*"); }), "'{'"));
    CHECK(contains(usage_error([] { parse_pattern("a!"); }), "'!'"));
    CHECK(contains(usage_error([] { parse_pattern("a\xff"); }), "byte 0xff"));
    CHECK(contains(usage_error([] { parse_pattern("a\x01"); }), "byte 0x01"));
}

// ---------------------------------------------------------------- counts

TEST_CASE("a count is a whole number", "[parse]") {
    CHECK(parse_count("count", "1") == 1);
    CHECK(parse_count("count", "42") == 42);
    CHECK(parse_count("count", "1000000") == 1000000);
}

TEST_CASE("a count of 0 is refused unless zero is allowed", "[parse]") {
    std::string message = usage_error([] { parse_count("count", "0"); });
    CHECK(contains(message, "count"));
    CHECK(parse_count("--tokens", "0", true) == 0);
}

TEST_CASE("2^53-1 is the largest count and 2^53 is refused", "[parse]") {
    CHECK(parse_count("count", "9007199254740991") == max_count);
    CHECK(parse_count("count", "9007199254740991", true) == 9007199254740991);
    std::string message = usage_error([] { parse_count("count", "9007199254740992"); });
    CHECK(contains(message, "9007199254740991"));
}

TEST_CASE("a huge count is refused without overflowing", "[parse]") {
    usage_error([] { parse_count("count", "99999999999999999999999999999999"); });
    usage_error([] { parse_count("count", "18446744073709551617"); });
}

TEST_CASE("a count that is not a plain whole number is refused", "[parse]") {
    for (std::string_view text : {"-3", "1.5", "abc", "1e3x", "1e3", "NaN", "nan", "inf", "+5",
                                  " 5", "5 ", "0x10", "1,000"}) {
        INFO("count: '" << text << "'");
        std::string message = usage_error([&] { parse_count("--capacity", text); });
        CHECK(contains(message, "--capacity"));
    }
}

TEST_CASE("an empty count is refused", "[parse]") {
    CHECK(contains(usage_error([] { parse_count("count", ""); }), "empty"));
    usage_error([] { parse_count("count", "", true); });
}

// ---------------------------------------------------------------- rates

TEST_CASE("rates with a bare unit mean one of that unit", "[parse]") {
    CHECK(parse_rate("10/s") == Rate{10, 1000});
    CHECK(parse_rate("100/min") == Rate{100, 60'000});
    CHECK(parse_rate("100/m") == Rate{100, 60'000});
    CHECK(parse_rate("0.5/h") == Rate{0.5, 3'600'000});
    CHECK(parse_rate("7/d") == Rate{7, 86'400'000});
    CHECK(parse_rate("3/ms") == Rate{3, 1});
}

TEST_CASE("rate periods may be written sec, second, min, minute, hour, day and plurals",
          "[parse]") {
    for (std::string_view unit : {"sec", "secs", "second", "seconds"})
        CHECK(parse_rate("10/" + std::string(unit)) == Rate{10, 1000});
    for (std::string_view unit : {"min", "mins", "minute", "minutes"})
        CHECK(parse_rate("10/" + std::string(unit)) == Rate{10, 60'000});
    CHECK(parse_rate("2/hour") == Rate{2, 3'600'000});
    CHECK(parse_rate("2/2hours") == Rate{2, 7'200'000});
    CHECK(parse_rate("5/day") == Rate{5, 86'400'000});
    CHECK(parse_rate("5/7days") == Rate{5, 7 * 86'400'000LL});
    CHECK(parse_rate("3/1min30sec") == Rate{3, 90'000});
}

TEST_CASE("an unknown rate unit is one line naming it and the units there are", "[parse]") {
    std::string message = usage_error([] { parse_rate("10/fortnight"); });
    CHECK(message ==
          "rate '10/fortnight': period has an unknown unit 'fortnight'; the units are ms, s, sec, "
          "secs, second, seconds, m, min, mins, minute, minutes, h, hour, hours, d, day, days");
}

TEST_CASE("rates with a numbered period", "[parse]") {
    CHECK(parse_rate("1/30s") == Rate{1, 30'000});
    CHECK(parse_rate("5000/1d") == Rate{5000, 86'400'000});
    CHECK(parse_rate("3/1m30s") == Rate{3, 90'000});
    CHECK(parse_rate("2/250ms") == Rate{2, 250});
    CHECK(parse_rate("1/1.5s") == Rate{1, 1500});
}

TEST_CASE("a rate with a bare number period means seconds: 10/60", "[parse]") {
    // SPEC §6: a duration may be a bare number of seconds.
    CHECK(parse_rate("10/60") == Rate{10, 60'000});
}

TEST_CASE("a rate amount of 1e15 is accepted and above it refused", "[parse]") {
    CHECK(parse_rate("1000000000000000/s") == Rate{1e15, 1000});
    CHECK(contains(usage_error([] { parse_rate("1000000000000001/s"); }), "1e15"));
    usage_error([] { parse_rate("2000000000000000/s"); });
}

TEST_CASE("a zero or negative rate amount is refused", "[parse]") {
    usage_error([] { parse_rate("0/s"); });
    usage_error([] { parse_rate("0.0/s"); });
    usage_error([] { parse_rate("-1/s"); });
}

TEST_CASE("a zero rate period is refused", "[parse]") {
    usage_error([] { parse_rate("1/0s"); });
    usage_error([] { parse_rate("1/0"); });
    usage_error([] { parse_rate("1/0ms"); });
}

TEST_CASE("malformed rates are refused", "[parse]") {
    for (std::string_view text :
         {"1/s/s",       "1/",    "/s",    "/",     "10",     "",      "1e3/s",
          "1/fortnight", "nan/s", "inf/s", "NaN/s", "1/200y", "1 /s",  "1/ s",
          "1/s ",        "+1/s",  "1./s",  ".5/s",  "1/S",    "1/-1s", "1/1e3s"}) {
        INFO("rate: '" << text << "'");
        usage_error([&] { parse_rate(text); });
    }
}

TEST_CASE("a rate period above 100 years is refused", "[parse]") {
    CHECK(contains(usage_error([] { parse_rate("1/36501d"); }), "100 years"));
    CHECK(parse_rate("1/36500d") == Rate{1, max_duration_ms});
}

// A period is stored in whole milliseconds: rounding one would store
// another rate than the one typed (1/1.5ms was stored as 1/2ms).
TEST_CASE("a rate period that is not a whole number of milliseconds is refused", "[parse]") {
    std::string message = usage_error([] { parse_rate("1/1.5ms"); });
    CHECK(contains(message, "whole number of milliseconds"));
    CHECK(contains(message, "write 2/3ms"));
    CHECK(contains(usage_error([] { parse_rate("1/0.4ms"); }), "write 5/2ms"));
    CHECK(contains(usage_error([] { parse_rate("3/0.0005s"); }), "write 6/1ms"));
    CHECK(contains(usage_error([] { parse_rate("1/0.0001"); }), "write 10/1ms"));
    // No whole-number rewrite within the limits: the message says how.
    CHECK(contains(usage_error([] { parse_rate("0.1/1.5ms"); }), "scale amount and period up"));
    CHECK(contains(usage_error([] { parse_rate("1/1.00000000001ms"); }), "whole number"));
    CHECK(contains(usage_error([] { parse_rate("1/36499d23h59m59s999.5ms"); }), "whole number"));
}

TEST_CASE("a rate period with decimals that make whole milliseconds is exact", "[parse]") {
    // 1.001 * 1000 is 1000.9999999999999 in doubles: decimals are read exactly.
    CHECK(parse_rate("1/1.001s") == Rate{1, 1001});
    CHECK(parse_rate("1/0.001s") == Rate{1, 1});
    CHECK(parse_rate("1/1.50000000000000000000s") == Rate{1, 1500});
    CHECK(parse_rate("1/0.5ms0.5ms") == Rate{1, 1});
    CHECK(parse_rate("1/0.00001d") == Rate{1, 864});
    CHECK(contains(usage_error([] { parse_rate("1/0.0000001d"); }), "write 25/216ms"));
}

// ---------------------------------------------------------------- durations

TEST_CASE("durations with a unit", "[parse]") {
    CHECK(parse_duration_ms("--timeout", "250ms") == 250);
    CHECK(parse_duration_ms("--timeout", "30s") == 30'000);
    CHECK(parse_duration_ms("--timeout", "5m") == 300'000);
    CHECK(parse_duration_ms("--timeout", "5min") == 300'000);
    CHECK(parse_duration_ms("--timeout", "2h") == 7'200'000);
    CHECK(parse_duration_ms("--timeout", "1d") == 86'400'000);
    CHECK(parse_duration_ms("--timeout", "1.5s") == 1500);
    CHECK(parse_duration_ms("--timeout", "0s") == 0);
    CHECK(parse_duration_ms("--timeout", "0ms") == 0);
}

TEST_CASE("durations may combine units", "[parse]") {
    CHECK(parse_duration_ms("--timeout", "1m30s") == 90'000);
    CHECK(parse_duration_ms("--timeout", "1h5m") == 3'900'000);
    CHECK(parse_duration_ms("--timeout", "1d2h3m4s5ms") == 93'784'005);
}

TEST_CASE("a positive duration below 1ms counts as 1ms", "[parse]") {
    CHECK(parse_duration_ms("--timeout", "0.0001s") == 1);
    CHECK(parse_duration_ms("--timeout", "0.4ms") == 1);
}

// The rule: durations that are stored (a rate's period, --expire) must be
// whole milliseconds or are refused; waits and timeouts (--wait, --timeout,
// --connect-timeout, --timeout-io) are rounded to the nearest millisecond,
// at least 1ms, since a wait a fraction of a millisecond off is harmless.
TEST_CASE("waits and timeouts round to the millisecond", "[parse]") {
    CHECK(parse_duration_ms("--timeout", "1.4ms") == 1);
    CHECK(parse_duration_ms("--timeout", "1.5ms") == 2);
    CHECK(parse_duration_ms("--wait", "0.0004s") == 1);
}

TEST_CASE("a stored duration must be a whole number of milliseconds", "[parse]") {
    CHECK(parse_exact_duration_ms("--expire", "1.001s") == 1001);
    CHECK(parse_exact_duration_ms("--expire", "1m30s") == 90'000);
    CHECK(parse_exact_duration_ms("--expire", "0.5") == 500);
    CHECK(parse_exact_duration_ms("--expire", "36500d") == max_duration_ms);
    CHECK(parse_exact_duration_ms("--expire", "0") == 0);
    for (std::string_view text : {"1.5ms", "0.4ms", "0.0001", "1s0.5ms", "0.0000001d"}) {
        INFO("duration: '" << text << "'");
        std::string message = usage_error([&] { parse_exact_duration_ms("--expire", text); });
        CHECK(contains(message, "--expire"));
        CHECK(contains(message, "whole number of milliseconds"));
    }
    // The syntax and range checks are parse_duration_ms's.
    CHECK(
        contains(usage_error([] { parse_exact_duration_ms("--expire", "36501d"); }), "100 years"));
    CHECK(contains(usage_error([] { parse_exact_duration_ms("--expire", "1x"); }), "unknown unit"));
}

TEST_CASE("a bare number of seconds is a duration: 1.5 is 1500ms", "[parse]") {
    // SPEC §6: "or a bare number of seconds (1.5)".
    CHECK(parse_duration_ms("--timeout", "1.5") == 1500);
    CHECK(parse_duration_ms("--timeout", "30") == 30'000);
}

TEST_CASE("a bare 0 is a zero duration", "[parse]") {
    CHECK(parse_duration_ms("--timeout", "0") == 0);
}

TEST_CASE("a bare positive number below 1ms counts as 1ms: 0.0001", "[parse]") {
    CHECK(parse_duration_ms("--timeout", "0.0001") == 1);
}

TEST_CASE("a duration of 100 years is accepted and longer refused", "[parse]") {
    CHECK(parse_duration_ms("--timeout", "36500d") == max_duration_ms);
    std::string message = usage_error([] { parse_duration_ms("--timeout", "36501d"); });
    CHECK(contains(message, "100 years"));
    usage_error([] { parse_duration_ms("--timeout", "36500d1ms"); });
    usage_error([] { parse_duration_ms("--timeout", "99999999999999999999999999h"); });
}

TEST_CASE("malformed durations are refused and the option is named", "[parse]") {
    for (std::string_view text :
         {"-1",  "-1s", "1x",  "1m30", "s",   "1..5", "1..5s", "nan", "inf", "NaN", "infs",
          "1 s", " 1s", "1s ", "1e3s", "+1s", "1S",   "1.s",   ".5s", "ms",  "1s2"}) {
        INFO("duration: '" << text << "'");
        std::string message = usage_error([&] { parse_duration_ms("--timeout", text); });
        CHECK(contains(message, "--timeout"));
    }
}

TEST_CASE("an empty duration is refused", "[parse]") {
    std::string message = usage_error([] { parse_duration_ms("--timeout", ""); });
    CHECK(contains(message, "--timeout"));
    CHECK(contains(message, "empty"));
}

// ---------------------------------------------------------------- formatting

TEST_CASE("format_rate gives the canonical form of the rate examples", "[parse]") {
    CHECK(format_rate(parse_rate("10/s")) == "10/s");
    CHECK(format_rate(parse_rate("100/min")) == "100/min");
    CHECK(format_rate(parse_rate("100/m")) == "100/min");
    CHECK(format_rate(parse_rate("1/30s")) == "1/30s");
    CHECK(format_rate(parse_rate("0.5/h")) == "0.5/h");
    CHECK(format_rate(parse_rate("5000/1d")) == "5000/d");
    CHECK(format_rate(parse_rate("3/1m30s")) == "3/1m30s");
    CHECK(format_rate(parse_rate("2/250ms")) == "2/250ms");
}

TEST_CASE("parse_rate(format_rate(r)) == r", "[parse]") {
    std::vector<double> amounts{1,       10,     0.5,      1.0 / 3, 2.0 / 3,    0.1,
                                1e-7,    1.5e-7, 123.456,  1e15,    1e14 + 0.5, 999999999999999.9,
                                0.00001, 7.25,   12345678, 1e-12};
    std::vector<int64_t> periods{
        1,      2,      250,       999,       1000,       1001,       30'000,
        60'000, 90'000, 3'600'000, 3'660'000, 86'400'000, 93'784'005, max_duration_ms};
    for (double amount : amounts) {
        for (int64_t period : periods) {
            Rate rate{amount, period};
            std::string text = format_rate(rate);
            INFO("amount " << amount << " period " << period << " formatted " << text);
            CHECK(parse_rate(text) == rate);
        }
    }
}

TEST_CASE("format_tokens rounds down to 2 decimals", "[parse]") {
    CHECK(format_tokens(7.256) == "7.25");
    CHECK(format_tokens(4.9999) == "4.99");
    CHECK(format_tokens(5) == "5");
    CHECK(format_tokens(0) == "0");
    CHECK(format_tokens(0.5) == "0.5");
    CHECK(format_tokens(0.009418) == "0");
    CHECK(format_tokens(9007199254740991.0) == "9007199254740991");
}

TEST_CASE("format_tokens does not lose a hundredth to binary rounding: 8.2 shows as 8.2",
          "[parse]") {
    // 8.2 is stored as 8.1999999999999993; 8.2 * 100 floors to 819.
    CHECK(format_tokens(8.2) == "8.2");
    CHECK(format_tokens(2.3) == "2.3");
    CHECK(format_tokens(0.29) == "0.29");
}

TEST_CASE("format_duration_ms gives short human durations", "[parse]") {
    CHECK(format_duration_ms(0) == "0ms");
    CHECK(format_duration_ms(250) == "250ms");
    CHECK(format_duration_ms(1000) == "1s");
    CHECK(format_duration_ms(16500) == "16.5s");
    CHECK(format_duration_ms(90'000) == "1m30s");
    CHECK(format_duration_ms(120'000) == "2m");
    CHECK(format_duration_ms(3'900'000) == "1h5m");
    CHECK(format_duration_ms(7'200'000) == "2h");
    CHECK(format_duration_ms(86'400'000) == "1d");
    CHECK(format_duration_ms(3 * 86'400'000 + 2 * 3'600'000) == "3d2h");
}

TEST_CASE("format_duration_ms rounds up and parses back to at least the duration", "[parse]") {
    CHECK(format_duration_ms(1001) == "1.1s");
    CHECK(format_duration_ms(60'001) == "1m1s");
    uint64_t x = 12345;
    for (int i = 0; i < 3000; ++i) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t scale = int64_t{1} << ((x >> 33) % 40);
        int64_t ms = static_cast<int64_t>((x >> 11) % static_cast<uint64_t>(scale));
        std::string text = format_duration_ms(ms);
        INFO("ms " << ms << " formatted " << text);
        int64_t back = parse_duration_ms("d", text);
        CHECK(back >= ms);
    }
}

TEST_CASE("format_exact_ms and format_period_ms are exact", "[parse]") {
    CHECK(format_exact_ms(0) == "0s");
    CHECK(format_exact_ms(250) == "250ms");
    CHECK(format_exact_ms(1000) == "1s");
    CHECK(format_exact_ms(90'000) == "1m30s");
    CHECK(format_exact_ms(3'600'000) == "1h");
    CHECK(format_exact_ms(93'784'005) == "1d2h3m4s5ms");
    CHECK(format_period_ms(1000) == "s");
    CHECK(format_period_ms(60'000) == "min");
    CHECK(format_period_ms(3'600'000) == "h");
    CHECK(format_period_ms(86'400'000) == "d");
    CHECK(format_period_ms(30'000) == "30s");
    for (int64_t ms : {int64_t{1}, int64_t{999}, int64_t{1001}, int64_t{93'784'005},
                       max_duration_ms, max_duration_ms - 1}) {
        INFO("ms " << ms);
        CHECK(parse_duration_ms("d", format_exact_ms(ms)) == ms);
    }
}

TEST_CASE("format_amount gives the shortest plain decimal", "[parse]") {
    CHECK(format_amount(0.00001) == "0.00001");
    CHECK(format_amount(1e15) == "1000000000000000");
    CHECK(format_amount(0.5) == "0.5");
    CHECK(format_amount(10) == "10");
    CHECK(format_amount(1) == "1");
    CHECK(format_amount(1.5e-7) == "0.00000015");
    CHECK(format_amount(123.456) == "123.456");
    CHECK(format_amount(1e6) == "1000000");
    CHECK(format_amount(0.1 + 0.2) == "0.30000000000000004");
    CHECK(format_amount(1e21) == "1000000000000000000000");
    CHECK(format_amount(9007199254740993.0) == "9007199254740992");
    // Past 2^53 (beyond any count or amount) integers are written exactly.
    CHECK(format_amount(47385443869851264.0) == "47385443869851264");
    CHECK(format_amount(1.0 / 3) == "0.3333333333333333");
}

// Reads back exactly, and (below 2^53, where every count and amount lies)
// no decimal with one significant digit less does.
TEST_CASE("format_amount is exact and shortest over many values", "[parse]") {
    std::mt19937_64 random(42);
    std::uniform_real_distribution<double> exponent(-12, 16);
    for (int i = 0; i < 20000; ++i) {
        double value = std::pow(10.0, exponent(random)) *
                       std::uniform_real_distribution<double>(1, 10)(random);
        std::string text = format_amount(value);
        INFO(text);
        REQUIRE(text.find_first_not_of("0123456789.") == std::string::npos);
        double back = 0;
        std::from_chars(text.data(), text.data() + text.size(), back);
        REQUIRE(back == value);
        std::string digits;  // significant ones: no point, no leading or trailing zeros
        for (char c : text)
            if (c != '.') digits += c;
        digits.erase(0, digits.find_first_not_of('0'));
        digits.erase(digits.find_last_not_of('0') + 1);
        char shorter[400];
        std::snprintf(shorter, sizeof shorter, "%.*g", static_cast<int>(digits.size()) - 1, value);
        if (digits.size() > 1 && value < 9007199254740992.0)
            CHECK(std::strtod(shorter, nullptr) != value);
    }
}

TEST_CASE("windows: a count and a unit that align, in canonical form", "[parse][window]") {
    CHECK(format_window(parse_window("1d")) == "1d");
    CHECK(format_window(parse_window("day")) == "1d");
    CHECK(format_window(parse_window("15min")) == "15m");
    CHECK(format_window(parse_window("month")) == "1mo");
    CHECK(format_window(parse_window("3mo")) == "3mo");
    CHECK(format_window(parse_window("12mo")) == "12mo");
    CHECK(format_window(parse_window("week")) == "1w");
    CHECK(format_window(parse_window("6h")) == "6h");
    CHECK(describe_window(parse_window("1d")) == "1d UTC");
    CHECK(describe_window(parse_window("1d", "Europe/Berlin")) == "1d Europe/Berlin");
}

TEST_CASE("windows: units that would not align, and bad text, are refused with the reason",
          "[parse][window]") {
    auto refused = [](const char* text, const char* reason) {
        INFO(text);
        try {
            parse_window(text);
            FAIL("accepted");
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::usage);
            CHECK_THAT(e.what(), Catch::Contains(reason));
        }
    };
    refused("7d", "one calendar day (1d)");
    refused("2w", "one ISO week");
    refused("7m", "minutes that divide an hour");
    refused("5h", "hours that divide a day");
    refused("5mo", "months that divide a year");
    refused("0d", "one calendar day");
    refused("", "expected a count and a unit");
    refused("1y", "expected a count and a unit");
    refused("d1", "expected a count and a unit");
    refused("100m", "too many");
}

}  // namespace
}  // namespace tbucket
