#include "net/url.h"

#include <cstdio>

#include "util/error.h"
#include "util/parse.h"

namespace tbucket {
namespace {

[[noreturn]] void bad(const std::string& message) {
    throw Error(ErrorKind::usage, "URL: " + message);
}

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

int64_t parse_bounded(std::string_view what, std::string_view text, int64_t low, int64_t high) {
    if (!all_digits(text) || text.size() > 10) {
        bad(std::string(what) + " '" + std::string(text) + "' is not a number");
    }
    int64_t value = std::stoll(std::string(text));
    if (value < low || value > high) {
        bad(std::string(what) + " " + std::to_string(value) + " is not in " + std::to_string(low) +
            ".." + std::to_string(high));
    }
    return value;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view what, std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        int hi = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
        int lo = hi >= 0 ? hex_value(text[i + 2]) : -1;
        if (lo < 0) bad(std::string(what) + " has a '%' not followed by two hex digits");
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

// USER[:PASSWORD] before the '@'.
void parse_userinfo(std::string_view info, ConnectionOptions& options) {
    std::size_t colon = info.find(':');
    options.user = percent_decode("user", info.substr(0, colon));
    if (colon != std::string_view::npos) {
        options.password = percent_decode("password", info.substr(colon + 1));
        options.has_password = true;
    }
}

// -p and -n: a URL's bounds, in a message that names the option, not the URL.
int64_t option_number(std::string_view option, std::string_view text, int64_t low, int64_t high) {
    std::string what = std::string(option) + " '" + printable(text) + "'";
    if (!all_digits(text) || text.size() > 10)
        throw Error(ErrorKind::usage, what + " is not a number");
    int64_t value = std::stoll(std::string(text));
    if (value < low || value > high) {
        throw Error(ErrorKind::usage,
                    what + " is not in " + std::to_string(low) + ".." + std::to_string(high));
    }
    return value;
}

bool is_host_char(unsigned char c, bool in_brackets) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return alnum || c == '-' || c == '.' || c == '_' || (in_brackets && (c == ':' || c == '%'));
}

// A name, an IPv4 address, or (in brackets) an IPv6 one. Checked here so
// that a malformed URL is a usage error, not a name lookup that fails.
void check_host(std::string_view host, bool in_brackets) {
    for (unsigned char c : host) {
        if (is_host_char(c, in_brackets)) continue;
        std::string where = "host '" + printable(host) + "'";
        if (c == ':') {
            bad(where +
                " has a ':'; only one ':PORT' may follow the host, and an IPv6 address "
                "goes in brackets, as in redis://[::1]:6379");
        }
        std::string what = "'";  // not "'" + ...: GCC 12 warns falsely (-Wrestrict, PR105329)
        what.append(printable(std::string(1, static_cast<char>(c)))).append("'");
        bad(where + " contains " + (c == ' ' ? std::string("a space") : what));
    }
}

void parse_host_port(std::string_view hostport, ConnectionOptions& options) {
    std::string_view port_text;
    if (!hostport.empty() && hostport[0] == '[') {  // [::1]:6379
        std::size_t close = hostport.find(']');
        if (close == std::string_view::npos) bad("'[' without ']' around an IPv6 address");
        options.host = std::string(hostport.substr(1, close - 1));
        std::string_view rest = hostport.substr(close + 1);
        if (!rest.empty()) {
            if (rest[0] != ':') bad("unexpected text after the IPv6 address");
            port_text = rest.substr(1);
            if (port_text.empty()) bad("port is empty");
        }
    } else {
        std::size_t colon = hostport.rfind(':');
        options.host = std::string(hostport.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = hostport.substr(colon + 1);
            if (port_text.empty()) bad("port is empty");
        }
    }
    if (options.host.empty()) bad("host is missing");
    check_host(options.host, !hostport.empty() && hostport[0] == '[');
    if (!port_text.empty())
        options.port = static_cast<int>(parse_bounded("port", port_text, 1, 65535));
}

void parse_redis(std::string_view rest, ConnectionOptions& options) {
    // The last '@' ends the user info even when the password holds a '/':
    // cutting at the first '/' would quote part of a password in errors.
    std::size_t at = rest.rfind('@');
    if (at != std::string_view::npos) {
        parse_userinfo(rest.substr(0, at), options);
        rest = rest.substr(at + 1);
    }
    std::size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    if (authority.find(',') != std::string_view::npos)
        bad("several seed nodes are a list of URLs, not one");
    parse_host_port(authority, options);
    if (slash != std::string_view::npos) {
        std::string_view db = rest.substr(slash + 1);
        if (!db.empty()) options.db = parse_bounded("database", db, 0, 2147483647);
    }
}

void parse_unix(std::string_view rest, ConnectionOptions& options) {
    options.transport = ConnectionOptions::Transport::unix_socket;
    if (!rest.empty() && rest[0] != '/') {
        std::size_t at = rest.find("@/");
        if (at == std::string_view::npos)
            bad("unix:// needs an absolute socket path, e.g. unix:///run/redis.sock");
        parse_userinfo(rest.substr(0, at), options);
        rest = rest.substr(at + 1);
    }
    std::size_t query = rest.find('?');
    options.path = std::string(rest.substr(0, query));
    if (options.path.size() < 2) bad("unix:// socket path is missing");
    if (query != std::string_view::npos) {
        std::string_view q = rest.substr(query + 1);
        if (q.substr(0, 3) != "db=")
            bad("unknown query '" + std::string(q) + "'; only db=N is understood");
        options.db = parse_bounded("database", q.substr(3), 0, 2147483647);
    }
}

}  // namespace

ConnectionOptions parse_url(std::string_view url) {
    ConnectionOptions options;
    std::size_t sep = url.find("://");
    if (sep == std::string_view::npos)
        bad("expected redis://HOST[:PORT][/DB], rediss://… or unix:///PATH");
    std::string_view scheme = url.substr(0, sep);
    std::string_view rest = url.substr(sep + 3);
    if (scheme == "redis" || scheme == "rediss") {
        options.tls.enabled = scheme == "rediss";
        parse_redis(rest, options);
    } else if (scheme == "unix") {
        parse_unix(rest, options);
    } else {
        bad("unknown scheme '" + std::string(scheme) +
            "'; use redis://, rediss://, unix:// or redis-sentinel://");
    }
    return options;
}

namespace {

// [USERINFO@]H1,H2[/...]: the user info with its '@' (a password may hold a
// comma: the last '@' ends it), the hosts, and the rest from the '/'.
struct HostList {
    std::string_view userinfo, hosts, tail;
};

HostList split_hosts(std::string_view rest) {
    HostList l;
    std::size_t at = rest.rfind('@');
    l.userinfo = at == std::string_view::npos ? "" : rest.substr(0, at + 1);
    l.hosts = at == std::string_view::npos ? rest : rest.substr(at + 1);
    std::size_t slash = l.hosts.find('/');
    l.tail = slash == std::string_view::npos ? "" : l.hosts.substr(slash);
    l.hosts = l.hosts.substr(0, slash);
    return l;
}

// The entries of a comma-separated host list; an empty one is refused.
std::vector<std::string_view> host_entries(std::string_view hosts, const std::string& list) {
    std::vector<std::string_view> entries;
    for (std::size_t start = 0;;) {
        std::size_t comma = hosts.find(',', start);
        entries.push_back(
            hosts.substr(start, comma == std::string_view::npos ? hosts.npos : comma - start));
        if (entries.back().empty()) bad("the list of " + list + " has an empty entry");
        if (comma == std::string_view::npos) return entries;
        start = comma + 1;
    }
}

// redis-sentinel://[USERINFO@]HOSTS/MASTER[/DB]: each Sentinel as a redis://
// URL of its own (so that parse_url checks it), with the master's name.
std::vector<ConnectionOptions> parse_sentinels(std::string_view scheme, std::string_view rest) {
    HostList l = split_hosts(rest);
    std::string_view path = l.tail.empty() ? "" : l.tail.substr(1);
    std::string_view master = path.substr(0, path.find('/'));
    std::string_view db = path.substr(master.size());
    if (l.hosts.empty()) bad("names no Sentinel: " + std::string(scheme) + "://HOST:PORT/MASTER");
    if (master.empty()) {
        bad("names no primary: " + std::string(scheme) +
            "://HOST:PORT/MASTER, MASTER as in the Sentinels' 'sentinel monitor'");
    }
    for (unsigned char c : master) {
        if (c <= ' ' || c >= 0x7f || c == '?' || c == '#' || c == '%')
            bad("primary name '" + printable(master) + "' has a character Sentinel names do not");
    }
    std::string data_scheme = scheme == "rediss-sentinel" ? "rediss" : "redis";
    std::vector<ConnectionOptions> sentinels;
    for (std::string_view host : host_entries(l.hosts, "Sentinels")) {
        // A port is there when a ':' follows the host (after the brackets of IPv6).
        std::size_t bracket = host[0] == '[' ? host.find(']') : 0;
        bool has_port =
            bracket != std::string_view::npos && host.find(':', bracket) != std::string_view::npos;
        std::string one = data_scheme + "://";
        one.append(l.userinfo).append(host);
        if (!has_port) one.append(":").append(std::to_string(default_sentinel_port));
        one.append(db);
        sentinels.push_back(parse_url(one));
        sentinels.back().sentinel_master = std::string(master);
    }
    return sentinels;
}

}  // namespace

std::vector<ConnectionOptions> parse_seeds(std::string_view url) {
    std::size_t sep = url.find("://");
    std::string_view scheme = sep == std::string_view::npos ? "" : url.substr(0, sep);
    if (scheme == "redis-sentinel" || scheme == "rediss-sentinel")
        return parse_sentinels(scheme, url.substr(sep + 3));
    if (scheme == "unix" || url.find(',') == std::string_view::npos) return {parse_url(url)};
    // Split the host list only: user info and the database are every
    // seed's, and parse_url checks each seed.
    HostList l = split_hosts(url.substr(sep + 3));
    std::vector<ConnectionOptions> seeds;
    for (std::string_view host : host_entries(l.hosts, "seed nodes")) {
        std::string one(scheme);
        one.append("://").append(l.userinfo).append(host).append(l.tail);
        seeds.push_back(parse_url(one));
    }
    return seeds;
}

void override_address(ConnectionOptions& options, std::string_view host, std::string_view port,
                      std::string_view db) {
    if (!host.empty() || !port.empty()) {
        if (options.transport == ConnectionOptions::Transport::unix_socket) {
            ConnectionOptions tcp;  // the default address, then what is given
            options.transport = tcp.transport;
            options.host = tcp.host;
            options.port = tcp.port;
            options.path.clear();
        }
    }
    if (!host.empty()) {
        for (unsigned char c : host) {
            if (!is_host_char(c, true)) {
                throw Error(ErrorKind::usage,
                            "-h '" + printable(host) + "' is not a host name or address");
            }
        }
        options.host = std::string(host);
    }
    if (!port.empty()) options.port = static_cast<int>(option_number("-p", port, 1, 65535));
    if (!db.empty()) options.db = option_number("-n", db, 0, 2147483647);
}

std::string describe_endpoint(const ConnectionOptions& options) {
    if (options.transport == ConnectionOptions::Transport::unix_socket) return options.path;
    if (options.host.find(':') != std::string::npos) {
        return "[" + options.host + "]:" + std::to_string(options.port);
    }
    return options.host + ":" + std::to_string(options.port);
}

}  // namespace tbucket
