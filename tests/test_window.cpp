// Calendar windows (--window, --tz; SPEC §13 "Kinds"): the built binary
// against a real redis-server. Time zones here are compiled for the test
// with zic(8) into a private TZDIR, so that a zone's offset change or a
// window's end falls seconds from now on the server's real clock; the
// scripts' calendar arithmetic across Europe/Berlin's real changes is in
// tests/lua/test_common.lua, the offsets the client reads in "zone offsets".

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "support/e2e.h"
#include "util/error.h"
#include "util/zone.h"

using namespace tbucket::test;
using nlohmann::json;

namespace {

// A TZDIR holding the zones of `source` (zic's input), for tbucket and for
// this process's own C library.
struct Zones {
    TempDir temp{"zones"};
    const std::string dir = temp.path;
    explicit Zones(const std::string& source) {
        std::ofstream(dir + "/zones.txt") << source;
        RunResult made = run({"zic", "-d", dir, dir + "/zones.txt"});
        if (made.code != 0) throw std::runtime_error("zic failed: " + made.err);
    }
    RunOptions options() const { return with_env({{"TZDIR", dir}}); }
};

std::string utc_text(int64_t s) {
    time_t t = static_cast<time_t>(s);
    struct tm u {};
    gmtime_r(&t, &u);
    char text[64];
    std::strftime(text, sizeof text, "%Y %b %d %H:%M:%Su", &u);
    return text;
}

int64_t now_s() {
    return static_cast<int64_t>(::time(nullptr));
}

json one_json(const RunResult& r) {
    INFO(describe(r));
    REQUIRE(!r.out.empty());
    return json::parse(r.out);
}

int64_t end_of(const json& j) {
    return j.at("server_time_ms").get<int64_t>() + j.at("resets_in_ms").get<int64_t>();
}

}  // namespace

TEST_CASE("kinds: create, info and JSON say rate, window or semaphore", "[window]") {
    RunResult r = tb({"-v", "create", "r", "--capacity", "5", "--rate", "1/s"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("rate: refill 1/s"));
    r = tb({"-v", "create", "w", "--capacity", "5", "--window", "1h"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("window: 5 per 1h UTC, resets in "));
    r = tb({"-v", "create", "s", "--capacity", "5"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("semaphore: no refill"));
    r = tb({"--json", "info", "r", "w", "s"});
    REQUIRE(r.code == 0);
    std::vector<json> lines = json_lines(r.out);
    REQUIRE(lines.size() == 3);
    CHECK(lines[0]["kind"] == "rate");
    CHECK(lines[0]["window"].is_null());
    CHECK(lines[0]["resets_in_ms"].is_null());
    CHECK(lines[1]["kind"] == "window");
    CHECK(lines[1]["window"] == json({{"length", "1h"}, {"zone", "UTC"}}));
    CHECK(lines[1]["rate"].is_null());
    CHECK(lines[1]["resets_in_ms"].get<int64_t>() > 0);
    CHECK(lines[1]["resets_in_ms"].get<int64_t>() <= 3'600'000);
    CHECK(end_of(lines[1]) % 3'600'000 == 0);  // an hour ends on the hour, UTC
    CHECK(lines[2]["kind"] == "semaphore");
}

TEST_CASE("windows: bad settings are refused with one line and exit 2, Redis untouched",
          "[window]") {
    struct Case {
        std::vector<std::string> args;
        const char* says;
    };
    const Case cases[] = {
        {{"create", "x", "--capacity", "5", "--window", "7d"}, "one calendar day"},
        {{"create", "x", "--capacity", "5", "--window", "1d", "--rate", "1/s"}, "not both"},
        {{"create", "x", "--capacity", "5", "--tz", "Europe/Berlin"}, "give --window too"},
        {{"create", "x", "--capacity", "5", "--window", "1d", "--tz", "Mars/Olympus"},
         "not a known time zone"},
        {{"create", "x", "--capacity", "5", "--window", "1d", "--tz", "../etc/passwd"},
         "not a time zone name"},
        {{"take", "x", "--window", "1d"}, "--capacity"},
    };
    for (const Case& c : cases) {
        RunResult r = tb(c.args);
        INFO(describe(r));
        CHECK(r.code == 2);
        CHECK(one_error_line(r.err));
        CHECK_THAT(r.err, Catch::Contains(c.says));
    }
    CHECK(redis().integer({"DBSIZE"}) == 0);
}

TEST_CASE("windows: other settings are exit 4, and a lease on a window is exit 2", "[window]") {
    REQUIRE(tb({"create", "w", "--capacity", "2", "--window", "1d"}).code == 0);
    // The same settings again, inline or by create, are no change.
    CHECK(tb({"take", "w", "--capacity", "2", "--window", "1d"}).code == 0);
    CHECK(tb({"put", "w", "--capacity", "2", "--window", "1d"}).code == 0);
    CHECK(tb({"create", "w", "--capacity", "2", "--window", "1d"}).code == 0);
    REQUIRE(tb({"create", "wz", "--capacity", "2", "--window", "1d", "--tz", "Asia/Tokyo"}).code ==
            0);
    CHECK(tb({"take", "wz", "--capacity", "2", "--window", "1d", "--tz", "Asia/Tokyo"}).code == 0);
    CHECK(tb({"take", "wz", "--capacity", "2", "--window", "1d"}).code == 4);
    RunResult r = tb({"create", "w", "--capacity", "2", "--window", "1h"});
    CHECK(r.code == 4);
    CHECK_THAT(r.err,
               Catch::Contains("(capacity 2, window 1d UTC); asked for capacity 2, window 1h UTC"));
    r = tb({"take", "w", "--capacity", "2", "--rate", "2/d"});
    CHECK(r.code == 4);
    r = tb({"run", "w", "--lease", "5s", "--", "true"});
    CHECK(r.code == 2);
    CHECK_THAT(r.err,
               Catch::Contains("refills (window 1d UTC): leases are for buckets without refill"));
    // run without --lease consumes from a window, as from a rate.
    r = tb({"run", "w", "--", "true"});
    CHECK(r.code == 0);
    CHECK(json::parse(tb({"--json", "info", "w"}).out)["tokens"] == 1);
}

TEST_CASE("windows: at most capacity per window, and a denial and a waiter know when it ends",
          "[window]") {
    // A zone 37 s off UTC puts this test's minute boundaries at :23 past
    // each UTC minute; whatever the boundary, the checks below hold: they
    // compare with what the server says, not with a clock here.
    Zones zones("Zone Test/Seconds 0:00:37 - TSEC\n");
    RunOptions o = zones.options();
    json made = one_json(tb(
        {"--json", "create", "m", "--capacity", "2", "--window", "1m", "--tz", "Test/Seconds"}, o));
    CHECK(made["window"] == json({{"length", "1m"}, {"zone", "Test/Seconds"}}));
    CHECK((end_of(made) / 1000 + 37) % 60 == 0);  // a local minute's end
    CHECK(end_of(made) % 1000 == 0);
    // Take until denied; the window may end in between: count per window.
    std::map<int64_t, int> granted;
    int64_t end1 = 0;
    for (int i = 0; i < 20 && end1 == 0; ++i) {
        RunResult r = tb({"--json", "take", "m"}, o);
        json j = one_json(r);
        if (j["ok"] == true) {
            CHECK(r.code == 0);
            ++granted[end_of(j)];
            continue;
        }
        CHECK(r.code == 1);
        CHECK(j["retry_after_ms"] == j["resets_in_ms"]);
        end1 = end_of(j);
    }
    REQUIRE(end1 > 0);
    CHECK(granted[end1] == 2);
    for (const auto& [end, count] : granted) CHECK(count <= 2);
    // A waiter sleeps until the window ends, then gets a token of the next.
    RunResult waited = tb({"--json", "take", "m", "--wait=5m"}, [&] {
        RunOptions w = o;
        w.timeout_s = 400;
        return w;
    }());
    json g = one_json(waited);
    CHECK(waited.code == 0);
    CHECK(g["ok"] == true);
    CHECK(g["server_time_ms"].get<int64_t>() >= end1);
    CHECK(end_of(g) == end1 + 60'000);
    CHECK(g["tokens"] == 1);  // full again (2), less the waiter's token
}

// A UTC offset as zic writes it: [-]H:MM.
std::string offset_text(int64_t s) {
    int64_t m = (s < 0 ? -s : s) / 60;
    std::string minutes = std::to_string(m % 60);
    return (s < 0 ? "-" : "") + std::to_string(m / 60) + ":" + (m % 60 < 10 ? "0" : "") + minutes;
}

TEST_CASE("windows: a day ends at local midnight with the offset in force then", "[window]") {
    // The zone moves 3 hours east two minutes from now; the day's end must
    // use the later offset, as the C library computes it. The offsets are
    // picked so that the move goes from about 09:00 to 12:00 local time,
    // whatever the time of day: a move across midnight would skip it (the
    // test failed so between 20:00 and 23:00 UTC, when it moved UTC+1 to +4).
    const int64_t change = now_s() + 120;
    const int64_t after = (43'200 - change % 86'400) / 60 * 60;  // 12:00 local, to the minute
    const int64_t before = after - 3 * 3'600;
    Zones zones("Zone Test/Shift " + offset_text(before) + " - TSA " + utc_text(change) +
                "\n\t\t\t" + offset_text(after) + " - TSB\n");
    json made = one_json(
        tb({"--json", "create", "d", "--capacity", "3", "--window", "1d", "--tz", "Test/Shift"},
           zones.options()));
    const int64_t at = made["server_time_ms"].get<int64_t>() / 1000;
    // The next local midnight after `at`, by this process's C library.
    setenv("TZDIR", zones.dir.c_str(), 1);
    setenv("TZ", ":Test/Shift", 1);
    tzset();
    time_t t = static_cast<time_t>(at);
    struct tm local {};
    localtime_r(&t, &local);
    local.tm_mday += 1;
    local.tm_hour = local.tm_min = local.tm_sec = 0;
    local.tm_isdst = -1;
    const int64_t midnight = static_cast<int64_t>(mktime(&local));
    unsetenv("TZ");
    unsetenv("TZDIR");
    tzset();
    CHECK(end_of(made) == midnight * 1000);
    // The offsets the scripts used, stored beside the bucket.
    std::string stored = redis().string({"GET", "tbucket:{d}:z"});
    CHECK_THAT(stored, Catch::StartsWith("Test/Shift "));
    CHECK_THAT(stored, Catch::Contains(" " + std::to_string(change) + ":" + std::to_string(after)));
    CHECK(redis().integer({"TTL", "tbucket:{d}:z"}) > 700 * 86'400);
}

TEST_CASE("windows: offsets that ran out are computed again, and the call goes through",
          "[window]") {
    REQUIRE(
        tb({"create", "b", "--capacity", "3", "--window", "1d", "--tz", "Europe/Berlin"}).code ==
        0);
    // As if the stored offsets had run out (their key expires when they do).
    redis().command({"DEL", "tbucket:{b}:z"});
    redis().command({"HSET", "tbucket:{b}", "we", "1"});
    RunResult r = tb({"--json", "take", "b"});
    INFO(describe(r));
    CHECK(r.code == 0);
    CHECK(json::parse(r.out)["tokens"] == 2);
    CHECK_THAT(redis().string({"GET", "tbucket:{b}:z"}), Catch::StartsWith("Europe/Berlin "));
}

TEST_CASE("windows: a hand-edited zone that is no zone is exit 65, and never reaches TZ",
          "[window]") {
    REQUIRE(
        tb({"create", "hz", "--capacity", "3", "--window", "1d", "--tz", "Europe/Berlin"}).code ==
        0);
    redis().command({"DEL", "tbucket:{hz}:z"});
    // Its window over, so that the script needs the zone's offsets.
    redis().command({"HSET", "tbucket:{hz}", "z", "../../etc/passwd", "we", "1"});
    const std::string before = redis().dump_hash("tbucket:{hz}");
    RunResult r = tb({"take", "hz"});
    INFO(describe(r));
    CHECK(r.code == 65);
    CHECK(one_error_line(r.err));
    CHECK_THAT(r.err, Catch::Contains("has a time zone that is not one"));
    CHECK(redis().dump_hash("tbucket:{hz}") == before);
    CHECK(redis().integer({"EXISTS", "tbucket:{hz}:z"}) == 0);
}

TEST_CASE("windows: several buckets, a rate and a window, in one decision", "[window]") {
    REQUIRE(tb({"create", "sec", "--capacity", "5", "--rate", "5/s"}).code == 0);
    REQUIRE(tb({"create", "day", "--capacity", "2", "--window", "1d"}).code == 0);
    CHECK(tb({"take", "sec,day"}).code == 0);
    CHECK(tb({"take", "sec,day"}).code == 0);
    RunResult r = tb({"take", "sec,day"});
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Catch::Contains("'day' has 0 tokens of 1"));
}

TEST_CASE("zone offsets: Europe/Berlin's changes of 2027, to the second", "[window]") {
    int64_t until = 0;
    // 2027-01-01T00:00:00Z
    std::string text = tbucket::zone_offsets("Europe/Berlin", 1798761600, until);
    CHECK(until == 1798761600 + 800 * 86'400);
    CHECK_THAT(text, Catch::StartsWith("Europe/Berlin " + std::to_string(until) + " " +
                                       std::to_string(1798761600 - 86'400) + ":3600 "));
    CHECK_THAT(text,
               Catch::Contains(" 1806195600:7200 1824944400:3600 "));  // Mar 28, Oct 31 01:00Z
    CHECK_THROWS_AS(tbucket::check_zone("No/Such_Zone"), tbucket::Error);
    CHECK_NOTHROW(tbucket::check_zone("Europe/Berlin"));
}

TEST_CASE("a take on a window bucket is one command, as on any bucket", "[window]") {
    REQUIRE(tb({"create", "one", "--capacity", "100", "--window", "1h"}).code == 0);
    REQUIRE(tb({"take", "one"}).code == 0);  // the take script cached (NOSCRIPT, then EVAL)
    long long before = redis().command_calls("evalsha") + redis().command_calls("eval");
    for (int i = 0; i < 10; ++i) REQUIRE(tb({"take", "one"}).code == 0);
    long long after = redis().command_calls("evalsha") + redis().command_calls("eval");
    CHECK(after - before == 10);
}
