#pragma once

// The TLS keeper: a background process of the user's that holds verified
// TLS connections ready, so that a one-shot command over TLS starts as
// fast as a plain one. OpenSSL's set-up in a new process (its providers,
// ciphers and configuration) costs several times a whole plain take, and a
// handshake, even resumed, a round trip and a key exchange; the keeper pays
// both once. A one-shot command connects to the keeper's unix socket and
// names the server; the keeper hands it a connection it opened (and
// verified) beforehand, never used, and relays bytes: the command sends
// and reads plain RESP, the keeper encrypts. Each command gets a connection
// of its own, closed when it ends: no state (AUTH, SELECT, subscriptions)
// passes from one command to the next, and Redis sees the command's own
// AUTH. The keeper holds no password.
//
//   DIR/keep-<hash>.sock   its socket, 0600, in the 0700 DIR of tls_cache.h
//   DIR/keep-<hash>.lock   held (flock) by the keeper serving it; its pid
//
// The hash is of the trust settings (private_files::trust_key): commands
// with other CAs, client certificate, SNI or verification never share a
// keeper, and the keeper compares the whole settings, not the hash. Both
// sides check the other is the same user (SO_PEERCRED), and a socket is
// used only in a directory no one else can write. A keeper is started by a
// process that made a direct, verified TLS connection (with keep_ms > 0);
// it exits keep_ms after its last command, and at the latest an hour
// (tls_cache::max_age_seconds) after it started, so that its trust is
// renewed as a session's is.

#include <cstdint>
#include <string>
#include <string_view>

#include "net/stream.h"
#include "net/url.h"

namespace tbucket::tls_keeper {

// Whether connections with these options may go through a keeper.
bool usable(const TlsOptions& options);

// Whether a keeper for these options answers now. The connection made to
// find out is kept for the first open(), so that a keeper that ends in
// between cannot leave the command without TLS.
bool reach(const TlsOptions& options);

struct Opened {
    int fd = -1;             // a connection ready for plain RESP
    bool answered = false;   // no fd: the keeper answered, and could not connect
    bool timed_out = false;  // that answer was a timeout
    std::string failure;     // its reason, as a direct connection would say it
};
// A connection to options.host:port through the keeper; no fd and not
// answered when no keeper runs.
Opened open(const ConnectionOptions& options, Deadline deadline);

// Starts a keeper for these options in the background, once per process,
// when none runs (a second one finds the lock taken and ends); it makes a
// spare connection to this server at once.
void start(const ConnectionOptions& options);

// The program start() runs as the keeper: one with TLS. By default this
// one (/proc/self/exe); a program without TLS names its companion.
void set_program(std::string path);

// The paths of a keeper's socket and lock; empty when too long for a
// unix socket.
std::string socket_path(const TlsOptions& options);
std::string lock_path(const TlsOptions& options);
// What a keeper and its clients compare.
std::string key(const TlsOptions& options);

// argv[1] of a keeper process (tbucket-tls --tls-keeper DIR KEEP_MS CACERT
// CACERTDIR CERT KEY SNI HOST PORT CONNECT_MS): not an option a user types.
inline constexpr const char* argv_flag = "--tls-keeper";

// The keeper itself, argv as after argv_flag, until it ends; false when
// they are not a keeper's arguments. In tbucket_tls (tls_keeper_serve.cpp):
// TLS must be enabled.
bool serve(int argc, char** argv);

// What a command asks of a keeper: "tbucket-keeper 1 LENGTH\n" and LENGTH
// bytes of fields. The keeper answers one line, "+" (the connection is
// ready: plain RESP from here on) or "-IO REASON" (IO: failed, timed_out or
// closed, as Stream says it), and closes.
struct Hello {
    std::string key;
    std::string host;
    int port = 0;
    int64_t connect_timeout_ms = 0;
};
std::string encode(const Hello& hello);
// The header line's length, once `text` holds it; 0 while incomplete,
// npos when it is not a keeper's greeting.
std::size_t header_length(std::string_view text, std::size_t& body_length);
bool decode(std::string_view body, Hello& hello);

}  // namespace tbucket::tls_keeper
