#include "net/private_files.h"

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace tbucket::private_files {
namespace {

std::string identity(const std::string& path) {
    if (path.empty()) return "";
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return "missing";
    char text[160];
    std::snprintf(text, sizeof text, "%llu:%llu:%lld:%lld.%09ld",
                  static_cast<unsigned long long>(st.st_dev),
                  static_cast<unsigned long long>(st.st_ino), static_cast<long long>(st.st_size),
                  static_cast<long long>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec);
    return text;
}

std::string parent_of(const std::string& path) {
    std::size_t slash = path.rfind('/');
    return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

// `sudo tbucket …` with another user's HOME never leaves root's directory
// in that user's home.
bool make_owned_directory(const std::string& dir) {
    struct stat st {};
    std::string parent = parent_of(dir);
    if (::lstat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid())
        return false;
    return ::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST;
}

}  // namespace

void add_field(std::string& key, std::string_view name, std::string_view value) {
    key.append(name).append("=").append(std::to_string(value.size())).append(":");
    key.append(value).append("\n");
}

void add_file(std::string& key, std::string_view name, const std::string& path) {
    add_field(key, name, path);
    add_field(key, std::string(name) + "@", identity(path));
}

std::string trust_key(const TlsOptions& options) {
    std::string key;
    add_field(key, "verify", options.verify ? "1" : "0");
    add_field(key, "sni", options.server_name);
    add_file(key, "cacert", options.ca_file);
    add_file(key, "cacertdir", options.ca_dir);
    if (options.ca_file.empty() && options.ca_dir.empty()) {
        // The names OpenSSL gives these variables (X509_get_default_cert_*_env).
        const char* file = std::getenv("SSL_CERT_FILE");
        const char* dir = std::getenv("SSL_CERT_DIR");
        add_file(key, "system_file", file && *file ? file : "");
        add_file(key, "system_dir_env", dir && *dir ? dir : "");
    }
    add_file(key, "cert", options.cert_file);
    add_file(key, "key", options.key_file);
    return key;
}

std::string hex_hash(std::string_view text) {
    std::uint64_t hash = 14695981039346656037ull;
    for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
    return hex;
}

bool private_to_us(const struct stat& st) {
    return st.st_uid == ::geteuid() && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

bool usable_directory(const std::string& dir) {
    struct stat st {};
    return ::lstat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && private_to_us(st);
}

bool make_directory(const std::string& dir) {
    if (usable_directory(dir)) return true;
    std::string parent = parent_of(dir);
    if (!usable_directory(parent)) make_owned_directory(parent);
    make_owned_directory(dir);
    return usable_directory(dir);
}

}  // namespace tbucket::private_files
