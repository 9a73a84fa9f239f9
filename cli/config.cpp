#include "config.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

// Header-only: the binary is static, and Debian ships toml++ as a shared
// library besides its headers.
#define TOML_HEADER_ONLY 1
#include <toml++/toml.h>

#include "util/error.h"
#include "util/parse.h"
#include "util/zone.h"

namespace tbucket::cli {
namespace {

[[noreturn]] void bad(const std::string& where, const std::string& what) {
    throw Error(ErrorKind::config, where + ": " + what);
}

std::string where(const std::string& path, const toml::node& node) {
    return path + ":" + std::to_string(node.source().begin.line);
}

std::string text_of(const std::string& path, const std::string& key, const toml::node& node) {
    if (const auto* s = node.as_string()) {
        if (s->get().empty()) bad(where(path, node), key + " is empty");
        return s->get();
    }
    bad(where(path, node), key + " must be a string (in quotes)");
}

std::string flag_of(const std::string& path, const std::string& key, const toml::node& node) {
    if (const auto* b = node.as_boolean()) return b->get() ? "true" : "false";
    bad(where(path, node), key + " must be true or false");
}

// A usage error of a value (a bad rate, name, duration) as a config error
// at its line.
template <typename Check>
void checked(const std::string& at, const std::string& what, Check check) {
    try {
        check();
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::usage) throw;
        bad(at, what + ": " + e.what());
    }
}

void read_bucket(const std::string& path, const std::string& name, const toml::node& node,
                 Config& into) {
    const std::string at = where(path, node);
    checked(at, "bucket name", [&] { parse_name(name); });
    const toml::table* table = node.as_table();
    if (!table) bad(at, "buckets." + name + " must be a table: [buckets." + name + "]");
    BucketDefinition d;
    d.from = at;
    for (const auto& [k, v] : *table) {
        const std::string key(k.str());
        const std::string here = where(path, v);
        if (key == "capacity") {
            const auto* n = v.as_integer();
            if (!n) bad(here, "capacity must be a whole number");
            d.text.capacity = std::to_string(n->get());
        } else if (key == "rate") {
            d.text.rate = text_of(path, key, v);
            checked(here, "bucket '" + name + "'", [&] { parse_rate(d.text.rate); });
        } else if (key == "window") {
            d.text.window = text_of(path, key, v);
            checked(here, "bucket '" + name + "'", [&] { parse_window(d.text.window); });
        } else if (key == "tz") {
            d.text.tz = text_of(path, key, v);
            checked(here, "bucket '" + name + "'", [&] { check_zone(d.text.tz); });
        } else if (key == "expire") {
            d.text.expire = text_of(path, key, v);
            checked(here, "bucket '" + name + "'",
                    [&] { parse_exact_duration_ms("expire", d.text.expire); });
        } else {
            bad(here, "unknown key '" + key + "' in bucket '" + name +
                          "' (known: capacity, rate, window, tz, expire)");
        }
    }
    if (d.text.capacity.empty()) bad(at, "bucket '" + name + "' has no capacity");
    checked(at, "bucket '" + name + "'", [&] { parse_settings(d.text); });
    into.buckets[name] = std::move(d);
}

const char* const string_keys[] = {"url",  "password_file", "prefix", "cacert",       "cacertdir",
                                   "cert", "key",           "sni",    "restart_grace"};
const char* const flag_keys[] = {"fail_open", "tls", "insecure"};

template <typename List>
bool listed(const List& list, const std::string& key) {
    for (const char* k : list) {
        if (key == k) return true;
    }
    return false;
}

// The text of a file that exists, or nullopt; unreadable: exit 78.
std::optional<std::string> file_text(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
        bad(path, std::string("cannot read: ") + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) bad(path, "not a regular file");
    std::ifstream in(path, std::ios::binary);
    if (!in) bad(path, std::string("cannot read: ") + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

const FileValue* Config::value(const std::string& key) const {
    auto it = values.find(key);
    return it == values.end() ? nullptr : &it->second;
}

std::optional<Settings> Config::settings_of(const std::string& name) const {
    auto it = buckets.find(name);
    if (it == buckets.end()) return std::nullopt;
    return parse_settings(it->second.text);
}

void read_config_text(const std::string& text, const std::string& path, Config& into) {
    toml::table root;
    try {
        root = toml::parse(text, path);
    } catch (const toml::parse_error& e) {
        bad(path + ":" + std::to_string(e.source().begin.line), std::string(e.description()));
    }
    for (const auto& [k, v] : root) {
        const std::string key(k.str());
        if (key == "buckets") {
            const toml::table* buckets = v.as_table();
            if (!buckets) bad(where(path, v), "buckets must be tables: [buckets.NAME]");
            for (const auto& [name, b] : *buckets)
                read_bucket(path, std::string(name.str()), b, into);
        } else if (listed(string_keys, key)) {
            into.values[key] = {text_of(path, key, v), where(path, v)};
        } else if (listed(flag_keys, key)) {
            into.values[key] = {flag_of(path, key, v), where(path, v)};
        } else if (key == "durable") {
            const auto* n = v.as_integer();
            if (!n || n->get() < 0 || n->get() > 99)
                bad(where(path, v), "durable must be a number of replicas, 0..99");
            into.values[key] = {std::to_string(n->get()), where(path, v)};
        } else {
            bad(where(path, v),
                "unknown key '" + key +
                    "' (known: url, password_file, prefix, fail_open, tls, "
                    "cacert, cacertdir, cert, key, sni, insecure, restart_grace, durable, "
                    "[buckets.NAME])");
        }
    }
    into.files.push_back(path);
}

std::string system_config_path() {
    const char* set = std::getenv("TBUCKET_SYSTEM_CONFIG");
    return set && *set ? set : "/etc/tbucket/config.toml";
}

std::string user_config_path() {
    if (const char* set = std::getenv("TBUCKET_CONFIG"); set && *set) return set;
    if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg == '/')
        return std::string(xdg) + "/tbucket/config.toml";
    const char* home = std::getenv("HOME");
    if (!home || !*home) return "";
    return std::string(home) + "/.config/tbucket/config.toml";
}

const Config& config() {
    static const Config loaded = [] {
        Config c;
        for (const std::string& path : {system_config_path(), user_config_path()}) {
            if (path.empty()) continue;
            if (std::optional<std::string> text = file_text(path)) read_config_text(*text, path, c);
        }
        return c;
    }();
    return loaded;
}

}  // namespace tbucket::cli
