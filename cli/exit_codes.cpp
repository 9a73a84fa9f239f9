#include "exit_codes.h"

namespace tbucket::cli {

int exit_code(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::usage:
            return exit_usage;
        case ErrorKind::not_found:
            return 3;
        case ErrorKind::exists:
            return 4;
        case ErrorKind::impossible:
            return 5;
        case ErrorKind::data:
            return 65;  // EX_DATAERR
        case ErrorKind::unavailable:
            return 69;  // EX_UNAVAILABLE
        case ErrorKind::unwritable:
            return 69;
        case ErrorKind::refused:
            return 77;  // EX_NOPERM
        case ErrorKind::internal:
            return 70;  // EX_SOFTWARE
        case ErrorKind::output:
            return 74;  // EX_IOERR
        case ErrorKind::config:
            return 78;  // EX_CONFIG
        case ErrorKind::timeout:
            return 124;  // as timeout(1)
        case ErrorKind::interrupted:
            return 130;  // 128 + SIGINT
        case ErrorKind::terminated:
            return 143;  // 128 + SIGTERM
    }
    return 70;
}

namespace {

constexpr ExitStatus statuses[] = {
    {exit_ok, "done"},
    {exit_denied, "denied (take) or a check FAILed (doctor)"},
    {exit_run_denied, "denied (run)"},
    {exit_usage, "usage"},
    {3, "no such bucket"},
    {4, "other settings"},
    {5, "impossible"},
    {65, "not a bucket"},
    {69, "Redis unavailable"},
    {77, "refused"},
    {70, "internal error"},
    {74, "cannot write the output"},
    {78, "bad configuration file"},
    {124, "timed out"},
    {exit_not_runnable, "run: not executable"},
    {exit_not_found, "run: not found"},
    {130, "interrupted (SIGINT)"},
    {143, "terminated (SIGTERM)"},
    {exit_sigpipe, "the reader of the output went away (SIGPIPE)"},
};

}  // namespace

std::span<const ExitStatus> exit_statuses() {
    return statuses;
}

std::string exit_status_footer(std::size_t width) {
    std::string text;
    std::string line = "Exit status:";
    const std::size_t n = std::size(statuses);
    for (std::size_t i = 0; i < n; ++i) {
        std::string item =
            std::to_string(statuses[i].code) + " " + statuses[i].brief + (i + 1 < n ? "," : ".");
        if (line.size() + 1 + item.size() > width) {
            text += line + "\n";
            line = item;
        } else {
            line += " " + item;
        }
    }
    const std::string see = "See tbucket(1).";
    if (line.size() + 1 + see.size() > width) {
        text += line + "\n";
        line = see;
    } else {
        line += " " + see;
    }
    return text + line;
}

}  // namespace tbucket::cli
