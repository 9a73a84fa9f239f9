#include "top_view.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "shown.h"
#include "util/parse.h"

namespace tbucket::cli {
namespace {

double level_of(const State& s) {
    return s.capacity > 0 ? s.tokens / static_cast<double>(s.capacity) : 0;
}

// A counter's increase per second between two readings of one bucket; a
// counter that went down (the bucket was replaced) has no rate this time.
std::optional<double> per_second(const State& before, const State& now, int64_t Counters::*field) {
    if (!before.counters || !now.counters) return std::nullopt;
    double seconds = static_cast<double>(now.server_time_us - before.server_time_us) / 1e6;
    double delta = static_cast<double>((*now.counters).*field - (*before.counters).*field);
    if (seconds <= 0 || delta < 0) return std::nullopt;
    return delta / seconds;
}

std::string rate_text(const std::optional<double>& v) {
    if (!v) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", *v);
    return buf;
}

std::string refill_text(const State& s) {
    // As the user wrote it: 1/min, not 0.0166667; a window as "per 1d";
    // a semaphore refills only from puts and ended leases.
    if (s.rate) return format_rate(*s.rate);
    if (s.window) return "per " + format_window(*s.window);
    return "semaphore";
}

std::string cell(std::string text, std::size_t width, bool right = false) {
    if (text.size() >= width) return text;
    std::string pad(width - text.size(), ' ');
    return right ? pad + text : text + pad;
}

bool before_in(const TopRow& a, const TopRow& b, TopSort sort) {
    auto desc = [](const std::optional<double>& x, const std::optional<double>& y) {
        return x.value_or(-1) > y.value_or(-1);
    };
    switch (sort) {
        case TopSort::level:
            if (level_of(a.state) != level_of(b.state))
                return level_of(a.state) < level_of(b.state);
            break;
        case TopSort::grants:
            if (a.grants_per_s != b.grants_per_s) return desc(a.grants_per_s, b.grants_per_s);
            break;
        case TopSort::denials:
            if (a.denials_per_s != b.denials_per_s) return desc(a.denials_per_s, b.denials_per_s);
            break;
        case TopSort::name:
            break;
    }
    return a.state.name < b.state.name;
}

}  // namespace

std::optional<TopSort> top_sort_key(char key) {
    switch (key) {
        case 'n':
            return TopSort::name;
        case 'l':
            return TopSort::level;
        case 'g':
            return TopSort::grants;
        case 'd':
            return TopSort::denials;
        default:
            return std::nullopt;
    }
}

const char* top_sort_name(TopSort sort) {
    switch (sort) {
        case TopSort::name:
            return "name";
        case TopSort::level:
            return "level";
        case TopSort::grants:
            return "grants/s";
        case TopSort::denials:
            return "denials/s";
    }
    return "";
}

std::vector<TopRow> top_rows(const std::map<std::string, State>& before,
                             const std::vector<State>& now, TopSort sort) {
    std::vector<TopRow> rows;
    for (const State& s : now) {
        TopRow row{s, std::nullopt, std::nullopt};
        if (auto it = before.find(s.name); it != before.end()) {
            row.grants_per_s = per_second(it->second, s, &Counters::grants);
            row.denials_per_s = per_second(it->second, s, &Counters::denials);
        }
        rows.push_back(std::move(row));
    }
    top_sort(rows, sort);
    return rows;
}

void top_sort(std::vector<TopRow>& rows, TopSort sort) {
    std::stable_sort(rows.begin(), rows.end(),
                     [sort](const TopRow& a, const TopRow& b) { return before_in(a, b, sort); });
}

std::string level_bar(double tokens, int64_t capacity, std::size_t cells) {
    double level = capacity > 0 ? std::clamp(tokens / static_cast<double>(capacity), 0.0, 1.0) : 0;
    auto filled = static_cast<std::size_t>(std::floor(level * static_cast<double>(cells) + 1e-9));
    std::string bar;
    bar.reserve(cells + 2);
    return bar.append(1, '[').append(filled, '#').append(cells - filled, '.').append(1, ']');
}

std::vector<std::string> top_table(const std::vector<TopRow>& rows, std::size_t width,
                                   std::size_t height) {
    std::size_t name_width = 4;
    for (const TopRow& r : rows) name_width = std::max(name_width, shown(r.state.name).size());
    name_width = std::min<std::size_t>(name_width, 32);
    std::vector<std::string> lines{
        cell("NAME", name_width) + "  " + cell("LEVEL", 22) + "  " + cell("TOKENS", 17, true) +
        "  " + cell("REFILL", 9, true) + "  " + cell("GRANTS/S", 9, true) + "  " +
        cell("DENIALS/S", 9, true) + "  " + cell("LEASED", 7, true) + "  " +
        cell("WAITERS", 7, true) + "  " + cell("EXPIRED", 7, true)};
    for (const TopRow& r : rows) {
        const State& s = r.state;
        std::string tokens = format_tokens(s.tokens) + "/" + std::to_string(s.capacity);
        lines.push_back(
            cell(shown(s.name), name_width) + "  " + level_bar(s.tokens, s.capacity, 20) + "  " +
            cell(tokens, 17, true) + "  " + cell(refill_text(s), 9, true) + "  " +
            cell(rate_text(r.grants_per_s), 9, true) + "  " +
            cell(rate_text(r.denials_per_s), 9, true) + "  " +
            cell(s.leased > 0 ? format_tokens(s.leased) : "-", 7, true) + "  " +
            cell(s.queued ? std::to_string(*s.queued) : "-", 7, true) + "  " +
            // Leases that ended unrenewed: holders that died or were cut off.
            cell(s.counters ? std::to_string(s.counters->leases_expired) : "-", 7, true));
    }
    if (height > 0 && lines.size() > height) lines.resize(height);
    if (width > 0) {
        for (std::string& line : lines) {
            if (line.size() > width) line.resize(width);
        }
    }
    return lines;
}

}  // namespace tbucket::cli
