#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace tbucket {

// What went wrong, in the terms a caller acts on. The CLI maps each kind to
// one exit code (cli/exit_codes.cpp); the library never exits.
enum class ErrorKind {
    usage,        // bad name, number, rate, duration, URL or option
    not_found,    // no such bucket
    exists,       // bucket exists with different settings
    impossible,   // the request can never be satisfied
    data,         // the key holds something that is not a bucket
    unavailable,  // cannot connect, connection lost, I/O timeout, a server busy loading
    unwritable,   // the server refuses writes: maxmemory, read-only replica, failed saves
    refused,      // authentication or ACL permission
    timeout,      // waited the full timeout
    interrupted,  // SIGINT while waiting
    terminated,   // SIGTERM while waiting
    output,       // the CLI's stdout could not be written (a full disk; not a closed pipe)
    config,       // a configuration file that cannot be read or used (file:line named)
    internal,     // a bug
};

// Stable short name of a kind, used as the "error" field of JSON errors.
std::string_view kind_name(ErrorKind kind);

class Error : public std::runtime_error {
  public:
    Error(ErrorKind kind, const std::string& message, bool maybe_done = false)
        : std::runtime_error(message), kind_(kind), maybe_done_(maybe_done) {}
    ErrorKind kind() const { return kind_; }
    // The connection failed after the command was sent, so the server may
    // have run it: the outcome is unknown until its request id is asked
    // again (SPEC §8).
    bool maybe_done() const { return maybe_done_; }

  private:
    ErrorKind kind_;
    bool maybe_done_;
};

// How a signal ends a command, in one place: "interrupted" (SIGINT, exit
// 130) or "terminated" (SIGTERM, 143), followed by `rest` ("; nothing
// taken", " while waiting for …").
Error signal_error(int sig, std::string_view rest = {});

}  // namespace tbucket
