// A helper for test_clock.cpp, not a test: the library's take or wait as a
// dynamically linked program (tbucket itself is static, out of reach of
// LD_PRELOAD, so of faketime), printing the client clock next to the
// results. Run under faketime it shows the clock was shifted and the
// results were not.
//
//   clock_probe URL NAME N           take N now
//   clock_probe URL NAME N WAIT_MS   take N, waiting up to WAIT_MS

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "bucket/bucket.h"
#include "net/url.h"
#include "wait/wait.h"

int main(int argc, char** argv) {
    using namespace tbucket;
    if (argc != 4 && argc != 5) {
        std::fprintf(stderr, "usage: clock_probe URL NAME N [WAIT_MS]\n");
        return 2;
    }
    nlohmann::json out;
    out["client_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    try {
        Client client(parse_url(argv[1]), "tbucket:");
        int64_t n = std::stoll(argv[3]);
        TakeResult result;
        int64_t waited_ms = 0;
        if (argc == 5) {
            WaitObserver observer;
            WaitResult waited = wait_for(
                client, WaitRequest{argv[2], n, true, std::nullopt, std::stoll(argv[4])}, observer);
            result = waited.result;
            waited_ms = waited.waited_ms;
        } else {
            result = client.take(argv[2], n, TakeMode::all, std::nullopt);
        }
        out["ok"] = result.ok();
        out["tokens"] = result.state.tokens;
        out["retry_after_ms"] =
            result.retry_after_ms ? nlohmann::json(*result.retry_after_ms) : nlohmann::json();
        out["server_time_ms"] = result.state.server_time_us / 1000;
        out["waited_ms"] = waited_ms;
    } catch (const Error& e) {
        out["error"] = std::string(kind_name(e.kind()));
        out["message"] = e.what();
    }
    std::printf("%s\n", out.dump().c_str());
    return out.contains("error") ? 1 : 0;
}
