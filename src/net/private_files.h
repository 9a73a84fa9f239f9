#pragma once

// Files a user keeps for the next tbucket process (TLS sessions, the TLS
// keeper's socket): in a directory of this user's only, never read when
// another user could have written them, named by a hash of what they are
// for. Shared by tls_cache (sessions) and tls_keeper.

#include <sys/stat.h>

#include <string>
#include <string_view>

#include "net/url.h"

namespace tbucket::private_files {

// Appends NAME=LENGTH:VALUE\n: length-prefixed, so that no path, however
// odd, reads as another field.
void add_field(std::string& key, std::string_view name, std::string_view value);
// The path and its identity (device, inode, size, modification time): a CA
// bundle or a client certificate rewritten in place changes the key.
void add_file(std::string& key, std::string_view name, const std::string& path);
// What decides whether a server is trusted, beside its name: the CA and
// client certificate files, SNI, and the SSL_CERT_FILE / SSL_CERT_DIR
// variables OpenSSL reads, each file with its identity.
std::string trust_key(const TlsOptions& options);
// 16 hex digits of FNV-1a: a file name, never a secret.
std::string hex_hash(std::string_view text);

// Nothing another user could have written.
bool private_to_us(const struct stat& st);
// A directory of this user's that no one else can write.
bool usable_directory(const std::string& dir);
// The directory (mode 0700) and its parent (~/.cache may not exist yet),
// made only inside a directory of this user's; true when it is usable.
bool make_directory(const std::string& dir);

}  // namespace tbucket::private_files
