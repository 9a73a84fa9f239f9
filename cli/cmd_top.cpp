// tbucket top: a live view of buckets. Plain ANSI (alternate screen, cursor
// home, erase to end of line): every terminal tbucket meets speaks it, and
// a static binary then needs no terminfo database (see bench/README.md).

#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>

#include "app.h"
#include "exit_codes.h"
#include "top_view.h"
#include "util/parse.h"
#include "waiting.h"

namespace tbucket::cli {
namespace {

struct TopOptions {
    std::string pattern = "*";
    std::string sort = "d";
    std::string delay = "1";  // -d SECONDS between refreshes, as top(1)
    std::string count;        // -n COUNT refreshes, then exit; empty: no end
};

// How often and how many times top refreshes.
struct Refresh {
    std::chrono::milliseconds every{1000};
    std::optional<int64_t> times;  // nullopt: until q or a signal
};

// The buckets matching `pattern` now, through list's machinery (the index
// of names, or a single read for an exact name).
std::vector<State> read_buckets(Context& ctx, const std::string& pattern) {
    std::vector<std::string> names =
        is_glob_free(pattern) ? std::vector<std::string>{pattern} : ctx.client().list(pattern);
    std::vector<State> states;
    constexpr std::size_t batch = 500;
    for (std::size_t i = 0; i < names.size(); i += batch) {
        std::vector<std::string> part(names.begin() + i,
                                      names.begin() + std::min(names.size(), i + batch));
        for (StateOrError& r : ctx.client().info(part)) {
            if (State* s = std::get_if<State>(&r)) states.push_back(std::move(*s));
        }
    }
    return states;
}

// The terminal in the view's mode for as long as it lives: keys without
// Enter or echo (^C still a signal), the alternate screen, no cursor; put
// back however the view ends (q, a signal, an error).
class Screen {
  public:
    explicit Screen(Output& out) : out_(out) {
        keys_ = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_) == 0;
        if (keys_) {
            termios raw = saved_;
            raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
            raw.c_cc[VMIN] = 0;
            raw.c_cc[VTIME] = 0;
            tcsetattr(STDIN_FILENO, TCSANOW, &raw);
        }
        out_.block("\x1b[?1049h\x1b[?25l");
        out_.flush();
    }
    // Straight to stdout, not through Output, whose write errors throw: a
    // destructor that runs while an error unwinds must not.
    ~Screen() {
        std::fputs("\x1b[?25h\x1b[?1049l", stdout);
        std::fflush(stdout);
        if (keys_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
    Screen(const Screen&) = delete;
    Screen& operator=(const Screen&) = delete;
    bool keys() const { return keys_; }

    void draw(const std::vector<std::string>& lines) {
        std::string frame = "\x1b[H";
        for (const std::string& line : lines) frame += line + "\x1b[K\n";
        out_.block(frame + "\x1b[J");
        out_.flush();
    }

  private:
    Output& out_;
    termios saved_{};
    bool keys_ = false;
};

std::pair<std::size_t, std::size_t> terminal_size() {
    winsize ws{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) return {80, 24};
    return {ws.ws_col, ws.ws_row};
}

std::string clock_text() {
    std::time_t now = std::time(nullptr);
    char buf[16];
    std::strftime(buf, sizeof buf, "%H:%M:%S", std::localtime(&now));
    return buf;
}

std::vector<std::string> frame(const std::vector<TopRow>& rows, const std::string& pattern,
                               TopSort sort) {
    auto [width, height] = terminal_size();
    std::string title = "tbucket top " + pattern + "  " + std::to_string(rows.size()) +
                        " buckets  sort: " + top_sort_name(sort) +
                        "  (n name, l level, g grants/s, d denials/s, q quits)  " + clock_text();
    std::vector<std::string> lines{title.substr(0, width)};
    for (std::string& line : top_table(rows, width, height > 2 ? height - 2 : 1))
        lines.push_back(std::move(line));
    return lines;
}

// Waits up to `ms` for a key or a signal: the key (0 for none); a signal
// ends the view as Error interrupted or terminated.
char next_key(Context& ctx, bool keys, int ms) {
    pollfd fds[2] = {{ctx.catch_signals().fd(), POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    if (poll(fds, keys ? 2 : 1, ms) <= 0) return 0;
    if (fds[0].revents) {
        throw signal_error(ctx.catch_signals().arrived());
    }
    char c = 0;
    return read(STDIN_FILENO, &c, 1) == 1 ? c : 0;
}

int live(Context& ctx, const std::string& pattern, TopSort sort, const Refresh& refresh) {
    ctx.catch_signals();  // SIGINT and SIGTERM from now on arrive on a pipe
    Screen screen(ctx.out);
    std::map<std::string, State> before;
    for (int64_t drawn = 1;; ++drawn) {
        std::vector<State> now = read_buckets(ctx, pattern);
        std::vector<TopRow> rows = top_rows(before, now, sort);
        auto size = terminal_size();
        screen.draw(frame(rows, pattern, sort));
        before.clear();
        for (State& s : now) before.emplace(s.name, std::move(s));
        auto next = std::chrono::steady_clock::now() + refresh.every;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                next - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            // A resized terminal is drawn again within a fifth of a second.
            char key = next_key(ctx, screen.keys(),
                                static_cast<int>(std::min<int64_t>(left.count(), 200)));
            if (key == 'q') return exit_ok;
            std::optional<TopSort> chosen = top_sort_key(key);
            if (chosen) {
                sort = *chosen;
                top_sort(rows, sort);
            }
            if (chosen || terminal_size() != size) {
                size = terminal_size();
                screen.draw(frame(rows, pattern, sort));  // at once, not at the next reading
            }
        }
        if (refresh.times && drawn >= *refresh.times) return exit_ok;
    }
}

// Not a terminal: a table (--json: one object) per refresh, rates over the
// time between two readings; one, unless -n says how many.
int batch(Context& ctx, const std::string& pattern, TopSort sort, const Refresh& refresh) {
    ctx.catch_signals();
    std::map<std::string, State> before;
    for (State& s : read_buckets(ctx, pattern)) before.emplace(s.name, std::move(s));
    int64_t times = refresh.times.value_or(ctx.out.json() ? -1 : 1);
    for (int64_t done = 0; times < 0 || done < times; ++done) {
        next_key(ctx, false, static_cast<int>(refresh.every.count()));  // a signal ends it
        std::vector<State> now = read_buckets(ctx, pattern);
        std::vector<TopRow> rows = top_rows(before, now, sort);
        if (ctx.out.json()) {
            std::vector<State> states;
            std::vector<std::optional<double>> grants, denials;
            for (const TopRow& r : rows) {
                states.push_back(r.state);
                grants.push_back(r.grants_per_s);
                denials.push_back(r.denials_per_s);
            }
            int64_t ms = now.empty() ? 0 : now.front().server_time_us / 1000;
            ctx.out.snapshot(ms, states, grants, denials);
        } else {
            if (done > 0) ctx.out.block("\n");
            for (const std::string& line : top_table(rows, 0, 0)) ctx.out.block(line + "\n");
        }
        ctx.out.flush();
        before.clear();
        for (State& s : now) before.emplace(s.name, std::move(s));
    }
    return exit_ok;
}

Refresh parse_refresh(const TopOptions& o) {
    Refresh r;
    char* end = nullptr;
    double seconds = std::strtod(o.delay.c_str(), &end);
    if (o.delay.empty() || *end != '\0' || !(seconds >= 0.1 && seconds <= 3600))
        throw Error(ErrorKind::usage,
                    "-d must be seconds between 0.1 and 3600, not '" + printable(o.delay) + "'");
    r.every = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    if (!o.count.empty()) r.times = parse_count("-n", o.count);
    return r;
}

int run(Context& ctx, const TopOptions& o) {
    std::string pattern = parse_pattern(o.pattern);
    std::optional<TopSort> sort = o.sort.size() == 1 ? top_sort_key(o.sort[0]) : std::nullopt;
    if (!sort) throw Error(ErrorKind::usage, "--sort must be one of n, l, g, d");
    Refresh refresh = parse_refresh(o);
    if (isatty(STDOUT_FILENO) && !ctx.out.json()) return live(ctx, pattern, *sort, refresh);
    return batch(ctx, pattern, *sort, refresh);
}

}  // namespace

Subcommand setup_top(CLI::App& app) {
    auto o = std::make_shared<TopOptions>();
    CLI::App* cmd = app.add_subcommand(
        "top", "Live view of buckets: level, rates, grants and denials per second");
    cmd->add_option("PATTERN", o->pattern, "glob over bucket names")
        ->type_name("")
        ->capture_default_str();
    cmd->add_option("--sort", o->sort, "n name, l level, g grants/s, d denials/s")
        ->type_name("KEY")
        ->capture_default_str();
    cmd->add_option("-d", o->delay, "seconds between refreshes, as top(1)")
        ->type_name("SECONDS")
        ->capture_default_str();
    cmd->add_option("-n", o->count,
                    "refresh COUNT times, then exit (not a terminal, or --json: each refresh "
                    "a table, or a JSON object per line; default 1, --json: no end)")
        ->type_name("COUNT");
    return {cmd, [o](Context& ctx) { return run(ctx, *o); }};
}

}  // namespace tbucket::cli
