#pragma once

// Every exit status tbucket uses, in one table that mirrors SPEC §5.

#include "error.h"

namespace tbucket::cli {

inline constexpr int exit_ok = 0;
inline constexpr int exit_denied = 1;         // non-blocking take: not enough tokens
inline constexpr int exit_check_failed = 1;   // doctor: a check FAILed, as fsck
inline constexpr int exit_run_denied = 75;    // run: EX_TEMPFAIL, never the command's own 1
inline constexpr int exit_usage = 2;          // also CLI11's parse errors
inline constexpr int exit_not_runnable = 126;  // run: found but cannot be executed, as the shell
inline constexpr int exit_not_found = 127;    // run: command not found, as the shell

int exit_code(ErrorKind kind);

}  // namespace tbucket::cli
