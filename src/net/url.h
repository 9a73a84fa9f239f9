#pragma once

// Where and how to reach Redis: one plain struct, filled by parse_url and
// by the CLI's options, read by Connection.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tbucket {

// How to check and present certificates when TLS is on (redis-cli's
// --cacert, --cacertdir, --cert, --key, --sni, --insecure).
struct TlsOptions {
    bool enabled = false;
    std::string ca_file;  // empty: the system's CA store
    std::string ca_dir;
    std::string cert_file;  // client certificate, for servers that ask for one
    std::string key_file;
    std::string server_name;  // SNI and the name checked; empty: the host
    bool verify = true;
    // Where sessions are kept for resumption by the next process (see
    // tls_cache.h); empty: no cache.
    std::string session_cache_dir;
    // How long a TLS keeper (tls_keeper.h) this process starts stays after
    // its last client; 0: none is started or used. Its socket is in
    // session_cache_dir.
    int64_t keep_ms = 0;
    // Whether this process connects through a keeper when one answers: for
    // one-shot commands (a waiter or `run` connects by itself).
    bool use_keeper = false;

    bool operator==(const TlsOptions&) const = default;
};

struct ConnectionOptions {
    enum class Transport { tcp, unix_socket };
    Transport transport = Transport::tcp;
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string path;  // unix socket
    std::string user;  // ACL user; empty means "default"
    std::string password;
    bool has_password = false;
    int64_t db = 0;
    int64_t connect_timeout_ms = 2000;
    int64_t io_timeout_ms = 5000;
    TlsOptions tls;
    // Set on a Sentinel's options: the name of the primary to ask it for.
    // Such options name where to ask, never where the buckets are.
    std::string sentinel_master;
};

// The port a Sentinel listens on when a redis-sentinel:// URL names none.
inline constexpr int default_sentinel_port = 26379;

inline constexpr std::string_view default_url = "redis://127.0.0.1:6379";

// redis://[[USER][:PASSWORD]@]HOST[:PORT][/DB]
// rediss://… the same, over TLS
// unix://[[USER][:PASSWORD]@]/PATH[?db=N]
// USER and PASSWORD may be percent-encoded. Throws Error(usage); messages
// never contain the password.
ConnectionOptions parse_url(std::string_view url);

// One URL naming several seed nodes, redis://[USERINFO@]H1:P1,H2:P2[/DB]:
// each host with the same user, password and database, in the order given.
// A URL without a comma (and any unix:// URL) is one seed.
// redis-sentinel://[USERINFO@]H1[:P1][,H2[:P2]...]/MASTER[/DB] (rediss-sentinel://
// over TLS) names Sentinels to ask for the primary MASTER: each comes back
// with sentinel_master set; USERINFO, TLS and DB are the data nodes' too.
// Throws Error(usage).
std::vector<ConnectionOptions> parse_seeds(std::string_view url);

// redis-cli's -h HOST, -p PORT and -n DB over a parsed URL: each one given
// (not empty) replaces its part. HOST may be an IPv6 address without
// brackets, as redis-cli takes it; -h or -p turn a unix socket into TCP.
// Throws Error(usage) naming the option.
void override_address(ConnectionOptions& options, std::string_view host, std::string_view port,
                      std::string_view db);

// "127.0.0.1:6379" or "/run/redis.sock", for messages: never the password.
std::string describe_endpoint(const ConnectionOptions& options);

}  // namespace tbucket
