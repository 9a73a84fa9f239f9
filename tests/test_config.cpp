// The configuration files (SPEC §14): the built binary against a real
// redis-server, with the system and user files in a private directory
// (TBUCKET_SYSTEM_CONFIG, XDG_CONFIG_HOME), never /etc or a real home.

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "support/e2e.h"

using namespace tbucket::test;
using nlohmann::json;

namespace {

struct Files {
    TempDir temp{"config"};
    const std::string dir = temp.path;
    Files() { std::filesystem::create_directories(dir + "/home/tbucket"); }
    std::string system() const { return dir + "/system.toml"; }
    std::string user() const { return dir + "/home/tbucket/config.toml"; }
    void write(const std::string& path, const std::string& text) const {
        std::ofstream(path) << text;
    }
    // tbucket with these files and no URL on its command line.
    RunResult tb(std::vector<std::string> args, std::map<std::string, std::string> env = {}) const {
        env["TBUCKET_SYSTEM_CONFIG"] = system();
        env["XDG_CONFIG_HOME"] = dir + "/home";
        args.insert(args.begin(), tbucket_path());
        return run(args, with_env(env));
    }
};

}  // namespace

TEST_CASE("a config file's two buckets: run a,b from an empty server creates both and runs",
          "[config]") {
    Files f;
    f.write(f.user(), "url = \"" + redis().url() +
                          "\"\n\n[buckets.api-sec]\ncapacity = 5\nrate = \"5/s\"\n\n"
                          "[buckets.api-day]\ncapacity = 2\nwindow = \"1d\"\n");
    RunResult r = f.tb({"run", "api-sec,api-day", "--", "true"});
    INFO(describe(r));
    CHECK(r.code == 0);
    std::vector<json> states = json_lines(f.tb({"--json", "info", "api-sec", "api-day"}).out);
    REQUIRE(states.size() == 2);
    CHECK(states[0]["kind"] == "rate");
    CHECK(states[0]["capacity"] == 5);
    CHECK(states[1]["kind"] == "window");
    CHECK(states[1]["tokens"] == 1);
    // One bucket alone, by take, is created by its definition too.
    f.write(f.user(), "url = \"" + redis().url() + "\"\n[buckets.solo]\ncapacity = 3\n");
    CHECK(f.tb({"take", "solo"}).code == 0);
    CHECK(json::parse(f.tb({"--json", "info", "solo"}).out)["kind"] == "semaphore");
    // A definition that disagrees with the bucket in Redis is exit 4, as create.
    f.write(f.user(), "url = \"" + redis().url() + "\"\n[buckets.solo]\ncapacity = 4\n");
    r = f.tb({"take", "solo"});
    CHECK(r.code == 4);
    CHECK_THAT(r.err, Catch::Contains("exists with other settings"));
}

TEST_CASE("precedence: flags, then environment, then the user file, then the system file",
          "[config]") {
    Files f;
    f.write(f.system(), "url = \"redis://127.0.0.1:1\"\nprefix = \"sys:\"\nfail_open = true\n");
    f.write(f.user(), "url = \"" + redis().url() + "\"\n");
    json c = json::parse(f.tb({"--json", "config"}).out);
    CHECK(c["settings"]["url"]["value"] == redis().url());
    CHECK_THAT(c["settings"]["url"]["from"].get<std::string>(), Catch::EndsWith("config.toml:1"));
    CHECK(c["settings"]["prefix"]["value"] == "sys:");
    CHECK(c["settings"]["prefix"]["from"] == f.system() + ":2");
    CHECK(c["settings"]["fail_open"]["value"] == "true");
    c = json::parse(f.tb({"--json", "config"}, {{"TBUCKET_PREFIX", "env:"}}).out);
    CHECK(c["settings"]["prefix"]["value"] == "env:");
    c = json::parse(
        f.tb({"--json", "--prefix", "flag:", "config"}, {{"TBUCKET_PREFIX", "env:"}}).out);
    CHECK(c["settings"]["prefix"]["value"] == "flag:");
    c = json::parse(f.tb({"--json", "config"}, {{"TBUCKET_URL", "redis://127.0.0.1:2"}}).out);
    CHECK(c["settings"]["url"]["value"] == "redis://127.0.0.1:2");
    CHECK(c["settings"]["url"]["from"] == "TBUCKET_URL");
    c = json::parse(f.tb({"--json", "config"}, {{"TBUCKET_FAIL_OPEN", "0"}}).out);
    CHECK(c["settings"]["fail_open"]["value"] == "false");
    // The file's prefix is the one buckets get.
    REQUIRE(f.tb({"create", "p", "--capacity", "1"}).code == 0);
    CHECK(redis().integer({"EXISTS", "sys:{p}"}) == 1);
}

TEST_CASE("every bad file is exit 78 naming file:line, and Redis is untouched", "[config]") {
    Files f;
    struct Case {
        std::string text;
        std::string says;
    };
    const Case cases[] = {
        {"url = \n", ":1: "},
        {"url = \"redis://127.0.0.1:6379\"\nbogus = 1\n", ":2: unknown key 'bogus'"},
        {"prefix = 5\n", ":1: prefix must be a string"},
        {"fail_open = \"yes\"\n", ":1: fail_open must be true or false"},
        {"[buckets.a]\ncapacity = 5\nrate = \"5/x\"\n", ":3: bucket 'a': rate '5/x'"},
        {"[buckets.a]\ncapacity = \"five\"\n", ":2: capacity must be a whole number"},
        {"[buckets.a]\nrate = \"5/s\"\n", ":1: bucket 'a' has no capacity"},
        {"[buckets.a]\ncapacity = 5\nwindow = \"7d\"\n", ":3: bucket 'a': window '7d'"},
        {"[buckets.a]\ncapacity = 5\nsize = 3\n", ":3: unknown key 'size' in bucket 'a'"},
        {"[buckets.\"bad name\"]\ncapacity = 5\n", ":1: bucket name"},
    };
    for (const Case& c : cases) {
        f.write(f.user(), c.text);
        RunResult r = f.tb({"-u", redis().url(), "take", "a", "--capacity", "5"});
        INFO(c.text << "\n" << describe(r));
        CHECK(r.code == 78);
        CHECK(one_error_line(r.err));
        CHECK_THAT(r.err, Catch::Contains(f.user() + c.says));
    }
    // Unreadable: a directory where the file should be.
    std::filesystem::remove(f.user());
    std::filesystem::create_directories(f.user());
    RunResult r = f.tb({"-u", redis().url(), "take", "a", "--capacity", "5"});
    CHECK(r.code == 78);
    CHECK_THAT(r.err, Catch::Contains(f.user() + ": not a regular file"));
    CHECK(redis().integer({"DBSIZE"}) == 0);
    // JSON errors name the kind.
    r = f.tb({"--json", "-u", redis().url(), "info", "a"});
    CHECK(r.code == 78);
    CHECK(json::parse(r.err)["error"] == "config");
}
