// The Prometheus text exposition (cli/prometheus.cpp) checked by a small
// parser of the format's grammar: comments, then samples of one family
// together, names and label values as the format allows.

#include <catch2/catch.hpp>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "prometheus.h"
#include "shown.h"

using tbucket::Counters;
using tbucket::Rate;
using tbucket::State;

namespace {

State bucket(const std::string& name, int64_t capacity, double tokens) {
    State s;
    s.name = name;
    s.capacity = capacity;
    s.tokens = tokens;
    s.counters = Counters{3, 1, 4, 1.5, 2, 0, 0};
    return s;
}

// Every sample "name{labels} value" of a well-formed exposition, keyed by
// name and labels; FAILs on a line the format does not allow, a family
// whose samples are split or whose TYPE comes after them.
std::map<std::string, double> parse(const std::string& text) {
    static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+)");
    static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge))");
    static const std::regex sample(
        R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\}) (\S+))");
    std::map<std::string, double> samples;
    std::set<std::string> done;
    std::string current, current_type;
    std::istringstream in(text);
    std::string line;
    std::smatch m;
    while (std::getline(in, line)) {
        if (std::regex_match(line, m, help)) {
            REQUIRE(done.count(m[1]) == 0);
            if (!current.empty()) done.insert(current);
            current = m[1];
        } else if (std::regex_match(line, m, type)) {
            REQUIRE(m[1] == current);
            current_type = m[2];
        } else {
            INFO(line);
            REQUIRE(std::regex_match(line, m, sample));
            REQUIRE(m[1] == current);
            if (current_type == "counter") CHECK(current.size() > 6);
            if (current_type == "counter") CHECK(current.substr(current.size() - 6) == "_total");
            std::size_t used = 0;
            double v = std::stod(m[3], &used);
            CHECK(used == m[3].str().size());
            samples[std::string(m[1]) + std::string(m[2])] = v;
        }
    }
    CHECK((text.empty() || text.back() == '\n'));
    return samples;
}

}  // namespace

TEST_CASE("prometheus text is well-formed and has each figure once per bucket", "[prometheus]") {
    State a = bucket("api", 10, 7.25);
    a.rate = Rate{2, 1000};
    State b = bucket("sem", 3, 3);
    b.leased = 2;
    b.queued = 4;
    auto s = parse(tbucket::cli::prometheus_text({a, b}, false));
    CHECK(s.at(R"(tbucket_tokens{bucket="api"})") == 7.25);
    CHECK(s.at(R"(tbucket_available_tokens{bucket="api"})") == 7);
    CHECK(s.at(R"(tbucket_capacity_tokens{bucket="sem"})") == 3);
    CHECK(s.at(R"(tbucket_refill_tokens_per_second{bucket="api"})") == 2);
    CHECK(s.count(R"(tbucket_refill_tokens_per_second{bucket="sem"})") == 0);
    CHECK(s.at(R"(tbucket_leased_tokens{bucket="sem"})") == 2);
    CHECK(s.at(R"(tbucket_leased_tokens{bucket="api"})") == 0);
    CHECK(s.at(R"(tbucket_waiters{bucket="sem"})") == 4);
    CHECK(s.count(R"(tbucket_waiters{bucket="api"})") == 0);  // not known: not info's
    CHECK(s.at(R"(tbucket_grants_total{bucket="api"})") == 3);
    CHECK(s.at(R"(tbucket_denials_total{bucket="api"})") == 1);
    CHECK(s.at(R"(tbucket_taken_tokens_total{bucket="api"})") == 4);
    CHECK(s.at(R"(tbucket_put_tokens_total{bucket="api"})") == 1.5);
    CHECK(s.at(R"(tbucket_waits_served_total{bucket="api"})") == 2);
    CHECK(s.at(R"(tbucket_leases_expired_total{bucket="api"})") == 0);
    CHECK(s.at(R"(tbucket_data_losses_total{bucket="api"})") == 0);
    CHECK(s.size() == 26);  // 4 gauges x 2, rate and waiters x 1, 8 counters x 2
}

TEST_CASE("prometheus label values escape backslash, quote and newline", "[prometheus]") {
    CHECK(tbucket::cli::prometheus_label("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
    State a = bucket("api", 1, 1);
    a.node = "/tmp/we\"ird\\dir\n/s";
    auto s = parse(tbucket::cli::prometheus_text({a}, true));
    CHECK(s.count(R"(tbucket_tokens{bucket="api",node="/tmp/we\"ird\\dir\n/s"})") == 1);
}

TEST_CASE("prometheus text of no buckets is empty, and a rate per second is exact",
          "[prometheus]") {
    CHECK(tbucket::cli::prometheus_text({}, false).empty());
    State a = bucket("slow", 5, 0);
    a.rate = Rate{1, 60000};
    auto s = parse(tbucket::cli::prometheus_text({a}, false));
    CHECK(s.at(R"(tbucket_refill_tokens_per_second{bucket="slow"})") == Approx(1.0 / 60));
}

TEST_CASE("a name from Redis that is not UTF-8 is a valid, escaped label value", "[prometheus]") {
    CHECK(tbucket::cli::prometheus_label(std::string("a\xff"
                                                     "b")) == "a\\\\xffb");
    CHECK(tbucket::cli::prometheus_label("caf\xc3\xa9") == "caf\xc3\xa9");  // UTF-8 as it is
    CHECK(tbucket::cli::is_utf8("caf\xc3\xa9"));
    CHECK_FALSE(tbucket::cli::is_utf8("\xc0\xaf"));      // overlong
    CHECK_FALSE(tbucket::cli::is_utf8("\xed\xa0\x80"));  // a surrogate
    CHECK_FALSE(tbucket::cli::is_utf8("\xe2\x82"));      // cut short
}

TEST_CASE("text output shows bytes that are not printable as \\xHH", "[output]") {
    CHECK(tbucket::cli::shown("api:v1/x@y+z") == "api:v1/x@y+z");
    CHECK(tbucket::cli::shown("a\nb") == "a\\x0ab");
    CHECK(tbucket::cli::shown("\x1b]0;title\x07") == "\\x1b]0;title\\x07");
    CHECK(tbucket::cli::shown("a b\\") == "a\\x20b\\x5c");
}
