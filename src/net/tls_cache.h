#pragma once

// TLS session resumption across one-shot processes. A full handshake costs
// a certificate chain to verify and the server's signature; a resumed one
// (a TLS 1.3 ticket) proves the server is the one verified before, from a
// secret both kept. Each tbucket process is new, so the session the server
// gave the last one is kept in a file:
//
//   DIR/tls-<hash of the key>.session, mode 0600, in a 0700 DIR
//
// A file is used only when it is a regular file of this user with no bits
// for group or others, in a directory of this user that no one else can
// write, written for exactly this key, well formed, within its lifetime and
// within an hour of the full handshake that verified the server; otherwise
// it is ignored without a word and the next full handshake replaces it. It
// holds what resumption needs and nothing more: the session as OpenSSL
// serializes it (the resumption secret and the ticket), without the
// server's certificate, beside the key it was made for. Only TLS 1.3
// sessions are kept: a TLS 1.3 resumption agrees new keys with a fresh
// key exchange, so the file cannot decrypt recorded traffic, where a TLS 1.2
// session's master secret would decrypt every connection that used it.
// Writes go to a temporary file renamed over the old one, so a concurrent
// process reads the old session or the new one, never half of one.

#include <openssl/ssl.h>

#include <ctime>
#include <string>

#include "net/url.h"

namespace tbucket::tls_cache {

// How long a chain of resumptions may trust one full verification.
inline constexpr std::time_t max_age_seconds = 3600;

// What a session is good for: the server (the name checked, the port, the
// SNI) and every setting that decides whether its certificate is trusted,
// each file with its identity (device, inode, size, modification time). A
// session made under other CAs, another client certificate or another name
// is never offered, so a changed trust setting always verifies in full.
std::string entry_key(const TlsOptions& options, const std::string& name, int port);

// The cached session for `key`, or nullptr (the caller frees it);
// `verified_at` is when a full handshake last verified that server.
SSL_SESSION* load(const std::string& dir, const std::string& key, std::time_t& verified_at);

// Replaces the cached session for `key`; failures are ignored (a cache).
void store(const std::string& dir, const std::string& key, SSL_SESSION* session,
           std::time_t verified_at);

}  // namespace tbucket::tls_cache
