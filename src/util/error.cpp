#include "util/error.h"

#include <csignal>

namespace tbucket {

Error signal_error(int sig, std::string_view rest) {
    bool term = sig == SIGTERM;
    return Error(term ? ErrorKind::terminated : ErrorKind::interrupted,
                 std::string(term ? "terminated" : "interrupted") + std::string(rest));
}

std::string_view kind_name(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::usage:
            return "usage";
        case ErrorKind::not_found:
            return "not_found";
        case ErrorKind::exists:
            return "exists";
        case ErrorKind::impossible:
            return "impossible";
        case ErrorKind::data:
            return "data";
        case ErrorKind::unavailable:
            return "unavailable";
        case ErrorKind::unwritable:
            return "unwritable";
        case ErrorKind::refused:
            return "refused";
        case ErrorKind::timeout:
            return "timeout";
        case ErrorKind::config:
            return "config";
        case ErrorKind::interrupted:
            return "interrupted";
        case ErrorKind::terminated:
            return "terminated";
        case ErrorKind::internal:
            return "internal";
        case ErrorKind::output:
            return "output";
    }
    return "internal";
}

}  // namespace tbucket
