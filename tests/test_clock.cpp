// Client clock skew: all bucket time comes from the Redis server (SPEC §1),
// so a client whose clock is 30 days off must see the same levels and
// retry_after as one whose clock is right. The clock is shifted with
// faketime(1) (Debian package faketime), which works by LD_PRELOAD: it
// cannot reach a static binary, and tbucket is static by default. So
// the runs are made twice: with tbucket itself (which shows nothing breaks,
// and is a real check when tbucket is built dynamic, e.g. with
// -DTBUCKET_STATIC=OFF or TBUCKET_SANITIZE), and with clock_probe, a
// dynamically linked program doing the same take and wait through the
// library, whose printed client clock proves the shift took effect.

#include <elf.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/e2e.h"

using nlohmann::json;
using tbucket::test::redis;
using tbucket::test::RunResult;

namespace {

constexpr int64_t day_ms = 86'400'000;

bool have_faketime() {
    try {
        return tbucket::test::run({"faketime", "-f", "+1d", "true"}).code == 0;
    } catch (const std::exception&) {
        return false;
    }
}

// A program with no PT_INTERP has no dynamic loader, so no LD_PRELOAD.
bool is_static(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    Elf64_Ehdr header{};
    if (!file.read(reinterpret_cast<char*>(&header), sizeof header)) return false;
    for (int i = 0; i < header.e_phnum; ++i) {
        Elf64_Phdr ph{};
        file.seekg(static_cast<std::streamoff>(header.e_phoff +
                                               static_cast<uint64_t>(i) * header.e_phentsize));
        if (!file.read(reinterpret_cast<char*>(&ph), sizeof ph)) return false;
        if (ph.p_type == PT_INTERP) return false;
    }
    return true;
}

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// argv under faketime with this offset ("" = the real clock). In a
// sanitizer build the programs are dynamic and ASan insists on coming first
// in the library list, which libfaketime's LD_PRELOAD breaks: tell it not to
// mind (env(1), as a duplicate variable in our environment would not win).
std::vector<std::string> shifted(const std::string& offset, std::vector<std::string> argv) {
    if (offset.empty()) return argv;
    const char* asan = std::getenv("ASAN_OPTIONS");
    std::string options = std::string(asan ? asan : "") + (asan && *asan ? ":" : "");
    argv.insert(argv.begin(), {"env", "ASAN_OPTIONS=" + options + "verify_asan_link_order=0",
                               "faketime", "-f", offset});
    return argv;
}

RunResult tb(const std::string& offset, std::vector<std::string> args) {
    return tbucket::test::run(
        shifted(offset, tbucket::test::tb_argv(redis().url(), std::move(args))));
}

RunResult probe(const std::string& offset, std::vector<std::string> args) {
    args.insert(args.begin(), {tbucket::test::build_file("tests/clock_probe"), redis().url()});
    return tbucket::test::run(shifted(offset, args));
}

const std::vector<std::pair<std::string, int64_t>> offsets = {
    {"", 0}, {"+30d", 30 * day_ms}, {"-30d", -30 * day_ms}};

// What both kinds of run must show, whatever the client clock: `sem`
// (no refill) loses exactly one token per take; `r` (10/h from 0 at
// created_ms, so that no machine is slow enough to see it refill 50) is
// denied 50 tokens with retry_after_ms = 5h - elapsed.
void check_take_sem(const json& j, double expected) {
    CHECK(j["ok"] == true);
    CHECK(j["tokens"].get<double>() == expected);
}

void check_denied_r(const json& j, int64_t created_ms) {
    CHECK(j["ok"] == false);
    int64_t elapsed = j["server_time_ms"].get<int64_t>() - created_ms;
    CHECK(elapsed >= 0);
    CHECK(elapsed < 3'600'000);  // a client clock 30 days off would show here
    CHECK(std::llabs(j["retry_after_ms"].get<int64_t>() + elapsed - 5 * 3'600'000) <= 3);
}

// Empties `w` (5/s) and returns the server time of that, in ms.
int64_t empty_w() {
    RunResult r = tb("", {"--json", "reset", "w", "--tokens", "0"});
    REQUIRE(r.code == 0);
    return json::parse(r.out)["server_time_ms"].get<int64_t>();
}

// A take --wait of one token from `w` emptied at emptied_ms: granted by the
// server clock no sooner than the refill allows (200ms; 1ms for the
// truncation of both times to ms), and not 30 days later (no hang: the
// bound is generous, for a loaded machine's slow start).
void check_waited(const json& j, int64_t emptied_ms) {
    CHECK(j["ok"] == true);
    int64_t granted_after = j["server_time_ms"].get<int64_t>() - emptied_ms;
    CHECK(granted_after >= 199);
    CHECK(granted_after < 60'000);
    CHECK(j["waited_ms"].get<int64_t>() < 60'000);
}

struct Buckets {
    int64_t created_ms = 0;
};

Buckets make_buckets(const std::string& suffix) {
    REQUIRE(tb("", {"create", "sem" + suffix, "--capacity", "10"}).code == 0);
    REQUIRE(tb("", {"create", "w" + suffix, "--capacity", "1", "--rate", "5/s", "--tokens", "0"})
                .code == 0);
    RunResult r = tb("", {"--json", "create", "r" + suffix, "--capacity", "100", "--rate", "10/h",
                          "--tokens", "0"});
    REQUIRE(r.code == 0);
    return {json::parse(r.out)["server_time_ms"].get<int64_t>()};
}

}  // namespace

TEST_CASE("faketime shifts a dynamic program's clock, and tbucket is checked either way",
          "[trust][clock]") {
    if (!have_faketime()) {
        WARN("faketime is not installed (Debian package faketime): nothing to check");
        return;
    }
    CHECK_FALSE(is_static(tbucket::test::build_file("tests/clock_probe")));
    if (is_static(tbucket::test::tbucket_path())) {
        WARN(
            "tbucket is a static binary: faketime's LD_PRELOAD cannot reach it; clock_probe stands "
            "in");
    }
    REQUIRE(tb("", {"create", "p", "--capacity", "10"}).code == 0);
    for (const auto& [offset, shift_ms] : offsets) {
        int64_t before = now_ms();
        RunResult r = probe(offset, {"p", "1"});
        REQUIRE(r.code == 0);
        int64_t client_ms = json::parse(r.out)["client_ms"].get<int64_t>();
        INFO("offset '" << offset << "': client clock " << client_ms << ", real " << before);
        CHECK(std::llabs(client_ms - before - shift_ms) < 10'000);
    }
}

TEST_CASE("tbucket's levels and retry_after do not depend on the client clock", "[trust][clock]") {
    if (!have_faketime()) {
        WARN("faketime is not installed (Debian package faketime): nothing to check");
        return;
    }
    Buckets b = make_buckets("");
    double sem = 10;
    for (const auto& [offset, shift_ms] : offsets) {
        INFO("tbucket under faketime '" << offset << "'");
        RunResult r = tb(offset, {"--json", "take", "sem"});
        CHECK(r.code == 0);
        check_take_sem(json::parse(r.out), --sem);
        r = tb(offset, {"--json", "take", "r", "50"});
        CHECK(r.code == 1);
        check_denied_r(json::parse(r.out), b.created_ms);
        r = tb(offset, {"--json", "info", "r"});
        json info = json::parse(r.out);
        double expected =
            static_cast<double>(info["server_time_ms"].get<int64_t>() - b.created_ms) / 360'000;
        CHECK(std::fabs(info["tokens"].get<double>() - expected) <= 0.02);
        // A wait for the next refilled token: about 200ms at 5/s.
        int64_t emptied_ms = empty_w();
        r = tb(offset, {"--json", "take", "w", "--wait=120s"});
        CHECK(r.code == 0);
        check_waited(json::parse(r.out), emptied_ms);
    }
}

TEST_CASE("the library's take and wait do not depend on a faked client clock", "[trust][clock]") {
    if (!have_faketime()) {
        WARN("faketime is not installed (Debian package faketime): nothing to check");
        return;
    }
    Buckets b = make_buckets("");
    double sem = 10;
    for (const auto& [offset, shift_ms] : offsets) {
        INFO("clock_probe under faketime '" << offset << "'");
        RunResult r = probe(offset, {"sem", "1"});
        CHECK(r.code == 0);
        check_take_sem(json::parse(r.out), --sem);
        r = probe(offset, {"r", "50"});
        INFO("stdout: " << r.out);
        CHECK(r.code == 0);  // a denial is a result, not an error
        check_denied_r(json::parse(r.out), b.created_ms);
        int64_t emptied_ms = empty_w();
        r = probe(offset, {"w", "1", "120000"});
        INFO("wait: " << r.out);
        CHECK(r.code == 0);
        check_waited(json::parse(r.out), emptied_ms);
    }
}
