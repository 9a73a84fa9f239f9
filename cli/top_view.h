#pragma once

// What `tbucket top` shows, apart from the terminal: one row per bucket
// with rates from two readings of the counters, sorted, laid out as text.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bucket/bucket.h"

namespace tbucket::cli {

struct TopRow {
    State state;
    std::optional<double> grants_per_s;  // nullopt: no earlier reading yet
    std::optional<double> denials_per_s;
};

// The keys of the sort order: n name, l level (emptiest first), g grants/s
// and d denials/s (highest first); ties by name.
enum class TopSort { name, level, grants, denials };
std::optional<TopSort> top_sort_key(char key);
const char* top_sort_name(TopSort sort);

// Rows for `now`, with rates against the `before` reading of each bucket
// (by name); buckets new since then have none.
std::vector<TopRow> top_rows(const std::map<std::string, State>& before,
                             const std::vector<State>& now, TopSort sort);

// Sorts rows again by another key.
void top_sort(std::vector<TopRow>& rows, TopSort sort);

// The table: a header line, then a line per row, each cut to `width`
// columns (0: no limit); at most `height` lines in all (0: no limit).
std::vector<std::string> top_table(const std::vector<TopRow>& rows, std::size_t width,
                                   std::size_t height);

// "[#######.............]": the level as a bar of `cells` cells.
std::string level_bar(double tokens, int64_t capacity, std::size_t cells);

}  // namespace tbucket::cli
