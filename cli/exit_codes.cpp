#include "exit_codes.h"

namespace tbucket::cli {

int exit_code(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::usage: return exit_usage;
        case ErrorKind::not_found: return 3;
        case ErrorKind::exists: return 4;
        case ErrorKind::impossible: return 5;
        case ErrorKind::data: return 65;      // EX_DATAERR
        case ErrorKind::unavailable: return 69;  // EX_UNAVAILABLE
        case ErrorKind::unwritable: return 69;
        case ErrorKind::refused: return 77;   // EX_NOPERM
        case ErrorKind::internal: return 70;  // EX_SOFTWARE
        case ErrorKind::output: return 74;    // EX_IOERR
        case ErrorKind::timeout: return 124;  // as timeout(1)
        case ErrorKind::interrupted: return 130;  // 128 + SIGINT
        case ErrorKind::terminated: return 143;   // 128 + SIGTERM
    }
    return 70;
}

}  // namespace tbucket::cli
