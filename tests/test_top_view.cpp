// What top shows, without a terminal (cli/top_view.cpp).

#include <catch2/catch.hpp>

#include "top_view.h"
#include "util/parse.h"

using tbucket::Counters;
using tbucket::State;
using tbucket::cli::TopSort;

namespace {

State reading(const std::string& name, double tokens, int64_t grants, int64_t denials,
              int64_t time_us) {
    State s;
    s.name = name;
    s.capacity = 10;
    s.tokens = tokens;
    s.server_time_us = time_us;
    s.counters = Counters{grants, denials, grants, 0, 0, 0, 0};
    return s;
}

}  // namespace

TEST_CASE("top's bar shows the level in whole cells, clamped to the capacity", "[top]") {
    CHECK(tbucket::cli::level_bar(0, 10, 10) == "[..........]");
    CHECK(tbucket::cli::level_bar(2.5, 10, 10) == "[##........]");
    CHECK(tbucket::cli::level_bar(10, 10, 10) == "[##########]");
    CHECK(tbucket::cli::level_bar(15, 10, 10) == "[##########]");  // a forced credit
}

TEST_CASE("top's rates are counter deltas over the server time between readings", "[top]") {
    std::map<std::string, State> before{{"a", reading("a", 5, 10, 2, 1'000'000)}};
    auto rows = tbucket::cli::top_rows(
        before, {reading("a", 5, 30, 7, 3'000'000), reading("new", 1, 0, 0, 3'000'000)},
        TopSort::name);
    REQUIRE(rows.size() == 2);
    CHECK(*rows[0].grants_per_s == 10);
    CHECK(*rows[0].denials_per_s == 2.5);
    CHECK_FALSE(rows[1].grants_per_s);  // no earlier reading
}

TEST_CASE("top sorts by level (emptiest first), grants and denials (highest first), ties by name",
          "[top]") {
    std::map<std::string, State> before{{"a", reading("a", 0, 0, 0, 0)},
                                        {"b", reading("b", 0, 0, 0, 0)},
                                        {"c", reading("c", 0, 0, 0, 0)}};
    std::vector<State> now{reading("a", 9, 1, 5, 1'000'000), reading("b", 1, 3, 0, 1'000'000),
                           reading("c", 5, 2, 5, 1'000'000)};
    auto names = [&](TopSort sort) {
        std::string out;
        for (const auto& r : tbucket::cli::top_rows(before, now, sort)) out += r.state.name;
        return out;
    };
    CHECK(names(TopSort::name) == "abc");
    CHECK(names(TopSort::level) == "bca");
    CHECK(names(TopSort::grants) == "bca");
    CHECK(names(TopSort::denials) == "acb");
}

TEST_CASE("top's table fits the terminal: lines cut to the width, rows to the height", "[top]") {
    std::vector<tbucket::cli::TopRow> rows;
    for (int i = 0; i < 50; ++i)
        rows.push_back({reading(std::string("b").append(std::to_string(i)), 1, 0, 0, 0), {}, {}});
    auto lines = tbucket::cli::top_table(rows, 40, 10);
    CHECK(lines.size() == 10);
    for (const auto& line : lines) {
        std::size_t columns = 0;  // UTF-8: a cut name ends with "…", one column
        for (unsigned char c : line) columns += (c & 0xC0) != 0x80;
        CHECK(columns <= 40);
    }
    CHECK(lines[0].rfind("NAME", 0) == 0);
}

TEST_CASE("top's REFILL column says the kind: a rate, a window, or semaphore, and EXPIRED counts",
          "[top]") {
    State rate = reading("r", 5, 0, 0, 1'000'000);
    rate.rate = tbucket::Rate{10, 60'000};
    State window = reading("w", 5, 0, 0, 1'000'000);
    window.window = tbucket::parse_window("1d");
    State sem = reading("s", 5, 0, 0, 1'000'000);
    sem.counters->leases_expired = 4;
    auto rows = tbucket::cli::top_rows({}, {rate, window, sem}, TopSort::name);
    std::vector<std::string> lines = tbucket::cli::top_table(rows, 0, 0);
    REQUIRE(lines.size() == 4);
    CHECK_THAT(lines[0], Catch::Contains("REFILL") && Catch::EndsWith("EXPIRED"));
    CHECK_THAT(lines[1], Catch::StartsWith("r ") && Catch::Contains(" 10/min "));
    CHECK_THAT(lines[2], Catch::StartsWith("s ") && Catch::Contains(" semaphore ") &&
                             Catch::EndsWith("      4"));
    CHECK_THAT(lines[3], Catch::StartsWith("w ") && Catch::Contains(" per 1d "));
}
