// Unit tests for src/redis/cluster.h that need no server: key slots, redirect
// replies, and the wording Nodes relies on to tell a refused connection
// from a lost one.

#include <catch2/catch.hpp>

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
