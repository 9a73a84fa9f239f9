// The core library against a real redis-server.

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "bucket/bucket.h"
#include "support/redis_server.h"

using namespace tbucket;
using test::redis;

namespace {

Settings settings(int64_t capacity, std::optional<Rate> rate = std::nullopt,
                  std::optional<int64_t> expire_ms = std::nullopt) {
    return Settings{capacity, rate, expire_ms, std::nullopt};
}

Client client() {
    return Client(redis().options(), "tbucket:");
}

ErrorKind kind_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.kind();
    }
    FAIL("no error thrown");
    return ErrorKind::internal;
}

void sleep_ms(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace

TEST_CASE("create makes a full bucket and reports it created", "[redis][create]") {
    Client c = client();
    CreateResult r = c.create("api", settings(5, Rate{1, 1000}), std::nullopt, CreateMode::ensure);
    CHECK(r.outcome == CreateOutcome::created);
    CHECK(r.state.tokens == 5);
    CHECK(r.state.capacity == 5);
    REQUIRE(r.state.rate);
    CHECK(r.state.rate->amount == 1);
    CHECK(r.state.rate->period_ms == 1000);
}

TEST_CASE("create with the same settings changes nothing", "[redis][create]") {
    Client c = client();
    c.create("api", settings(5, Rate{1, 1000}), 2, CreateMode::ensure);
    std::string before = redis().dump_hash("tbucket:{api}");
    CreateResult r = c.create("api", settings(5, Rate{1, 1000}), 4, CreateMode::ensure);
    CHECK(r.outcome == CreateOutcome::existed);
    CHECK(redis().dump_hash("tbucket:{api}") == before);
}

TEST_CASE("create with other settings is refused and changes nothing", "[redis][create]") {
    Client c = client();
    c.create("api", settings(5, Rate{1, 1000}), std::nullopt, CreateMode::ensure);
    std::string before = redis().dump_hash("tbucket:{api}");
    CHECK(kind_of([&] {
              c.create("api", settings(6, Rate{1, 1000}), std::nullopt, CreateMode::ensure);
          }) == ErrorKind::exists);
    CHECK(kind_of([&] { c.create("api", settings(5), std::nullopt, CreateMode::ensure); }) ==
          ErrorKind::exists);
    CHECK(kind_of([&] {
              c.create("api", settings(5, Rate{1, 1000}, 5000), std::nullopt, CreateMode::ensure);
          }) == ErrorKind::exists);
    CHECK(redis().dump_hash("tbucket:{api}") == before);
}

TEST_CASE("create --update keeps the level, clamped to the new capacity", "[redis][create]") {
    Client c = client();
    c.create("api", settings(10), 8, CreateMode::ensure);
    CreateResult r = c.create("api", settings(5, Rate{2, 1000}), std::nullopt, CreateMode::update);
    CHECK(r.outcome == CreateOutcome::updated);
    CHECK(r.state.tokens == 5);
    CHECK(r.state.capacity == 5);
    r = c.create("api", settings(20, Rate{2, 1000}), std::nullopt, CreateMode::update);
    CHECK(r.state.tokens >= 5);
    CHECK(r.state.tokens < 6);
}

TEST_CASE("create --replace starts a fresh bucket", "[redis][create]") {
    Client c = client();
    c.create("api", settings(10), 1, CreateMode::ensure);
    CreateResult r = c.create("api", settings(3), std::nullopt, CreateMode::replace);
    CHECK(r.outcome == CreateOutcome::replaced);
    CHECK(r.state.tokens == 3);
    CHECK(r.state.capacity == 3);
}

TEST_CASE("take removes tokens while there are enough", "[redis][take]") {
    Client c = client();
    c.create("api", settings(5), std::nullopt, CreateMode::ensure);
    TakeResult r = c.take("api", 3, TakeMode::all, std::nullopt);
    CHECK(r.ok());
    CHECK(r.taken == 3);
    CHECK(r.state.tokens == 2);
    CHECK(r.retry_after_ms == 0);
}

TEST_CASE("take on a bucket with too few tokens is denied with retry_after", "[redis][take]") {
    Client c = client();
    c.create("api", settings(5, Rate{1, 1000}), 0, CreateMode::ensure);
    TakeResult r = c.take("api", 3, TakeMode::all, std::nullopt);
    CHECK_FALSE(r.ok());
    CHECK(r.taken == 0);
    REQUIRE(r.retry_after_ms);
    CHECK(*r.retry_after_ms > 2900);
    CHECK(*r.retry_after_ms <= 3000);
}

TEST_CASE("a denied take without refill has no retry_after", "[redis][take]") {
    Client c = client();
    c.create("sem", settings(2), 1, CreateMode::ensure);
    TakeResult r = c.take("sem", 2, TakeMode::all, std::nullopt);
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.retry_after_ms.has_value());
}

TEST_CASE("taking more than the capacity is impossible", "[redis][take]") {
    Client c = client();
    c.create("api", settings(5), std::nullopt, CreateMode::ensure);
    std::string before = redis().dump_hash("tbucket:{api}");
    CHECK(kind_of([&] { c.take("api", 6, TakeMode::all, std::nullopt); }) == ErrorKind::impossible);
    CHECK(redis().dump_hash("tbucket:{api}") == before);
}

TEST_CASE("waiting retry_after_ms is enough for the take to succeed", "[redis][take][refill]") {
    Client c = client();
    c.create("fast", settings(10, Rate{50, 1000}), 0, CreateMode::ensure);
    TakeResult r = c.take("fast", 3, TakeMode::all, std::nullopt);
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.retry_after_ms);
    sleep_ms(static_cast<int>(*r.retry_after_ms));
    CHECK(c.take("fast", 3, TakeMode::all, std::nullopt).ok());
}

TEST_CASE("refill is continuous and follows the server clock", "[redis][refill]") {
    Client c = client();
    c.create("fast", settings(100, Rate{100, 1000}), 0, CreateMode::ensure);
    State start = std::get<State>(c.info({"fast"})[0]);
    sleep_ms(200);
    State later = std::get<State>(c.info({"fast"})[0]);
    double elapsed_s = static_cast<double>(later.server_time_us - start.server_time_us) / 1e6;
    CHECK(later.tokens == Approx(start.tokens + elapsed_s * 100).margin(0.01));
    CHECK(later.tokens > 15);
    CHECK(later.tokens < 40);
}

TEST_CASE("refill never passes the capacity", "[redis][refill]") {
    Client c = client();
    c.create("fast", settings(3, Rate{1000, 1000}), 0, CreateMode::ensure);
    sleep_ms(20);
    State s = std::get<State>(c.info({"fast"})[0]);
    CHECK(s.tokens == 3);
    CHECK(s.full_in_ms() == 0);
}

TEST_CASE("info applies refill but writes nothing", "[redis][info]") {
    Client c = client();
    c.create("fast", settings(100, Rate{100, 1000}), 0, CreateMode::ensure);
    std::string before = redis().dump_hash("tbucket:{fast}");
    sleep_ms(30);
    State s = std::get<State>(c.info({"fast"})[0]);
    CHECK(s.tokens > 0);
    CHECK(redis().dump_hash("tbucket:{fast}") == before);
}

TEST_CASE("put is capped at capacity and reports the overflow", "[redis][put]") {
    Client c = client();
    c.create("api", settings(5), 2, CreateMode::ensure);
    PutResult r = c.put("api", 100, false, std::nullopt);
    CHECK(r.state.tokens == 5);
    CHECK(r.added == 3);
    CHECK(r.overflow == 97);
}

TEST_CASE("put --force gives a credit above capacity that is used first", "[redis][put]") {
    Client c = client();
    c.create("api", settings(5, Rate{1000, 1000}), std::nullopt, CreateMode::ensure);
    PutResult r = c.put("api", 3, true, std::nullopt);
    CHECK(r.state.tokens == 8);
    CHECK(r.added == 3);
    CHECK(r.overflow == 0);
    sleep_ms(10);
    CHECK(std::get<State>(c.info({"api"})[0]).tokens == 8);  // no refill above capacity
    CHECK(c.take("api", 6, TakeMode::partial, std::nullopt).taken == 6);
}

TEST_CASE("take --partial takes what whole tokens there are, up to N", "[redis][take]") {
    Client c = client();
    c.create("api", settings(10), 4, CreateMode::ensure);
    TakeResult r = c.take("api", 6, TakeMode::partial, std::nullopt);
    CHECK(r.ok());
    CHECK(r.taken == 4);
    CHECK(r.state.tokens == 0);
    r = c.take("api", 6, TakeMode::partial, std::nullopt);
    CHECK_FALSE(r.ok());
    CHECK(r.taken == 0);
}

TEST_CASE("inline settings create a missing bucket in the same script", "[redis][inline]") {
    Client c = client();
    c.take("warm", 1, TakeMode::all, settings(3));  // script cached, connection open
    redis().command({"CONFIG", "RESETSTAT"});
    TakeResult r = c.take("cron", 1, TakeMode::all, settings(3, Rate{1, 3600000}));
    CHECK(r.ok());
    CHECK(r.state.tokens == 2);
    CHECK(r.state.capacity == 3);
    CHECK(redis().command_calls("evalsha") == 1);
    CHECK(redis().command_calls("eval") == 0);
}

TEST_CASE("inline settings that disagree with the bucket are refused", "[redis][inline]") {
    Client c = client();
    c.create("cron", settings(3), std::nullopt, CreateMode::ensure);
    std::string before = redis().dump_hash("tbucket:{cron}");
    CHECK(kind_of([&] { c.take("cron", 1, TakeMode::all, settings(4)); }) == ErrorKind::exists);
    CHECK(kind_of([&] {
              c.put("cron", 1, false, settings(3, Rate{1, 1000}));
          }) == ErrorKind::exists);
    CHECK(redis().dump_hash("tbucket:{cron}") == before);
    CHECK(c.take("cron", 1, TakeMode::all, settings(3)).ok());
}

TEST_CASE("operations on a missing bucket report not_found", "[redis]") {
    Client c = client();
    CHECK(kind_of([&] { c.take("nosuch", 1, TakeMode::all, std::nullopt); }) ==
          ErrorKind::not_found);
    CHECK(kind_of([&] { c.put("nosuch", 1, false, std::nullopt); }) == ErrorKind::not_found);
    CHECK(kind_of([&] { c.reset("nosuch", std::nullopt); }) == ErrorKind::not_found);
    CHECK(std::get<Error>(c.info({"nosuch"})[0]).kind() == ErrorKind::not_found);
    CHECK(std::get<Error>(c.remove({"nosuch"})[0]).kind() == ErrorKind::not_found);
    CHECK(redis().integer({"DBSIZE"}) == 0);
}

TEST_CASE("the script cache being flushed is recovered with EVAL", "[redis][noscript]") {
    Client c = client();
    c.create("api", settings(5), std::nullopt, CreateMode::ensure);
    redis().command({"SCRIPT", "FLUSH"});
    redis().command({"CONFIG", "RESETSTAT"});
    CHECK(c.take("api", 1, TakeMode::all, std::nullopt).ok());
    CHECK(redis().command_calls("eval") == 1);  // the retry after NOSCRIPT
    CHECK(c.take("api", 1, TakeMode::all, std::nullopt).ok());
    CHECK(redis().command_calls("eval") == 1);  // cached again: EVALSHA alone
    CHECK(std::get<State>(c.info({"api"})[0]).tokens == 3);
}

TEST_CASE("a key that is not a hash is a data error and is left untouched", "[redis][data]") {
    Client c = client();
    redis().command({"SET", "tbucket:{str}", "hello"});
    redis().command({"RPUSH", "tbucket:{list}", "a"});
    CHECK(kind_of([&] { c.take("str", 1, TakeMode::all, settings(5)); }) == ErrorKind::data);
    CHECK(kind_of([&] { c.put("str", 1, true, std::nullopt); }) == ErrorKind::data);
    CHECK(kind_of([&] { c.create("str", settings(5), std::nullopt, CreateMode::replace); }) ==
          ErrorKind::data);
    CHECK(std::get<Error>(c.remove({"list"})[0]).kind() == ErrorKind::data);
    CHECK(redis().string({"GET", "tbucket:{str}"}) == "hello");
    CHECK(redis().integer({"LLEN", "tbucket:{list}"}) == 1);
}

TEST_CASE("half-written and corrupt hashes are data errors and are left untouched",
          "[redis][data]") {
    Client c = client();
    auto now = std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
    const std::vector<std::vector<std::string>> hashes = {
        {"foo", "bar"},
        {"c", "5", "t", "1"},
        {"c", "five", "t", "1", "ts", now},
        {"c", "5", "t", "-1", "ts", now},
        {"c", "5", "t", "nan", "ts", now},
        {"c", "5", "t", "inf", "ts", now},
        {"c", "0", "t", "0", "ts", now},
        {"c", "5.5", "t", "0", "ts", now},
        {"c", "5", "t", "1", "ts", now, "r", "1"},
        {"c", "5", "t", "1", "ts", now, "r", "-1", "p", "1000"},
        {"c", "5", "t", "1", "ts", now, "x", "abc"},
    };
    for (const auto& fields : hashes) {
        redis().command({"DEL", "tbucket:{bad}"});
        std::vector<std::string> cmd{"HSET", "tbucket:{bad}"};
        cmd.insert(cmd.end(), fields.begin(), fields.end());
        redis().command(cmd);
        std::string before = redis().dump_hash("tbucket:{bad}");
        INFO("hash: " << before);
        CHECK(kind_of([&] { c.take("bad", 1, TakeMode::all, std::nullopt); }) == ErrorKind::data);
        CHECK(kind_of([&] { c.put("bad", 1, false, std::nullopt); }) == ErrorKind::data);
        CHECK(kind_of([&] { c.reset("bad", std::nullopt); }) == ErrorKind::data);
        CHECK(std::get<Error>(c.info({"bad"})[0]).kind() == ErrorKind::data);
        CHECK(std::get<Error>(c.remove({"bad"})[0]).kind() == ErrorKind::data);
        CHECK(redis().dump_hash("tbucket:{bad}") == before);
    }
}

TEST_CASE("idle expiry deletes an unused bucket and every use restarts it", "[redis][expire]") {
    Client c = client();
    c.create("tmp", settings(5, std::nullopt, 300), std::nullopt, CreateMode::ensure);
    long long ttl = redis().integer({"PTTL", "tbucket:{tmp}"});
    CHECK(ttl > 0);
    CHECK(ttl <= 300);
    sleep_ms(200);
    c.take("tmp", 1, TakeMode::all, std::nullopt);
    CHECK(redis().integer({"PTTL", "tbucket:{tmp}"}) > 200);
    sleep_ms(450);
    CHECK(redis().integer({"EXISTS", "tbucket:{tmp}"}) == 0);
}

TEST_CASE("reset sets the level and refuses one above capacity", "[redis][reset]") {
    Client c = client();
    c.create("api", settings(5), 1, CreateMode::ensure);
    CHECK(c.reset("api", std::nullopt).tokens == 5);
    CHECK(c.reset("api", 0).tokens == 0);
    std::string before = redis().dump_hash("tbucket:{api}");
    CHECK(kind_of([&] { c.reset("api", 6); }) == ErrorKind::usage);
    CHECK(redis().dump_hash("tbucket:{api}") == before);
}

TEST_CASE("delete removes the bucket and tells its subscribers", "[redis][delete]") {
    Client c = client();
    c.create("api", settings(5), std::nullopt, CreateMode::ensure);
    Connection listener(redis().options());
    listener.call({"SSUBSCRIBE", "tbucket:{api}:events"});
    CHECK(std::holds_alternative<State>(c.remove({"api"})[0]));
    CHECK(redis().integer({"EXISTS", "tbucket:{api}"}) == 0);
    std::optional<Reply> message = listener.receive(2000);
    REQUIRE(message);
    REQUIRE((*message)->elements == 3);
    CHECK(std::string((*message)->element[2]->str) == "deleted");
}

TEST_CASE(
    "list finds names under the prefix by glob with SCAN, and keys of other shapes are ignored",
    "[redis][list]") {
    Client c = client();
    for (const char* name : {"api", "api:eu", "jobs", "x/y@z+1"}) {
        c.create(name, settings(1), std::nullopt, CreateMode::ensure);
    }
    redis().command({"SET", "tbucket:{str}", "x"});
    redis().command({"HSET", "other:{api2}", "c", "1"});
    redis().command({"SET", "tbucket:loose", "x"});
    // tbucket:{str} is a name under the prefix, of another type: the CLI
    // reads it and warns that it is not a bucket.
    CHECK(c.list("*") == std::vector<std::string>{"api", "api:eu", "jobs", "str", "x/y@z+1"});
    CHECK(c.list("api*") == std::vector<std::string>{"api", "api:eu"});
    CHECK(c.list("nothing*").empty());
    CHECK(redis().command_calls("keys") == 0);
    CHECK(redis().command_calls("scan") >= 1);
}

TEST_CASE("a prefix keeps buckets apart", "[redis][list]") {
    Client a(redis().options(), "a:");
    Client b(redis().options(), "b:");
    a.create("api", settings(1), std::nullopt, CreateMode::ensure);
    CHECK(b.list("*").empty());
    CHECK(kind_of([&] { b.take("api", 1, TakeMode::all, std::nullopt); }) == ErrorKind::not_found);
}

TEST_CASE("bucket changes reach Redis only as scripts, one command each", "[redis][roundtrip]") {
    Client c = client();
    // Connected, and every script cached (a fresh server answers NOSCRIPT once each).
    c.create("warm", settings(1), std::nullopt, CreateMode::ensure);
    c.take("warm", 1, TakeMode::all, std::nullopt);
    c.put("warm", 1, false, std::nullopt);
    c.reset("warm", 1);
    c.info({"warm"});
    c.remove({"warm"});
    Connection monitor(redis().options());
    monitor.call({"MONITOR"});
    c.create("api", settings(5, Rate{1, 1000}), std::nullopt, CreateMode::ensure);
    c.take("api", 1, TakeMode::all, std::nullopt);
    c.put("api", 1, false, std::nullopt);
    c.reset("api", 3);
    c.info({"api"});
    c.remove({"api"});
    redis().command({"ECHO", "end-of-test"});
    std::vector<std::string> from_clients;
    for (;;) {
        std::optional<Reply> line = monitor.receive(2000);
        REQUIRE(line);
        std::string text((*line)->str, (*line)->len);
        if (text.find("\"end-of-test\"") != std::string::npos) break;
        if (text.find("[0 lua]") == std::string::npos) {
            from_clients.push_back(text.substr(
                text.find('"') + 1, text.find('"', text.find('"') + 1) - text.find('"') - 1));
        }
    }
    CHECK(from_clients == std::vector<std::string>(6, "EVALSHA"));
}

TEST_CASE("AUTH and SELECT open the connection, and a wrong or missing password is refused",
          "[redis][auth]") {
    test::RedisServer server({"--requirepass", "s3cret"});
    ConnectionOptions o = server.options();
    o.password = "s3cret";
    o.has_password = true;
    o.db = 3;
    Client c(o, "tbucket:");
    c.create("api", settings(2), std::nullopt, CreateMode::ensure);
    CHECK(c.take("api", 1, TakeMode::all, std::nullopt).ok());
    ConnectionOptions wrong = o;
    wrong.password = "nope";
    Client w(wrong, "tbucket:");
    CHECK(kind_of([&] { w.take("api", 1, TakeMode::all, std::nullopt); }) == ErrorKind::refused);
    ConnectionOptions none = server.options();
    Client n(none, "tbucket:");
    CHECK(kind_of([&] { n.take("api", 1, TakeMode::all, std::nullopt); }) == ErrorKind::refused);
}

TEST_CASE("an unreachable server is unavailable", "[redis][faults]") {
    int port = 0;
    {
        test::RedisServer server;
        port = server.port();
    }
    ConnectionOptions o;
    o.port = port;
    Client c(o, "tbucket:");
    CHECK(kind_of([&] { c.take("api", 1, TakeMode::all, std::nullopt); }) ==
          ErrorKind::unavailable);
}
