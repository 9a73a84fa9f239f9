// TLS session resumption across one-shot commands (src/net/tls_cache.h), end to
// end: the built tbucket through a ByteRelay to a redis-server's TLS port.
// Whether a handshake was full or resumed is read from the server's side:
// a full one carries the server's certificate chain, a resumed one does not
// (redis-server has no statistic for session reuse), so a resumed
// connection brings at least the certificate's size fewer bytes.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/byte_relay.h"
#include "support/e2e.h"
#include "support/tls_server.h"

namespace fs = std::filesystem;
using tbucket::test::ByteRelay;
using tbucket::test::Child;
using tbucket::test::read_file;
using tbucket::test::RunOptions;
using tbucket::test::RunResult;
using tbucket::test::TlsServer;

namespace {

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// The size of a PEM certificate once decoded: what a full handshake sends.
long long der_size(const std::string& pem_path) {
    std::istringstream lines(read_file(pem_path));
    long long chars = 0, padding = 0;
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("-----", 0) == 0) continue;
        chars += static_cast<long long>(line.size());
        padding += std::count(line.begin(), line.end(), '=');
    }
    return chars / 4 * 3 - padding;
}

struct Call {
    RunResult result;
    long long server_bytes = 0;  // over all its connections
    std::size_t connections = 0;
};

// tbucket against the TLS server through a relay that counts bytes.
struct Relayed {
    explicit Relayed(TlsServer& server) : tls(server), relay(server.tls_port) {
        // Caches the script and keeps the first session.
        REQUIRE(call({"create", "r", "--capacity", "1000000"}).result.code == 0);
        Call full = call({"--no-session-cache", "take", "r"});
        REQUIRE(full.result.code == 0);
        first_full = full.server_bytes;
        certificate = der_size(tls.cert("server.crt"));
    }
    std::string url() const { return "rediss://127.0.0.1:" + std::to_string(relay.port()); }

    Call call(std::vector<std::string> args, const RunOptions& options = {},
              const std::string& ca = "ca.crt") {
        args.insert(args.begin(),
                    {tbucket::test::tbucket_path(), "-u", url(), "--cacert", tls.cert(ca)});
        Call c;
        c.result = tbucket::test::run(args, options);
        std::vector<long long> ended = relay.finished(seen + 1);
        for (std::size_t i = seen; i < ended.size(); ++i) c.server_bytes += ended[i];
        c.connections = ended.size() - seen;
        seen = ended.size();
        return c;
    }
    Call take(std::vector<std::string> extra = {}, const RunOptions& options = {}) {
        extra.insert(extra.end(), {"take", "r"});
        return call(extra, options);
    }
    // Resumed: the server did not send its certificate.
    bool resumed(const Call& c) const {
        return c.connections == 1 && c.server_bytes + certificate <= first_full;
    }
    bool full(const Call& c) const {
        return c.connections == 1 && c.server_bytes + certificate > first_full;
    }

    TlsServer& tls;
    ByteRelay relay;
    std::size_t seen = 0;
    long long first_full = 0;
    long long certificate = 0;
};

std::vector<std::string> session_files(const TlsServer& tls) {
    return tbucket::test::files_named(tls.session_dir(), "tls-");
}

std::string only_session_file(const TlsServer& tls) {
    std::vector<std::string> files = session_files(tls);
    REQUIRE(files.size() == 1);
    return files[0];
}

struct stat status(const std::string& path) {
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return st;
}

}  // namespace

TEST_CASE("a one-shot command resumes the TLS session the one before kept, in a 0600 file",
          "[tls][e2e][session]") {
    TlsServer tls(false, TlsServer::Keeper::off);
    Relayed r(tls);
    INFO("full handshake: " << r.first_full << " bytes; certificate " << r.certificate);
    Call second = r.take();
    CHECK(second.result.code == 0);
    CHECK(second.result.err.empty());
    INFO("second: " << second.server_bytes << " bytes");
    CHECK(r.resumed(second));
    // Each resumed call keeps the server's newest session: a chain of them.
    CHECK(r.resumed(r.take()));
    std::string file = only_session_file(tls);
    struct stat st = status(file);
    CHECK(S_ISREG(st.st_mode));
    CHECK((st.st_mode & 07777) == 0600);
    CHECK(st.st_uid == ::geteuid());
    struct stat dir = status(tls.session_dir());
    CHECK((dir.st_mode & 07777) == 0700);
    CHECK(dir.st_uid == ::geteuid());
    // No temporary file is left behind.
    CHECK(session_files(tls).size() == 1);
}

TEST_CASE("neither --no-session-cache, TBUCKET_NO_SESSION_CACHE nor --insecure uses the cache",
          "[tls][e2e][session]") {
    TlsServer tls(false, TlsServer::Keeper::off);
    Relayed r(tls);
    std::string file = only_session_file(tls);
    std::string kept = read_file(file);
    Call off = r.take({"--no-session-cache"});
    CHECK(off.result.code == 0);
    CHECK(r.full(off));
    Call env = r.take({}, tbucket::test::with_env({{"TBUCKET_NO_SESSION_CACHE", "1"}}));
    CHECK(env.result.code == 0);
    CHECK(r.full(env));
    Call insecure = r.take({"--insecure"});
    CHECK(insecure.result.code == 0);
    CHECK_THAT(insecure.result.err, Catch::Contains("warning: --insecure"));
    CHECK(r.full(insecure));
    CHECK(read_file(file) == kept);  // none of the three wrote
    CHECK(r.resumed(r.take()));      // and the kept session still works
}

TEST_CASE("a tampered, foreign, loose or linked session file is ignored without a word",
          "[tls][e2e][session]") {
    TlsServer tls(false, TlsServer::Keeper::off);
    Relayed r(tls);
    std::string file = only_session_file(tls);
    auto ignored = [&](const char* what) {
        INFO(what);
        Call c = r.take();
        CHECK(c.result.code == 0);
        CHECK(c.result.err.empty());
        CHECK(r.full(c));
        // The full handshake left a good file in its place.
        CHECK((status(file).st_mode & 07777) == 0600);
        CHECK(status(file).st_uid == ::geteuid());
    };
    std::string good = read_file(file);
    std::string tampered = good;
    for (std::size_t i = tampered.size() - 200; i < tampered.size() - 100; ++i) tampered[i] ^= 0x5a;
    write_file(file, tampered);
    ignored("tampered session bytes");
    write_file(file, read_file(file).substr(0, good.size() / 2));
    ignored("cut short");
    write_file(file, "garbage\n");
    ignored("not a session file");
    REQUIRE(::chmod(file.c_str(), 0640) == 0);  // the last call's fresh, unused session
    ignored("readable by the group");
    if (::geteuid() == 0) {  // as in CI; only root can give a file away
        REQUIRE(::chown(file.c_str(), 65534, 65534) == 0);
        ignored("another user's");
    } else {
        WARN("not root: a session file of another user's is not tried");
    }
    std::string elsewhere = tls.certs + "/elsewhere.session";
    fs::rename(file, elsewhere);
    fs::create_symlink(elsewhere, file);
    ignored("a symbolic link");
    // Each of these edits a fresh, unused session's file, which would
    // resume if it were read.
    auto edit = [&](const std::string& from, const std::string& to) {
        std::string text = read_file(file);
        std::size_t at = text.find(from);
        REQUIRE(at != std::string::npos);
        write_file(file, text.replace(at, from.size(), to));
    };
    edit("port=", "port=1");  // written for another server
    ignored("another key");
    auto verified = [&] {
        std::string text = read_file(file);
        std::size_t at = text.find("\nverified ") + 10;
        return std::stoll(text.substr(at, text.find('\n', at) - at));
    };
    long long when = verified();
    edit("verified " + std::to_string(when), "verified " + std::to_string(when - 3601));
    ignored("verified in full over an hour ago");
    when = verified();
    edit("verified " + std::to_string(when), "verified " + std::to_string(when + 3600));
    ignored("verified in the future");
    REQUIRE(::chmod(tls.session_dir().c_str(), 0770) == 0);
    ignored("in a directory the group may write");
    REQUIRE(::chmod(tls.session_dir().c_str(), 0700) == 0);
    CHECK(r.resumed(r.take()));
}

TEST_CASE("a resumed session carries the time of the full handshake it descends from",
          "[tls][e2e][session]") {
    TlsServer tls(false, TlsServer::Keeper::off);
    Relayed r(tls);
    std::string file = only_session_file(tls);
    std::string text = read_file(file);
    std::size_t at = text.find("\nverified ") + 10, end = text.find('\n', at);
    // As if verified 100 s ago: a resumed call keeps that time, never its own.
    std::string earlier = std::to_string(std::stoll(text.substr(at, end - at)) - 100);
    write_file(file, text.replace(at, end - at, earlier));
    REQUIRE(r.resumed(r.take()));
    REQUIRE(r.resumed(r.take()));
    CHECK(read_file(file).find("\nverified " + earlier + "\n") != std::string::npos);
}

TEST_CASE("a session kept under one CA or name is never offered under another",
          "[tls][e2e][session]") {
    TlsServer tls(false, TlsServer::Keeper::off);
    Relayed r(tls);
    // The CA that verified the server before must not vouch for it now: with
    // the session offered, the server would resume and nothing be checked.
    Call other = r.call({"take", "r"}, {}, "other-ca.crt");
    CHECK(other.result.code == 69);
    CHECK_THAT(other.result.err, Catch::Contains("unknown CA"));
    // The same CA under another path, and the same file rewritten, are
    // other keys: verified in full once, then resumed.
    fs::copy_file(tls.cert("ca.crt"), tls.cert("ca-copy.crt"));
    CHECK(r.full(r.call({"take", "r"}, {}, "ca-copy.crt")));
    CHECK(r.resumed(r.call({"take", "r"}, {}, "ca-copy.crt")));
    write_file(tls.cert("ca-copy.crt"), read_file(tls.cert("ca.crt")) + "\n");
    CHECK(r.full(r.call({"take", "r"}, {}, "ca-copy.crt")));
    // Another name to check (--sni) is another key too.
    Call sni = r.take({"--sni", "redis.example.com"});
    CHECK(sni.result.code == 69);
    CHECK_THAT(sni.result.err, Catch::Contains("does not match"));
    CHECK(r.resumed(r.take()));
}

TEST_CASE("after the server's certificate changes, the next call verifies it in full",
          "[tls][e2e][session]") {
    TlsServer tls(false, TlsServer::Keeper::off);
    Relayed r(tls);
    REQUIRE(r.resumed(r.take()));
    tls.server->command({"CONFIG", "SET", "tls-cert-file", tls.cert("other-server.crt"),
                         "tls-key-file", tls.cert("other-server.key")});
    Call untrusted = r.take();
    CHECK(untrusted.result.code == 69);
    CHECK_THAT(untrusted.result.err, Catch::Contains("unknown CA"));
    tls.server->command({"CONFIG", "SET", "tls-cert-file", tls.cert("server2.crt"), "tls-key-file",
                         tls.cert("server2.key")});
    Call renewed = r.take();
    CHECK(renewed.result.code == 0);
    CHECK(r.full(renewed));
    CHECK(r.resumed(r.take()));
}

TEST_CASE("mutual TLS resumes with the client certificate, and never without it",
          "[tls][e2e][session]") {
    TlsServer tls(true, TlsServer::Keeper::off);
    ByteRelay relay(tls.tls_port);
    std::string url = "rediss://127.0.0.1:" + std::to_string(relay.port());
    auto tb = [&](std::vector<std::string> args, bool with_cert) {
        args.insert(args.begin(),
                    {tbucket::test::tbucket_path(), "-u", url, "--cacert", tls.cert("ca.crt")});
        if (with_cert)
            args.insert(args.begin() + 5,
                        {"--cert", tls.cert("client.crt"), "--key", tls.cert("client.key")});
        return tbucket::test::run(args);
    };
    REQUIRE(tb({"create", "m", "--capacity", "10"}, true).code == 0);
    REQUIRE(tb({"--no-session-cache", "take", "m"}, true).code == 0);  // in full
    REQUIRE(tb({"take", "m"}, true).code == 0);
    std::vector<long long> bytes = relay.finished(3);
    REQUIRE(bytes.size() == 3);
    INFO("full " << bytes[1] << ", then " << bytes[2]);
    CHECK(bytes[2] + der_size(tls.cert("server.crt")) <= bytes[1]);  // resumed
    RunResult without = tb({"take", "m"}, false);
    CHECK(without.code == 69);
    CHECK_THAT(without.err, Catch::Contains("client certificate"));
    CHECK(tls.server->dump_hash("tbucket:{m}").find("t=8 ") != std::string::npos);
}

TEST_CASE("concurrent one-shot commands share the session file safely", "[tls][e2e][session]") {
    TlsServer tls(false, TlsServer::Keeper::off);
    Relayed r(tls);
    std::vector<std::unique_ptr<Child>> children;
    for (int i = 0; i < 8; ++i) {
        children.push_back(std::make_unique<Child>(
            std::vector<std::string>{tbucket::test::tbucket_path(), "-u", r.url(), "--cacert",
                                     tls.cert("ca.crt"), "take", "r"}));
    }
    for (auto& child : children) {
        RunResult done = child->wait();
        CHECK(done.code == 0);
        CHECK(done.err.empty());
    }
    r.seen = r.relay.finished(r.seen + 8).size();
    CHECK(session_files(tls).size() == 1);
    CHECK((status(only_session_file(tls)).st_mode & 07777) == 0600);
    CHECK(r.resumed(r.take()));
}

TEST_CASE("without XDG_RUNTIME_DIR sessions go to ~/.cache, never into another user's home",
          "[tls][e2e][session]") {
    TlsServer tls(false, TlsServer::Keeper::off);
    std::string mine = tls.certs + "/home", theirs = tls.certs + "/other-home";
    fs::create_directory(mine);
    fs::create_directory(theirs);
    bool root = ::geteuid() == 0;  // as in CI; only root can give a directory away
    if (root) REQUIRE(::chown(theirs.c_str(), 65534, 65534) == 0);
    auto take_with_home = [&](const std::string& home) {
        return tls.tb({"take", "h", "--capacity", "10"},
                      tbucket::test::with_env(
                          {{"XDG_RUNTIME_DIR", ""}, {"XDG_CACHE_HOME", ""}, {"HOME", home}}));
    };
    RunResult in_mine = take_with_home(mine);
    CHECK(in_mine.code == 0);
    CHECK(in_mine.err.empty());
    CHECK((status(mine + "/.cache").st_mode & 07777) == 0700);
    CHECK((status(mine + "/.cache/tbucket").st_mode & 07777) == 0700);
    std::size_t files = 0;
    for (const auto& entry : fs::directory_iterator(mine + "/.cache/tbucket")) {
        CHECK((status(entry.path().string()).st_mode & 07777) == 0600);
        ++files;
    }
    CHECK(files == 1);
    if (!root) {
        WARN("not root: a home of another user's is not tried");
        return;
    }
    RunResult in_theirs = take_with_home(theirs);
    CHECK(in_theirs.code == 0);
    CHECK(in_theirs.err.empty());
    CHECK(fs::is_empty(theirs));
}

TEST_CASE("a TLS 1.2 session is never kept", "[tls][e2e][session]") {
    TlsServer tls(false, TlsServer::Keeper::off);
    // Its master secret would decrypt every connection that used it.
    tls.server->command({"CONFIG", "SET", "tls-protocols", "TLSv1.2"});
    REQUIRE(tls.tb({"create", "old", "--capacity", "10"}).code == 0);
    RunResult take = tls.tb({"take", "old"});
    CHECK(take.code == 0);
    CHECK(take.err.empty());
    CHECK(session_files(tls).empty());
    tls.server->command({"CONFIG", "SET", "tls-protocols", "TLSv1.3"});
    REQUIRE(tls.tb({"take", "old"}).code == 0);
    CHECK(session_files(tls).size() == 1);
}
