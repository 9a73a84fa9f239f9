// Unit tests for src/redis/cluster.h that need no server: key slots, redirect
// replies, and the wording Nodes relies on to tell a refused connection
// from a lost one.

#include <catch2/catch.hpp>

#include "bucket/script.h"
#include "redis/cluster.h"
#include "util/error.h"

namespace tbucket {
namespace {

TEST_CASE("key slots match CLUSTER KEYSLOT, hash tags included", "[cluster]") {
    // Each expected value is what redis-server 7.0 answers to CLUSTER KEYSLOT.
    CHECK(key_slot("foo") == 12182);
    CHECK(key_slot("123456789") == 12739);
    CHECK(key_slot("{user1000}.following") == 3443);
    CHECK(key_slot("tbucket:{api}") == 6541);
    CHECK(key_slot("tbucket:{api}:events") == 6541);
    CHECK(key_slot("{}x") == 10595);  // an empty tag: the whole key
    CHECK(key_slot("a{}{b}") == 15033);
    CHECK(key_slot("{b") == 6215);  // no closing brace: the whole key
}

TEST_CASE("a request id key: the bucket's key, :id:, 16 random and 8 counting hex digits",
          "[cluster]") {
    const std::string key = "tbucket:{api}";
    std::string a = request_id_key(key), b = request_id_key(key);
    REQUIRE(a.size() == key.size() + 4 + 24);
    CHECK(a.substr(0, key.size() + 4) == key + ":id:");
    CHECK(a.find_first_not_of("0123456789abcdef", key.size() + 4) == std::string::npos);
    CHECK(key_slot(a) == key_slot(key));  // one script may touch both
    // The same process: the same random part, the counter one more.
    CHECK(a.substr(0, a.size() - 8) == b.substr(0, b.size() - 8));
    CHECK(std::stoull(b.substr(b.size() - 8), nullptr, 16) ==
          (std::stoull(a.substr(a.size() - 8), nullptr, 16) + 1) % (1ULL << 32));
}

TEST_CASE("MOVED and ASK replies are parsed, anything else is not a redirect", "[cluster]") {
    std::optional<Redirect> r = parse_redirect("MOVED 3999 127.0.0.1:6381");
    REQUIRE(r);
    CHECK_FALSE(r->ask);
    CHECK(r->slot == 3999);
    CHECK(r->host == "127.0.0.1");
    CHECK(r->port == 6381);
    r = parse_redirect("ASK 16383 ::1:7000");
    REQUIRE(r);
    CHECK(r->ask);
    CHECK(r->host == "::1");
    CHECK(r->port == 7000);
    r = parse_redirect("MOVED 1 :7001");  // Redis 7: the sender's own host
    REQUIRE(r);
    CHECK(r->host.empty());
    CHECK_FALSE(parse_redirect("MOVED 16384 h:1"));
    CHECK_FALSE(parse_redirect("MOVED x h:1"));
    CHECK_FALSE(parse_redirect("MOVEDX 1 h:1"));
    CHECK_FALSE(parse_redirect("CLUSTERDOWN The cluster is down"));
    CHECK_FALSE(parse_redirect(""));
}

TEST_CASE("a refused connection is a connect failure, by the wording seeds rely on", "[cluster]") {
    ConnectionOptions closed;
    closed.port = 1;  // nothing listens on port 1 of the loopback
    closed.connect_timeout_ms = 1000;
    Connection connection(closed);
    try {
        connection.call({"PING"});
        FAIL("port 1 answered");
    } catch (const Error& e) {
        CHECK(is_connect_failure(e));
    }
    CHECK_FALSE(
        is_connect_failure(Error(ErrorKind::unavailable, "lost connection to Redis at h:1")));
    CHECK_FALSE(is_connect_failure(Error(ErrorKind::refused, "cannot connect: refused")));
}

}  // namespace
}  // namespace tbucket
