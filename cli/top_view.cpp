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

namespace {

// Columns on screen: a UTF-8 character is one (names may hold "…").
std::size_t top_columns(const std::string& text) {
    std::size_t n = 0;
    for (unsigned char c : text) n += (c & 0xC0) != 0x80;
    return n;
}

// `text` in at most `width` columns: cut, its last column an ellipsis.
std::string top_cut(const std::string& text, std::size_t width) {
    if (top_columns(text) <= width) return text;
    std::string out;
    std::size_t n = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if ((c & 0xC0) != 0x80 && ++n == width) break;
        out += text[i];
    }
    return width > 0 ? out + "\u2026" : out;
}

std::string top_cell(const std::string& text, std::size_t width, bool right = false) {
    std::size_t n = top_columns(text);
    if (n >= width) return text;
    std::string pad(width - n, ' ');
    return right ? pad + text : text + pad;
}

}  // namespace

std::vector<std::string> top_table(const std::vector<TopRow>& rows, std::size_t width,
                                   std::size_t height) {
    // Every column but NAME and the bar has a fixed width (TOKENS: its
    // longest value). Into a pipe (width 0) names are whole and the bar 20
    // cells; on a terminal the bar shrinks, then goes, before names are cut
    // (with "…") to what is left.
    std::size_t tokens_width = 6, longest = 4;
    for (const TopRow& r : rows) {
        const State& s = r.state;
        tokens_width = std::max(
            tokens_width, (format_tokens(s.tokens) + "/" + std::to_string(s.capacity)).size());
        longest = std::max(longest, top_columns(shown(s.name)));
    }
    const std::size_t fixed = tokens_width + 9 + 7 + 6 + 6 + 7 + 7 + 7 * 2;
    std::size_t name_width = longest, bar = 20;  // cells, without the brackets
    if (width > 0) {
        std::size_t left = width > fixed + 2 ? width - fixed - 2 : 4;
        name_width = std::max<std::size_t>(4, std::min(longest, left));
        std::size_t room = left > name_width + 4 ? left - name_width - 4 : 0;
        bar = room >= 10 ? std::min<std::size_t>(20, room) : 0;
    }
    auto line = [&](const std::string& name, const std::string& level,
                    const std::vector<std::string>& rest) {
        std::string text = top_cell(top_cut(name, name_width), name_width);
        if (bar > 0) text += "  " + top_cell(level, bar + 2);
        static const std::size_t widths[] = {0, 9, 7, 6, 6, 7, 7};
        for (std::size_t i = 0; i < rest.size(); ++i)
            text += "  " + top_cell(rest[i], i == 0 ? tokens_width : widths[i], true);
        return text;
    };
    std::vector<std::string> lines{
        line("NAME", "LEVEL",
             {"TOKENS", "REFILL", "GRANT/S", "DENY/S", "LEASED", "WAITING", "EXPIRED"})};
    for (const TopRow& r : rows) {
        const State& s = r.state;
        lines.push_back(line(shown(s.name), bar > 0 ? level_bar(s.tokens, s.capacity, bar) : "",
                             {format_tokens(s.tokens) + "/" + std::to_string(s.capacity),
                              refill_text(s), rate_text(r.grants_per_s), rate_text(r.denials_per_s),
                              s.leased > 0 ? format_tokens(s.leased) : "-",
                              s.queued ? std::to_string(*s.queued) : "-",
                              // Leases that ended unrenewed: holders that died or were cut off.
                              s.counters ? std::to_string(s.counters->leases_expired) : "-"}));
    }
    if (height > 0 && lines.size() > height) lines.resize(height);
    if (width > 0) {
        for (std::string& l : lines) l = top_cut(l, width);
    }
    return lines;
}

}  // namespace tbucket::cli
