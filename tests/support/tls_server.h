#pragma once

// A redis-server with a plain port for the test and a TLS port for tbucket,
// certificates from a throw-away CA made by support/make_certs.sh. Every
// tbucket the test starts from then on keeps its TLS sessions in a private
// directory beside the certificates (XDG_RUNTIME_DIR), never in the user's.

#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "support/e2e.h"

namespace tbucket::test {

// The paths of the files in `dir` whose names begin with `prefix`.
inline std::vector<std::string> files_named(const std::string& dir, const std::string& prefix) {
    std::vector<std::string> files;
    std::error_code ignored;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ignored)) {
        std::string name = entry.path().filename();
        if (name.rfind(prefix, 0) == 0) files.push_back(entry.path());
    }
    return files;
}

// The pids of the TLS keepers tbucket started (tls_keeper.h) with their
// files in `dir`, read from their lock files.
inline std::vector<int> tls_keeper_pids(const std::string& dir) {
    std::vector<int> pids;
    for (const std::string& file : files_named(dir, "keep-")) {
        if (std::filesystem::path(file).extension() != ".lock") continue;
        std::ifstream in(file);
        int pid = 0;
        if (in >> pid && pid > 0) pids.push_back(pid);
    }
    return pids;
}

// A keeper outlives the command that started it: stopped by its pid with
// the test, and waited for.
inline void stop_tls_keepers(const std::string& dir) {
    for (int pid : tls_keeper_pids(dir)) {
        if (!process_alive(pid)) continue;
        ::kill(pid, SIGTERM);
        eventually([&] { return !process_alive(pid); }, 10);
    }
}

struct TlsServer {
    // Keeper::off: tbucket starts no TLS keeper (TBUCKET_TLS_KEEP=0), for
    // tests of what one process does on its own.
    enum class Keeper { on, off };
    explicit TlsServer(bool require_client_cert = false, Keeper keeper = Keeper::on)
        : certs(make_certs()),
          tls_port(free_port()),
          server(std::make_unique<RedisServer>(std::vector<std::string>{
              "--tls-port", std::to_string(tls_port), "--tls-cert-file", certs + "/server.crt",
              "--tls-key-file", certs + "/server.key", "--tls-ca-cert-file", certs + "/ca.crt",
              "--tls-auth-clients", require_client_cert ? "yes" : "no"})) {
        ::setenv("XDG_RUNTIME_DIR", runtime_dir().c_str(), 1);
        if (keeper == Keeper::off) {
            ::setenv("TBUCKET_TLS_KEEP", "0", 1);
        } else {
            ::unsetenv("TBUCKET_TLS_KEEP");
        }
    }
    ~TlsServer() {
        stop_keepers();
        server.reset();
        std::error_code ignored;
        std::filesystem::remove_all(certs, ignored);
    }
    TlsServer(const TlsServer&) = delete;
    TlsServer& operator=(const TlsServer&) = delete;

    std::string url(const std::string& host = "127.0.0.1") const {
        return "rediss://" + host + ":" + std::to_string(tls_port);
    }
    std::string cert(const std::string& name) const { return certs + "/" + name; }
    std::string runtime_dir() const { return certs + "/run"; }
    // Where tbucket keeps TLS sessions (tls_cache.h).
    std::string session_dir() const { return runtime_dir() + "/tbucket"; }
    // tbucket over TLS, trusting the test CA.
    RunResult tb(std::vector<std::string> args, const RunOptions& options = {}) const {
        args.insert(args.begin(), {tbucket_path(), "-u", url(), "--cacert", cert("ca.crt")});
        return run(args, options);
    }

    std::vector<int> keeper_pids() const { return tls_keeper_pids(session_dir()); }
    void stop_keepers() const { stop_tls_keepers(session_dir()); }

    std::string certs;
    int tls_port;
    std::unique_ptr<RedisServer> server;
};

}  // namespace tbucket::test
