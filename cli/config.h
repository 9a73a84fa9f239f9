#pragma once

// The configuration files (SPEC §14): /etc/tbucket/config.toml, then the
// user's ~/.config/tbucket/config.toml (XDG), each optional, the user's
// winning key by key. They hold connection settings and bucket
// definitions. Flags and the environment win over both (app.cpp applies
// them). A file that cannot be read or used is ErrorKind::config (exit 78)
// naming file:line; nothing is sent to Redis then.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app.h"

namespace tbucket::cli {

// A value from a file and where it was: "/etc/tbucket/config.toml:3".
struct FileValue {
    std::string value;
    std::string from;
};

struct BucketDefinition {
    SettingsText text;  // as parse_settings takes it, checked when the file was read
    std::string from;
};

struct Config {
    // Connection settings by key: url, password_file, prefix, fail_open,
    // tls, cacert, cacertdir, cert, key, sni, insecure ("true"/"false" for
    // the yes/no ones).
    std::map<std::string, FileValue> values;
    std::map<std::string, BucketDefinition> buckets;
    std::vector<std::string> files;  // read, system first

    const FileValue* value(const std::string& key) const;
    // The settings a defined bucket is created with; nullopt: not defined.
    std::optional<Settings> settings_of(const std::string& name) const;
};

// The files' paths: TBUCKET_SYSTEM_CONFIG or /etc/tbucket/config.toml, and
// TBUCKET_CONFIG or $XDG_CONFIG_HOME (else ~/.config)/tbucket/config.toml.
std::string system_config_path();
std::string user_config_path();

// Both files, read once per process.
const Config& config();

// One file's text (for tests): its values and buckets added to `into`.
void read_config_text(const std::string& text, const std::string& path, Config& into);

}  // namespace tbucket::cli
