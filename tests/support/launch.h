#pragma once

// A process started for a signal race: the built binary run directly (fork
// and exec, no shell), sent a signal at a chosen instant, its output read as
// it comes, its end bounded. A trial costs little more than the process
// itself, so the signal can land anywhere in its few milliseconds of life.

#include <chrono>
#include <string>
#include <vector>

namespace tbucket::test {

// What to do to one process.
struct Plan {
    int sig = 0;  // sent `delay` after the fork, unless it has ended by then; 0: none
    std::chrono::nanoseconds delay{0};
    bool ignore = false;    // SIGINT and SIGTERM ignored from the start (as under nohup)
    double timeout_s = 30;  // then SIGKILL, and the trial fails
};

// How it ended.
struct Ended {
    int code = -1;  // exit status, or 128 + the signal it died by
    int died_by = 0;
    int sent = 0;  // the signal it was sent while its output was open, 0 if none
    bool timed_out = false;
    std::string out, err;
    double seconds = 0;  // from the fork to the end of its output
};

// Runs argv[0] (a path) with stdin from /dev/null and a clean environment
// (no TBUCKET_*, REDIS_URL or REDISCLI_AUTH), following `plan`. Safe to
// call from several threads at once.
Ended launch(std::vector<std::string> argv, const Plan& plan);

}  // namespace tbucket::test
