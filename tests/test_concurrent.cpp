// ConcurrentClient (one thread, many connections) against a real
// redis-server: the same results as Client, nothing over-granted, and every
// call answered once, also when the server dies, stalls or forgets its
// scripts.

#include <signal.h>

#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "bucket/bucket.h"
#include "concurrent.h"
#include "support/redis_server.h"

using namespace tbucket;
using test::redis;

namespace {

using Done = ConcurrentClient::Done;

// Runs until every queued call has finished (or 10 s pass: a hang fails).
std::vector<Done> drain(ConcurrentClient& client) {
    std::vector<Done> all;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (client.pending() > 0) {
        REQUIRE(std::chrono::steady_clock::now() < until);
        for (Done& d : client.run(100)) all.push_back(std::move(d));
    }
    return all;
}

const Error* error_of(const Done& d) {
    return std::get_if<Error>(&d.result);
}

}  // namespace

TEST_CASE("ConcurrentClient grants exactly the capacity over many connections",
          "[redis][concurrent]") {
    Client admin(redis().options(), "tbucket:");
    admin.create("api", Settings{500, std::nullopt, std::nullopt, std::nullopt}, std::nullopt,
                 CreateMode::replace);
    ConcurrentClient client(redis().options(), "tbucket:", 20);
    std::set<ConcurrentClient::Ticket> tickets;
    for (int i = 0; i < 800; ++i) tickets.insert(client.take("api", 1, TakeMode::all));
    REQUIRE(tickets.size() == 800);
    std::vector<Done> done = drain(client);
    REQUIRE(done.size() == 800);
    int granted = 0;
    for (const Done& d : done) {
        REQUIRE(tickets.erase(d.ticket) == 1);  // each ticket answered once
        const auto* take = std::get_if<TakeResult>(&d.result);
        REQUIRE(take);
        granted += static_cast<int>(take->taken);
    }
    CHECK(granted == 500);
    CHECK(redis().string({"HGET", "tbucket:{api}", "t"}) == "0");
    CHECK(redis().command_calls("evalsha") >= 801);
    // All 20 connections were used, no more.
    long long clients = std::stoll(redis().info_field("clients", "connected_clients"));
    CHECK(clients == 20 + 2);  // + admin + the test's own connection
}

TEST_CASE("ConcurrentClient gives the results Client gives, puts included", "[redis][concurrent]") {
    Settings refilling{10, Rate{1, 60000}, std::nullopt, std::nullopt};
    ConcurrentClient client(redis().options(), "tbucket:", 3);
    auto take = client.take("a", 4, TakeMode::all, refilling);
    auto partial = client.take("b", 20, TakeMode::partial,
                               Settings{10, std::nullopt, std::nullopt, std::nullopt});
    drain(client);
    auto too_many = client.take("a", 7, TakeMode::all);
    auto put = client.put("b", 15, false);
    std::map<ConcurrentClient::Ticket, Done> by_ticket;
    for (Done& d : drain(client)) by_ticket.emplace(d.ticket, std::move(d));
    REQUIRE(by_ticket.size() == 2);
    (void)take;
    (void)partial;

    const auto& denied = std::get<TakeResult>(by_ticket.at(too_many).result);
    CHECK(denied.taken == 0);
    CHECK(denied.state.available() == 6);
    CHECK(denied.retry_after_ms > 0);
    CHECK(denied.state.node == "127.0.0.1:" + std::to_string(redis().port()));
    const auto& added = std::get<PutResult>(by_ticket.at(put).result);
    CHECK(added.added == 10);  // capped at capacity: b was emptied by the partial take
    CHECK(added.overflow == 5);

    Client c(redis().options(), "tbucket:");
    TakeResult same = c.take("a", 7, TakeMode::all, std::nullopt);
    CHECK(same.taken == 0);
    CHECK(same.state.available() == 6);
}

TEST_CASE("ConcurrentClient answers each call on its own: one missing bucket fails alone",
          "[redis][concurrent]") {
    ConcurrentClient client(redis().options(), "tbucket:", 2);
    auto ok = client.take("here", 1, TakeMode::all,
                          Settings{5, std::nullopt, std::nullopt, std::nullopt});
    auto missing = client.take("nowhere", 1, TakeMode::all);
    std::vector<Done> done = drain(client);
    REQUIRE(done.size() == 2);
    for (const Done& d : done) {
        if (d.ticket == ok) CHECK(std::holds_alternative<TakeResult>(d.result));
        if (d.ticket == missing) {
            REQUIRE(error_of(d));
            CHECK(error_of(d)->kind() == ErrorKind::not_found);
        }
    }
}

TEST_CASE("ConcurrentClient sends the script again after SCRIPT FLUSH", "[redis][concurrent]") {
    ConcurrentClient client(redis().options(), "tbucket:", 4);
    for (int i = 0; i < 4; ++i)
        client.take("s", 1, TakeMode::all, Settings{100, std::nullopt, std::nullopt, std::nullopt});
    drain(client);
    redis().command({"SCRIPT", "FLUSH"});
    for (int i = 0; i < 8; ++i) client.take("s", 1, TakeMode::all);
    for (const Done& d : drain(client)) CHECK(std::holds_alternative<TakeResult>(d.result));
    CHECK(redis().string({"HGET", "tbucket:{s}", "t"}) == "88");
    CHECK(redis().command_calls("eval") >= 1);
}

TEST_CASE("ConcurrentClient fails calls to a stalled server after the I/O timeout, then goes on",
          "[redis][concurrent]") {
    ConnectionOptions options = redis().options();
    options.io_timeout_ms = 300;
    ConcurrentClient client(options, "tbucket:", 4);
    client.take("x", 1, TakeMode::all, Settings{100, std::nullopt, std::nullopt, std::nullopt});
    drain(client);
    REQUIRE(kill(redis().pid(), SIGSTOP) == 0);
    for (int i = 0; i < 6; ++i) client.take("x", 1, TakeMode::all);
    auto started = std::chrono::steady_clock::now();
    std::vector<Done> done;
    while (done.size() < 4) {
        for (Done& d : client.run(1000)) done.push_back(std::move(d));
    }
    auto waited = std::chrono::steady_clock::now() - started;
    REQUIRE(kill(redis().pid(), SIGCONT) == 0);
    CHECK(waited >= std::chrono::milliseconds(250));
    CHECK(waited < std::chrono::milliseconds(3000));
    for (const Done& d : done) {
        REQUIRE(error_of(d));
        CHECK(error_of(d)->kind() == ErrorKind::unavailable);
        CHECK_THAT(error_of(d)->what(), Catch::Contains("did not answer within 300 ms"));
    }
    // The two still queued go out on new connections once the server is back.
    for (Done& d : drain(client)) CHECK(std::holds_alternative<TakeResult>(d.result));
}

TEST_CASE("ConcurrentClient fails the calls in flight when the server dies, and reconnects",
          "[redis][concurrent]") {
    Settings settings{1000, std::nullopt, std::nullopt, std::nullopt};
    ConcurrentClient client(redis().options(), "tbucket:", 5);
    client.take("d", 1, TakeMode::all, settings);
    drain(client);
    redis().stop();
    for (int i = 0; i < 5; ++i) client.take("d", 1, TakeMode::all, settings);
    for (const Done& d : drain(client)) {
        REQUIRE(error_of(d));
        CHECK(error_of(d)->kind() == ErrorKind::unavailable);
    }
    redis().start();
    for (int i = 0; i < 5; ++i) client.take("d", 1, TakeMode::all, settings);
    for (const Done& d : drain(client)) CHECK(std::holds_alternative<TakeResult>(d.result));
    CHECK(redis().string({"HGET", "tbucket:{d}", "t"}) == "995");
}
