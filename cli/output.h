#pragma once

// Renders results and errors: text for people, JSON Lines with --json.
// The only place that writes to stdout and stderr (besides --help).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bucket/lease.h"
#include "bucket/multi.h"
#include "bucket/results.h"
#include "util/error.h"

namespace tbucket::cli {

// Widths that line up the name and level columns of one command's lines.
struct Columns {
    std::size_t name = 0;
    std::size_t level = 0;  // "7.25/10 tokens"
};

class Output {
  public:
    // `verbose` (-v): the state line of a change even when stdout is not a
    // terminal (SPEC §15: quiet by default where scripts run).
    Output(bool json, bool quiet, bool verbose = false);

    bool json() const { return json_; }
    void set_json(bool json) { json_ = json; }  // a command's --format
    bool quiet() const { return quiet_; }

    void state(const State& state);  // info, list --json: shown even with -q
    void reset(const State& state);  // a change: its state line as take's
    // Text lines of state() from here on line up with all of `states`.
    void align(const std::vector<State>& states);
    void created(const CreateResult& result);
    // A take of one bucket (`as_list` false: the user named one) or of a
    // list (SPEC §11: one line per bucket, or one JSON object with a
    // "buckets" array; a denial names the buckets that said no). `run`: the
    // text denial only, on stderr (stdout is the command's).
    void took(const MultiTakeResult& result, int64_t waited_ms, bool as_list, bool run = false);
    // --dry-run: `would` is what a take would have taken now (buckets that
    // would say yes with their requested tokens as taken); nothing was.
    void dry_run(const MultiTakeResult& would, bool as_list);
    void put(const PutResult& result);
    void deleted(const State& state);
    void watched(const State& state, int64_t waited_ms);  // watch without --take
    void followed(const State& state);                    // watch --follow: flushed at once
    void name(const std::string& name);
    // lease take: "ID FENCE" (shown even with -q), or the denial.
    void lease_taken(const TakeResult& result, const std::string& id, int64_t ttl_ms,
                     int64_t waited_ms);
    void lease_renewed(const State& state, const std::string& id, int64_t ttl_ms);
    void lease_released(const State& state, const std::string& id, bool already, double added);
    // `all_buckets`: lease list without NAME, each line starting with its bucket.
    void leases(const State& state, const std::vector<LeaseInfo>& leases, bool all_buckets = false);
    // top --json: one object per refresh, {"time_ms", "buckets": [state and
    // grants_per_s, denials_per_s]}, shown even with -q. Rates are null
    // before a second reading.
    void snapshot(int64_t time_ms, const std::vector<State>& states,
                  const std::vector<std::optional<double>>& grants_per_s,
                  const std::vector<std::optional<double>>& denials_per_s);
    // Text already laid out (list --format prometheus), shown even with -q.
    void block(const std::string& text);

    // Writes what is buffered. A write error on stdout, here or at any
    // line: EPIPE kills tbucket by SIGPIPE; others are Error(output).
    void flush();

    void warning(std::string_view message);
    void error(const Error& error, int exit);
    // One line on stdout (not with -q unless `always`), for a command that
    // shapes its own lines (doctor).
    void line(const std::string& text, bool always = false);

  private:
    struct Record;  // one answer as JSON and as text (output.cpp)
    void emit(const Record& record);

    bool json_;
    bool quiet_;
    bool changes_shown_;  // the text line of a change: stdout is a terminal, or -v
    Columns columns_;
};

// What --version prints (CLI11 prints it, as it prints --help): "tbucket
// VERSION" and the commit and build on lines of their own, or one JSON object.
struct BuildInfo {
    const char* version;
    const char* commit;  // git describe --always --dirty, or "unknown"
    const char* build;   // Release, Debug, ... and sanitizers
};
std::string version_text(const BuildInfo& info, bool json);

// "api  7.25/10 tokens  refill 10/min  full in 16.5s", its name and level
// padded to `columns`.
std::string state_text(const State& state, const Columns& columns = {});

}  // namespace tbucket::cli
