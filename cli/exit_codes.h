#pragma once

// Every exit status tbucket uses, in one table (SPEC §5). The --help footer
// is made from it, and a unit test holds the README's and the man page's
// tables to it.

#include <span>
#include <string>

#include "util/error.h"

namespace tbucket::cli {

inline constexpr int exit_ok = 0;
inline constexpr int exit_denied = 1;          // non-blocking take: not enough tokens
inline constexpr int exit_check_failed = 1;    // doctor: a check FAILed, as fsck
inline constexpr int exit_run_denied = 75;     // run: EX_TEMPFAIL, never the command's own 1
inline constexpr int exit_usage = 2;           // also CLI11's parse errors
inline constexpr int exit_not_runnable = 126;  // run: found but cannot be executed, as the shell
inline constexpr int exit_not_found = 127;     // run: command not found, as the shell
inline constexpr int exit_sigpipe = 141;       // 128 + SIGPIPE: the reader went away, as cat

// One exit status and its meaning in a few words, as --help says it.
struct ExitStatus {
    int code;
    const char* brief;
};

// In the order the documentation lists them.
std::span<const ExitStatus> exit_statuses();

// "Exit status: 0 done, 1 denied …", wrapped to lines of at most `width`.
std::string exit_status_footer(std::size_t width = 80);

int exit_code(ErrorKind kind);

}  // namespace tbucket::cli
