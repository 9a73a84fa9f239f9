// Unit tests for src/net/url.h: redis:// and unix:// URLs (SPEC §3). A password
// must never appear in an error message or in describe_endpoint.

#include <catch2/catch.hpp>
#include <string>
#include <string_view>

#include "net/url.h"
#include "util/error.h"

namespace tbucket {
namespace {

using Transport = ConnectionOptions::Transport;

// The message of the tbucket::Error that parse_url(url) throws; fails unless
// it throws one of kind `usage`, or when the message holds `secret`.
std::string url_error(std::string_view url, std::string_view secret = "s3cret") {
    INFO("URL: " << url);
    try {
        parse_url(url);
    } catch (const Error& e) {
        std::string message = e.what();
        INFO("message: " << message);
        CHECK(kind_name(e.kind()) == kind_name(ErrorKind::usage));
        CHECK(message.find(secret) == std::string::npos);
        return message;
    }
    FAIL("no tbucket::Error was thrown");
    return {};
}

// parse_seeds refuses `url` as a usage error whose message keeps the password out.
void seeds_error(const char* url) {
    INFO(url);
    try {
        parse_seeds(url);
        FAIL("accepted");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::usage);
        CHECK(std::string(e.what()).find("s3cret") == std::string::npos);
    }
}

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

// ---------------------------------------------------------------- accepted

TEST_CASE("the default URL is TCP to 127.0.0.1:6379, db 0, no password", "[url]") {
    ConnectionOptions o = parse_url(default_url);
    CHECK(o.transport == Transport::tcp);
    CHECK(o.host == "127.0.0.1");
    CHECK(o.port == 6379);
    CHECK(o.db == 0);
    CHECK(o.user.empty());
    CHECK(o.password.empty());
    CHECK_FALSE(o.has_password);
    CHECK(describe_endpoint(o) == "127.0.0.1:6379");
}

TEST_CASE("a URL without a port uses port 6379", "[url]") {
    ConnectionOptions o = parse_url("redis://host");
    CHECK(o.transport == Transport::tcp);
    CHECK(o.host == "host");
    CHECK(o.port == 6379);
    CHECK(o.db == 0);
    CHECK_FALSE(o.has_password);
}

TEST_CASE("a URL with only a password, a port and a db", "[url]") {
    ConnectionOptions o = parse_url("redis://:pw@host:7000/3");
    CHECK(o.host == "host");
    CHECK(o.port == 7000);
    CHECK(o.db == 3);
    CHECK(o.user.empty());
    CHECK(o.password == "pw");
    CHECK(o.has_password);
}

TEST_CASE("a URL with a user and a password", "[url]") {
    ConnectionOptions o = parse_url("redis://user:pw@host");
    CHECK(o.host == "host");
    CHECK(o.port == 6379);
    CHECK(o.user == "user");
    CHECK(o.password == "pw");
    CHECK(o.has_password);
}

TEST_CASE("a URL with a user and no password", "[url]") {
    ConnectionOptions o = parse_url("redis://user@host");
    CHECK(o.user == "user");
    CHECK_FALSE(o.has_password);
    CHECK(o.password.empty());
}

TEST_CASE("a URL with an empty password has one", "[url]") {
    ConnectionOptions o = parse_url("redis://user:@host");
    CHECK(o.user == "user");
    CHECK(o.has_password);
    CHECK(o.password.empty());
}

TEST_CASE("user and password are percent-decoded", "[url]") {
    ConnectionOptions o = parse_url("redis://us%65r:p%40ss@host");
    CHECK(o.user == "user");
    CHECK(o.password == "p@ss");
    CHECK(o.host == "host");
    CHECK(parse_url("redis://u:a%2Fb%3a%25@h").password == "a/b:%");
}

TEST_CASE("a password may hold '@' and ':' as they are", "[url]") {
    ConnectionOptions o = parse_url("redis://u:a@b:c@host:7001");
    CHECK(o.user == "u");
    CHECK(o.password == "a@b:c");
    CHECK(o.host == "host");
    CHECK(o.port == 7001);
}

TEST_CASE("an IPv6 address in brackets with a port", "[url]") {
    ConnectionOptions o = parse_url("redis://[::1]:6380");
    CHECK(o.transport == Transport::tcp);
    CHECK(o.host == "::1");
    CHECK(o.port == 6380);
    CHECK(describe_endpoint(o) == "[::1]:6380");
}

TEST_CASE("an IPv6 address in brackets without a port uses 6379", "[url]") {
    ConnectionOptions o = parse_url("redis://[::1]");
    CHECK(o.host == "::1");
    CHECK(o.port == 6379);
}

TEST_CASE("a port of 1 and of 65535 are accepted", "[url]") {
    CHECK(parse_url("redis://h:1").port == 1);
    CHECK(parse_url("redis://h:65535").port == 65535);
}

TEST_CASE("a URL with a trailing slash and no db uses db 0", "[url]") {
    ConnectionOptions o = parse_url("redis://h:6379/");
    CHECK(o.db == 0);
    CHECK(o.port == 6379);
}

TEST_CASE("a unix socket URL", "[url]") {
    ConnectionOptions o = parse_url("unix:///run/redis.sock");
    CHECK(o.transport == Transport::unix_socket);
    CHECK(o.path == "/run/redis.sock");
    CHECK(o.db == 0);
    CHECK_FALSE(o.has_password);
    CHECK(describe_endpoint(o) == "/run/redis.sock");
}

TEST_CASE("a unix socket URL with user, password and db", "[url]") {
    ConnectionOptions o = parse_url("unix://user:pw@/tmp/r.sock?db=2");
    CHECK(o.transport == Transport::unix_socket);
    CHECK(o.path == "/tmp/r.sock");
    CHECK(o.user == "user");
    CHECK(o.password == "pw");
    CHECK(o.has_password);
    CHECK(o.db == 2);
}

TEST_CASE("describe_endpoint never contains the password", "[url]") {
    for (std::string_view url :
         {"redis://:s3cret@host:7000/3", "redis://user:s3cret@host", "redis://u:s3cret@[::1]:6380",
          "unix://u:s3cret@/tmp/r.sock?db=2", "redis://s3cret:s3cret@h"}) {
        INFO("URL: " << url);
        ConnectionOptions o = parse_url(url);
        CHECK(o.password == "s3cret");
        std::string endpoint = describe_endpoint(o);
        CHECK_FALSE(contains(endpoint, "s3cret"));
    }
}

// ---------------------------------------------------------------- refused

TEST_CASE("a rediss:// URL is a redis:// URL with TLS on", "[url]") {
    ConnectionOptions o = parse_url("rediss://u:s3cret@host:6380/2");
    CHECK(o.tls.enabled);
    CHECK(o.tls.verify);
    CHECK(o.host == "host");
    CHECK(o.port == 6380);
    CHECK(o.db == 2);
    CHECK(o.password == "s3cret");
    CHECK_FALSE(parse_url("redis://host").tls.enabled);
    CHECK_FALSE(parse_url("unix:///run/redis.sock").tls.enabled);
    CHECK(contains(url_error("rediss://"), "host"));
}

TEST_CASE("an unknown scheme is refused", "[url]") {
    CHECK(contains(url_error("http://x"), "http"));
    url_error("http://u:s3cret@x");
    url_error("REDIS://host");
}

TEST_CASE("a URL without a scheme is refused", "[url]") {
    url_error("127.0.0.1:6379");
    url_error("localhost");
    url_error("");
    url_error("u:s3cret@host:6379");
    url_error("redis:/host");
}

TEST_CASE("port 0 is refused", "[url]") {
    CHECK(contains(url_error("redis://h:0"), "port"));
    url_error("redis://u:s3cret@h:0");
}

TEST_CASE("port 99999 is refused", "[url]") {
    CHECK(contains(url_error("redis://h:99999"), "port"));
    url_error("redis://u:s3cret@h:99999");
    url_error("redis://u:s3cret@h:65536");
    url_error("redis://u:s3cret@h:99999999999999999999");
}

TEST_CASE("a port that is not a number is refused", "[url]") {
    CHECK(contains(url_error("redis://h:abc"), "port"));
    url_error("redis://u:s3cret@h:abc");
    url_error("redis://u:s3cret@h:-1");
    url_error("redis://u:s3cret@h:+80");
    url_error("redis://u:s3cret@h: 80");
}

TEST_CASE("an empty port is refused", "[url]") {
    CHECK(contains(url_error("redis://h:"), "port"));
    url_error("redis://u:s3cret@h:");
    url_error("redis://u:s3cret@h:/1");
    url_error("redis://u:s3cret@[::1]:");
}

TEST_CASE("a db that is not a number is refused", "[url]") {
    CHECK(contains(url_error("redis://h/x"), "database"));
    url_error("redis://u:s3cret@h:6379/x");
    url_error("redis://u:s3cret@h/-1");
    url_error("redis://u:s3cret@h/1/2");
    url_error("redis://u:s3cret@h/99999999999");
}

TEST_CASE("a URL without a host is refused", "[url]") {
    CHECK(contains(url_error("redis://:6379"), "host"));
    CHECK(contains(url_error("redis://"), "host"));
    url_error("redis://u:s3cret@:6379");
    url_error("redis://u:s3cret@");
    url_error("redis://u:s3cret@/3");
    url_error("redis://[]:6379");
}

// Once taken for host "h:1" and looked up in DNS: exit 69, not 2.
TEST_CASE("a host with a ':' outside brackets is refused", "[url]") {
    std::string message = url_error("redis://h:1:1");
    CHECK(contains(message, "host 'h:1'"));
    CHECK(contains(message, "brackets"));
    CHECK(contains(url_error("redis://::1"), "brackets"));
    CHECK(contains(url_error("redis://::1:6379"), "brackets"));
    url_error("redis://u:s3cret@h:1:1");
    url_error("redis://u:s3cret@h:6379:");
    url_error("rediss://h:1:1/0");
}

TEST_CASE("a host with a character no host name has is refused and the character named", "[url]") {
    CHECK(contains(url_error("redis://h h"), "a space"));
    CHECK(contains(url_error("redis://h#x"), "'#'"));
    CHECK(contains(url_error("redis://h?db=1"), "'?'"));
    CHECK(contains(url_error("redis://h\x01"), "'\\x01'"));
    CHECK(contains(url_error("redis://[::1 ]:6379"), "a space"));
    CHECK(contains(url_error("redis://[::1]x"), "after the IPv6 address"));
    url_error("redis://u:s3cret@h%20x:6379");
    url_error("redis://u:s3cret@h\\x");
}

TEST_CASE("malformed ports, hosts and forms are all usage errors", "[url]") {
    for (std::string_view url :
         {"redis://:", "redis://h:", "redis://h:0", "redis://h:65536", "redis://h:x",
          "redis://h:-1", "redis://h:1x", "redis://[]", "redis://[::1", "redis://:0",
          "redis://h:99999999999", "redis://@", "redis://@:6379", "rediss://:"}) {
        url_error(url);
    }
}

TEST_CASE("host names, IPv4 and bracketed IPv6 addresses are accepted", "[url]") {
    CHECK(parse_url("redis://my-host_1.example:6380").host == "my-host_1.example");
    CHECK(parse_url("redis://127.0.0.1").host == "127.0.0.1");
    CHECK(parse_url("redis://[fe80::1%eth0]:6379").host == "fe80::1%eth0");
    CHECK(parse_url("redis://h:00080").port == 80);
}

TEST_CASE("a bad percent escape is refused", "[url]") {
    CHECK(contains(url_error("redis://u:p%zz@h", "p%zz"), "%"));
    url_error("redis://u:s3cret%4@h");
    url_error("redis://u:s3cret%@h");
    url_error("redis://u:%g0s3cret@h");
    url_error("redis://us%Xr:s3cret@h");
    url_error("unix://u:s3cret%@/tmp/r.sock");
}

TEST_CASE("a malformed IPv6 address is refused", "[url]") {
    url_error("redis://u:s3cret@[::1");
    url_error("redis://u:s3cret@[::1]6379");
}

TEST_CASE("a unix:// URL without a path is refused", "[url]") {
    url_error("unix://");
    url_error("unix:///");
    url_error("unix://u:s3cret@");
    url_error("unix://u:s3cret@/");
    url_error("unix://relative/path.sock");
    url_error("unix://u:s3cret@/?db=1");
}

TEST_CASE("a unix:// URL with a bad query is refused", "[url]") {
    url_error("unix://u:s3cret@/tmp/r.sock?db=x");
    url_error("unix://u:s3cret@/tmp/r.sock?db=");
    url_error("unix://u:s3cret@/tmp/r.sock?foo=1");
}

TEST_CASE("one URL names one node: a list of seeds is not one URL", "[url]") {
    url_error("redis://h1:7000,h2:7001");
    url_error("redis://u:s3cret@h1:7000,h2:7001");
}

TEST_CASE("comma-separated seed nodes share user, password and database", "[url][seeds]") {
    std::vector<ConnectionOptions> seeds = parse_seeds("redis://u:s3,cret@h1:7000,h2,[::1]:7002/3");
    REQUIRE(seeds.size() == 3);
    CHECK(seeds[0].host == "h1");
    CHECK(seeds[0].port == 7000);
    CHECK(seeds[1].host == "h2");
    CHECK(seeds[1].port == 6379);
    CHECK(seeds[2].host == "::1");
    CHECK(seeds[2].port == 7002);
    for (const ConnectionOptions& seed : seeds) {
        CHECK(seed.user == "u");
        CHECK(seed.password == "s3,cret");
        CHECK(seed.db == 3);
    }
}

TEST_CASE("a URL without a comma is one seed, as parse_url reads it", "[url][seeds]") {
    std::vector<ConnectionOptions> seeds = parse_seeds("redis://h:7000/2");
    REQUIRE(seeds.size() == 1);
    CHECK(seeds[0].port == 7000);
    CHECK(seeds[0].db == 2);
    seeds = parse_seeds("unix:///tmp/a,b.sock");
    REQUIRE(seeds.size() == 1);
    CHECK(seeds[0].path == "/tmp/a,b.sock");
}

TEST_CASE("a bad seed in a list is refused without the password", "[url][seeds]") {
    for (const char* url :
         {"redis://u:s3cret@h1:7000,", "redis://u:s3cret@h1:7000,,h2", "redis://u:s3cret@h1,h2:0",
          "redis://u:s3cret@h1,:7001", "redis://u:s3cret@h1,h2:x/1"}) {
        seeds_error(url);
    }
}

TEST_CASE("a redis-sentinel:// URL names Sentinels and the primary to ask them for",
          "[url][seeds]") {
    std::vector<ConnectionOptions> seeds =
        parse_seeds("redis-sentinel://u:s3,cret@s1:26380,s2,[::1]:26381/main/3");
    REQUIRE(seeds.size() == 3);
    CHECK(seeds[0].host == "s1");
    CHECK(seeds[0].port == 26380);
    CHECK(seeds[1].host == "s2");
    CHECK(seeds[1].port == 26379);  // Sentinel's own default
    CHECK(seeds[2].host == "::1");
    CHECK(seeds[2].port == 26381);
    for (const ConnectionOptions& seed : seeds) {
        CHECK(seed.sentinel_master == "main");
        CHECK(seed.user == "u");
        CHECK(seed.password == "s3,cret");
        CHECK(seed.db == 3);
        CHECK_FALSE(seed.tls.enabled);
    }
    seeds = parse_seeds("rediss-sentinel://s1/main");
    REQUIRE(seeds.size() == 1);
    CHECK(seeds[0].tls.enabled);
    CHECK(seeds[0].db == 0);
    CHECK(seeds[0].port == 26379);
    // Plain URLs name no primary.
    CHECK(parse_seeds("redis://h1,h2")[1].sentinel_master.empty());
}

TEST_CASE("a redis-sentinel:// URL without Sentinels or a primary is refused without the password",
          "[url][seeds]") {
    for (const char* url :
         {"redis-sentinel://u:s3cret@s1:26379", "redis-sentinel://u:s3cret@s1:26379/",
          "redis-sentinel://u:s3cret@/main", "redis-sentinel://u:s3cret@s1,,s2/main",
          "redis-sentinel://u:s3cret@s1:x/main", "redis-sentinel://u:s3cret@s1/ma in",
          "redis-sentinel://u:s3cret@s1/main/x"}) {
        seeds_error(url);
    }
}

TEST_CASE("a password with a raw '/' is read as a password", "[url]") {
    // The last '@' ends the user info, so the '/' stays in the password and
    // is never mistaken for the start of a database (and quoted in an error).
    ConnectionOptions o = parse_url("redis://u:s3cret/x@h");
    CHECK(o.password == "s3cret/x");
    CHECK(o.host == "h");
    o = parse_url("redis://u:6379/s3cret@h/2");
    CHECK(o.password == "6379/s3cret");
    CHECK(o.db == 2);
    url_error("redis://u:s3cret/x@h:99999");
    url_error("unix://u:s3cret/x@/tmp/r.sock?db=x");
}

}  // namespace
}  // namespace tbucket
