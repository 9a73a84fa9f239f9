#include "net/tls_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "net/private_files.h"

namespace tbucket::tls_cache {
namespace {

using namespace private_files;

constexpr std::string_view magic = "tbucket-tls-session 1\n";
constexpr std::size_t max_file_size = 64 * 1024;  // a session with a chain is ~2 KB

// The system store as OpenSSL finds it (see load_system_cas in tls.cpp):
// beside the variables in trust_key, the directory it falls back to.
void add_system_dir(std::string& key, const TlsOptions& options) {
    if (options.ca_file.empty() && options.ca_dir.empty())
        add_file(key, "system_dir", X509_get_default_cert_dir());
}

std::string file_name(const std::string& dir, const std::string& key) {
    return dir + "/tls-" + hex_hash(key) + ".session";
}

bool read_private_file(const std::string& path, std::string& contents) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return false;
    struct stat st {};
    bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && private_to_us(st) &&
              (st.st_mode & 077) == 0 && st.st_size > 0 &&
              static_cast<std::size_t>(st.st_size) <= max_file_size;
    if (ok) {
        contents.resize(static_cast<std::size_t>(st.st_size));
        ok = ::read(fd, contents.data(), contents.size()) == st.st_size;
    }
    ::close(fd);
    return ok;
}

// "NAME NUMBER\n" at `at`; advances past it.
bool read_number(std::string_view text, std::size_t& at, std::string_view name, long long& value) {
    if (text.substr(at, name.size()) != name) return false;
    at += name.size();
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos || end == at || end - at > 19) return false;
    value = 0;
    for (char c : text.substr(at, end - at)) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + (c - '0');
    }
    at = end + 1;
    return true;
}

// The lifetime the server gave its ticket (Redis: tls-session-cache-timeout,
// 300 s), which is shorter than the session's own timeout: a ticket past it
// would only be refused.
bool ticket_alive(const SSL_SESSION* session, std::time_t now) {
    unsigned long lifetime = SSL_SESSION_get_ticket_lifetime_hint(session);
    return lifetime == 0 || SSL_SESSION_get_time(session) + static_cast<long>(lifetime) > now;
}

SSL_SESSION* parse(std::string_view text, const std::string& key, std::time_t& verified_at) {
    std::size_t at = magic.size() + key.size();
    if (text.substr(0, magic.size()) != magic || text.substr(magic.size(), key.size()) != key)
        return nullptr;
    long long verified = 0, length = 0;
    if (!read_number(text, at, "verified ", verified) ||
        !read_number(text, at, "session ", length) ||
        static_cast<std::size_t>(length) != text.size() - at)
        return nullptr;
    const auto* der = reinterpret_cast<const unsigned char*>(text.data() + at);
    SSL_SESSION* session = d2i_SSL_SESSION(nullptr, &der, static_cast<long>(length));
    if (!session) return nullptr;
    std::time_t now = std::time(nullptr);
    bool fresh = verified <= now && now - verified < max_age_seconds &&
                 SSL_SESSION_get_protocol_version(session) == TLS1_3_VERSION &&
                 SSL_SESSION_is_resumable(session) &&
                 SSL_SESSION_get_time(session) + SSL_SESSION_get_timeout(session) > now &&
                 ticket_alive(session, now);
    if (!fresh) {
        SSL_SESSION_free(session);
        return nullptr;
    }
    verified_at = static_cast<std::time_t>(verified);
    return session;
}

// DER: the length at `at` (after the tag); advances past it. Long form up
// to 4 bytes is plenty for a session.
bool der_length(std::string_view der, std::size_t& at, std::size_t& length) {
    if (at >= der.size()) return false;
    unsigned char first = static_cast<unsigned char>(der[at++]);
    if (first < 0x80) {
        length = first;
    } else {
        std::size_t bytes = first & 0x7f;
        if (bytes == 0 || bytes > 4 || at + bytes > der.size()) return false;
        length = 0;
        for (std::size_t i = 0; i < bytes; ++i)
            length = (length << 8) | static_cast<unsigned char>(der[at++]);
    }
    return length <= der.size() - at;
}

std::string der_header(unsigned char tag, std::size_t length) {
    std::string header(1, static_cast<char>(tag));
    if (length < 0x80) return header + static_cast<char>(length);
    std::string bytes;
    for (std::size_t rest = length; rest; rest >>= 8)
        bytes.insert(0, 1, static_cast<char>(rest & 0xff));
    return header + static_cast<char>(0x80 | bytes.size()) + bytes;
}

// The session without the server's certificate (field [3] of OpenSSL's
// SSL_SESSION_ASN1): resumption does not need it, and decoding its public
// key is the first use of OpenSSL 3.0's decoders, 3.3 M instructions, a
// sixth of a resumed take. Empty when the DER is not as expected.
std::string without_peer(std::string_view der) {
    std::size_t at = 1, length = 0;
    if (der.empty() || static_cast<unsigned char>(der[0]) != 0x30 || !der_length(der, at, length) ||
        at + length != der.size())
        return "";
    std::string body;
    while (at < der.size()) {
        std::size_t start = at++, size = 0;
        if (!der_length(der, at, size)) return "";
        if (static_cast<unsigned char>(der[start]) != 0xa3)
            body.append(der.substr(start, at + size - start));
        at += size;
    }
    return der_header(0x30, body.size()) + body;
}

bool write_all(int fd, const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

std::string entry_key(const TlsOptions& options, const std::string& name, int port) {
    std::string key = trust_key(options);
    add_system_dir(key, options);
    add_field(key, "name", name);
    add_field(key, "port", std::to_string(port));
    return key;
}

SSL_SESSION* load(const std::string& dir, const std::string& key, std::time_t& verified_at) {
    std::string contents;
    if (!usable_directory(dir) || !read_private_file(file_name(dir, key), contents)) return nullptr;
    return parse(contents, key, verified_at);
}

void store(const std::string& dir, const std::string& key, SSL_SESSION* session,
           std::time_t verified_at) {
    if (SSL_SESSION_get_protocol_version(session) != TLS1_3_VERSION) return;
    int length = i2d_SSL_SESSION(session, nullptr);
    if (length <= 0 || static_cast<std::size_t>(length) > max_file_size / 2) return;
    std::string der(static_cast<std::size_t>(length), '\0');
    auto* out = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_SSL_SESSION(session, &out) != length) return;
    der = without_peer(der);
    if (der.empty() || (!usable_directory(dir) && !make_directory(dir))) return;
    std::string bytes(magic);
    bytes += key;
    bytes += "verified " + std::to_string(verified_at) + "\nsession " + std::to_string(der.size()) +
             "\n" + der;
    std::string path = file_name(dir, key);
    std::string temporary =
        path + "." + std::to_string(::getpid()) + "." +
        std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return;
    bool ok = ::fchmod(fd, 0600) == 0 && write_all(fd, bytes);
    ok = ::close(fd) == 0 && ok;
    if (!ok || ::rename(temporary.c_str(), path.c_str()) != 0) ::unlink(temporary.c_str());
}

}  // namespace tbucket::tls_cache
