// The fault proxy of tests/support against a real redis-server, through
// tbucket's own Connection: each fault does to the client and to the
// server exactly what it says, and nothing to anyone else.

#include <poll.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "redis/connection.h"
#include "support/fault_proxy.h"
#include "support/proxy_link.h"
#include "support/redis_server.h"

using namespace tbucket;
using test::FaultProxy;
using test::redis;
using Fault = FaultProxy::Fault;

namespace {

// A Connection through the proxy that gives up on silence quickly.
Connection through(const FaultProxy& proxy, int io_timeout_ms = 300) {
    ConnectionOptions options = redis().options();
    options.port = proxy.port();
    options.io_timeout_ms = io_timeout_ms;
    return Connection(options);
}

ErrorKind failure_of(Connection& connection, const Command& command) {
    try {
        connection.call(command);
    } catch (const Error& e) {
        return e.kind();
    }
    FAIL("the call succeeded");
    return ErrorKind::internal;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("a proxy without faults passes pipelined commands and replies in order",
          "[redis][proxy]") {
    FaultProxy proxy(redis().port());
    Connection connection = through(proxy);
    std::vector<Reply> replies = connection.pipeline({
        {"SET", "k", "v"},
        {"INCR", "n"},
        {"GET", "missing"},
        {"INCR", "k"},
        {"EVAL", "return {1, {2, 'x'}, {}}", "0"},
        {"INCR", "n"},
    });
    REQUIRE(replies.size() == 6);
    CHECK(replies[0]->type == REDIS_REPLY_STATUS);
    CHECK(replies[1]->integer == 1);
    CHECK(replies[2]->type == REDIS_REPLY_NIL);
    CHECK(replies[3]->type == REDIS_REPLY_ERROR);
    REQUIRE(replies[4]->type == REDIS_REPLY_ARRAY);
    REQUIRE(replies[4]->elements == 3);
    CHECK(replies[4]->element[1]->element[1]->str == std::string("x"));
    CHECK(replies[4]->element[2]->elements == 0);
    CHECK(replies[5]->integer == 2);
    CHECK(proxy.commands_seen("incr") == 3);
    CHECK(proxy.faults_applied() == 0);
}

TEST_CASE("a reply larger than one read passes whole", "[redis][proxy]") {
    FaultProxy proxy(redis().port());
    std::string big(300000, 'b');
    redis().command({"SET", "big", big});
    Connection connection = through(proxy, 2000);
    CHECK(connection.call({"GET", "big"})->str == big);
}

TEST_CASE("drop_reply: the command runs but the client times out", "[redis][proxy]") {
    FaultProxy proxy(redis().port());
    proxy.fault_nth({"INCR"}, 1, Fault::drop_reply);
    Connection connection = through(proxy);
    auto start = std::chrono::steady_clock::now();
    CHECK(failure_of(connection, {"INCR", "n"}) == ErrorKind::unavailable);
    CHECK(seconds_since(start) >= 0.29);  // silence, not a closed connection
    CHECK(redis().string({"GET", "n"}) == "1");
    CHECK(connection.call({"INCR", "n"})->integer == 2);  // a new connection is not faulted
    CHECK(proxy.faults_applied() == 1);
}

TEST_CASE("cut_before_reply: the command runs, the connection is closed", "[redis][proxy]") {
    FaultProxy proxy(redis().port());
    proxy.fault_nth({"INCR"}, 1, Fault::cut_before_reply);
    Connection connection = through(proxy, 5000);
    auto start = std::chrono::steady_clock::now();
    CHECK(failure_of(connection, {"INCR", "n"}) == ErrorKind::unavailable);
    CHECK(seconds_since(start) < 2);  // closed, not timed out
    CHECK(redis().string({"GET", "n"}) == "1");
    CHECK(proxy.faults_applied() == 1);
}

TEST_CASE("cut_mid_reply: the command runs, half its reply arrives, then the close",
          "[redis][proxy]") {
    FaultProxy proxy(redis().port());
    redis().command({"SET", "k", std::string(1000, 'v')});
    proxy.fault_nth({"GETSET"}, 1, Fault::cut_mid_reply);
    Connection connection = through(proxy, 5000);
    auto start = std::chrono::steady_clock::now();
    CHECK(failure_of(connection, {"GETSET", "k", "new"}) == ErrorKind::unavailable);
    CHECK(seconds_since(start) < 2);
    CHECK(redis().string({"GET", "k"}) == "new");
}

TEST_CASE("cut_request: the command never runs", "[redis][proxy]") {
    FaultProxy proxy(redis().port());
    proxy.fault_nth({"INCR"}, 1, Fault::cut_request);
    Connection connection = through(proxy, 5000);
    CHECK(failure_of(connection, {"INCR", "n"}) == ErrorKind::unavailable);
    CHECK(redis().command({"GET", "n"})->type == REDIS_REPLY_NIL);
    CHECK(redis().command_calls("incr") == 0);
    CHECK(proxy.commands_seen("INCR") == 0);
}

TEST_CASE("cut_request in a pipeline: earlier replies arrive, later commands never run",
          "[redis][proxy]") {
    FaultProxy proxy(redis().port());
    proxy.fault_nth({"INCR"}, 2, Fault::cut_request);
    Connection connection = through(proxy, 3000);
    connection.send({"INCR", "a"});
    connection.send({"INCR", "b"});
    connection.send({"INCR", "c"});
    auto first = connection.receive(2000);
    REQUIRE(first);
    CHECK((*first)->integer == 1);
    CHECK_THROWS_AS(connection.receive(2000), Error);
    CHECK(redis().string({"GET", "a"}) == "1");
    CHECK(redis().command({"GET", "b"})->type == REDIS_REPLY_NIL);
    CHECK(redis().command({"GET", "c"})->type == REDIS_REPLY_NIL);
}

TEST_CASE("delay_reply delivers late, in order", "[redis][proxy]") {
    FaultProxy proxy(redis().port());
    proxy.fault_nth({"INCR"}, 1, Fault::delay_reply, 400);
    Connection connection = through(proxy, 3000);
    auto start = std::chrono::steady_clock::now();
    std::vector<Reply> replies =
        connection.pipeline({{"INCR", "n"}, {"INCR", "n"}, {"GET", "n"}, {"PING"}});
    CHECK(seconds_since(start) >= 0.39);
    CHECK(replies[0]->integer == 1);
    CHECK(replies[1]->integer == 2);
    CHECK(replies[2]->str == std::string("2"));
    CHECK(replies[3]->str == std::string("PONG"));
}

TEST_CASE("a fault on one connection leaves another connection's replies alone", "[redis][proxy]") {
    FaultProxy proxy(redis().port());
    proxy.fault_nth({"INCR"}, 1, Fault::delay_reply, 800);
    Connection slow = through(proxy, 3000);
    Connection fast = through(proxy, 3000);
    auto late = std::async(std::launch::async, [&] {
        return slow.call({"INCR", "slow"})->integer;
    });
    while (proxy.commands_seen("INCR") == 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto start = std::chrono::steady_clock::now();
    CHECK(fast.call({"INCR", "fast"})->integer == 1);
    CHECK(fast.call({"GET", "slow"})->str == std::string("1"));
    CHECK(seconds_since(start) < 0.5);
    CHECK(late.get() == 1);
}

TEST_CASE("the nth matching command is the one faulted, and other names are not counted",
          "[redis][proxy]") {
    FaultProxy proxy(redis().port());
    proxy.fault_nth({"incr", "incrby"}, 3, Fault::drop_reply);
    Connection connection = through(proxy);
    CHECK(connection.call({"INCR", "n"})->integer == 1);
    CHECK(connection.call({"GET", "n"})->str == std::string("1"));
    CHECK(connection.call({"SET", "other", "x"})->type == REDIS_REPLY_STATUS);
    CHECK(connection.call({"INCRBY", "n", "10"})->integer == 11);
    CHECK(failure_of(connection, {"INCR", "n"}) == ErrorKind::unavailable);
    CHECK(redis().string({"GET", "n"}) == "12");
    CHECK(connection.call({"INCR", "n"})->integer == 13);  // the rule is spent
    CHECK(proxy.commands_seen("INCR") == 3);
    CHECK(proxy.commands_seen("get") == 1);
    CHECK(proxy.faults_applied() == 1);
}

TEST_CASE("rules queue: each counts from its own call", "[redis][proxy]") {
    FaultProxy proxy(redis().port());
    proxy.fault_nth({"INCR"}, 1, Fault::delay_reply, 1);
    proxy.fault_nth({"INCR"}, 2, Fault::cut_before_reply);
    Connection connection = through(proxy, 3000);
    CHECK(connection.call({"INCR", "n"})->integer == 1);
    CHECK(failure_of(connection, {"INCR", "n"}) == ErrorKind::unavailable);
    CHECK(connection.call({"INCR", "n"})->integer == 3);
    CHECK(proxy.faults_applied() == 2);
}

TEST_CASE("a subscribed connection receives its messages untouched", "[redis][proxy]") {
    FaultProxy proxy(redis().port());
    proxy.fault_nth({"SUBSCRIBE", "PING"}, 1, Fault::drop_reply);
    Connection subscriber = through(proxy, 3000);
    subscriber.send({"SUBSCRIBE", "ch"});
    auto confirmed = subscriber.receive(2000);
    REQUIRE(confirmed);
    CHECK((*confirmed)->element[0]->str == std::string("subscribe"));
    for (std::string message : {"one", "two", "three"}) redis().command({"PUBLISH", "ch", message});
    subscriber.send({"PING"});  // would be the rule's first match on an ordinary connection
    for (std::string expected : {"one", "two", "three", "pong"}) {
        auto reply = subscriber.receive(2000);
        REQUIRE(reply);
        CHECK((*reply)->element[expected == "pong" ? 0 : 2]->str == expected);
    }
    CHECK(proxy.faults_applied() == 0);
}

TEST_CASE("randomize with a seed faults about the asked share", "[redis][proxy]") {
    FaultProxy proxy(redis().port());
    proxy.randomize({"INCR"}, 0.03, 0.1, 0.1, 0.1, 20, 7);
    // Long enough that only a dropped reply times out, also on a busy machine.
    Connection connection = through(proxy, 1000);
    int failures = 0;
    long long last = 0;
    for (int i = 0; i < 100; ++i) {
        try {
            long long value = connection.call({"INCR", "n"})->integer;
            CHECK(value > last);
            last = value;
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::unavailable);
            ++failures;
        }
    }
    INFO("failures " << failures << ", faults " << proxy.faults_applied());
    CHECK(failures >= 8);  // 23 expected
    CHECK(failures <= 45);
    CHECK(proxy.faults_applied() >= failures);
    CHECK(proxy.faults_applied() <= 60);           // 33 expected
    CHECK(redis().string({"GET", "n"}) == "100");  // every command ran once
    CHECK(proxy.commands_seen("INCR") == 100);
}

TEST_CASE("clear stops the faults", "[redis][proxy]") {
    FaultProxy proxy(redis().port());
    proxy.randomize({"INCR"}, 1, 0, 0, 0, 0, 1);
    proxy.fault_nth({"INCR"}, 1, Fault::cut_request);
    proxy.clear();
    Connection connection = through(proxy);
    for (int i = 1; i <= 20; ++i) CHECK(connection.call({"INCR", "n"})->integer == i);
    CHECK(proxy.faults_applied() == 0);
}

TEST_CASE("cut_all closes every client connection", "[redis][proxy]") {
    FaultProxy proxy(redis().port());
    Connection a = through(proxy, 3000);
    Connection b = through(proxy, 3000);
    CHECK(a.call({"PING"})->str == std::string("PONG"));
    CHECK(b.call({"PING"})->str == std::string("PONG"));
    proxy.cut_all();
    CHECK(failure_of(a, {"PING"}) == ErrorKind::unavailable);
    CHECK(failure_of(b, {"PING"}) == ErrorKind::unavailable);
    CHECK(a.call({"PING"})->str == std::string("PONG"));  // and new ones are welcome
}

// What a person types into telnet; Redis answers nothing to an empty line,
// so counting one as a command would shift every reply after it.
TEST_CASE("inline commands are faulted too, and an empty line expects no reply", "[redis][proxy]") {
    FaultProxy proxy(redis().port());
    proxy.fault_nth({"INCR"}, 1, Fault::cut_before_reply);
    int fd = test::connect_loopback(proxy.port());
    REQUIRE(fd >= 0);
    std::string request = "\r\nPING\r\nincr n\r\n";
    REQUIRE(write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
    std::string replies;
    char buf[256];
    pollfd readable{fd, POLLIN, 0};
    while (poll(&readable, 1, 2000) > 0) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;  // the cut
        replies.append(buf, static_cast<std::size_t>(n));
    }
    close(fd);
    CHECK(replies == "+PONG\r\n");
    CHECK(redis().string({"GET", "n"}) == "1");
    CHECK(proxy.commands_seen("INCR") == 1);
}
