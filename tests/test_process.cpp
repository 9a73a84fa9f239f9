// The tests' own Child: it reads its child's output as it comes, so a
// chatty child never blocks on a full pipe before anyone waits for it.

#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "support/process.h"

using tbucket::test::Child;

TEST_CASE("a child that prints 1 MiB before anyone waits for it does not block",
          "[redis][process]") {
    // The child says it is done through a file, so that the test waits for
    // it without calling into the Child (whose calls used to drain the pipes).
    std::string marker = std::filesystem::temp_directory_path() /
                         ("tbucket-child-" + std::to_string(getpid()) + ".done");
    std::filesystem::remove(marker);
    Child child({"sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' x; echo done; : > \"$1\"", "sh",
                 marker});
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!std::filesystem::exists(marker) && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(std::filesystem::remove(marker));
    CHECK(child.exited_within(10));
    tbucket::test::RunResult result = child.wait();
    CHECK(result.code == 0);
    REQUIRE(result.out.size() == 1048576 + 5);
    CHECK(result.out.find_first_not_of('x') == 1048576);
    CHECK(result.out.substr(1048576) == "done\n");
}

TEST_CASE("a child's output can be awaited while it runs", "[redis][process]") {
    Child child({"sh", "-c", "echo ready; echo warming >&2; exec sleep 30"});
    CHECK(child.wait_for_output("ready", 10));
    CHECK(child.wait_for_output("warming", 10));
    CHECK_FALSE(child.wait_for_output("never", 0.1));
    CHECK(child.out_so_far() == "ready\n");
    CHECK(child.err_so_far() == "warming\n");
    CHECK_FALSE(child.exited_within(0.1));
    child.signal(SIGTERM);
    CHECK(child.wait().code == 128 + SIGTERM);
}

TEST_CASE("a child whose background grandchild keeps its pipe is still cleaned up",
          "[redis][process]") {
    // The grandchild holds stdout open: the output never ends, and
    // destroying the Child must neither hang nor leave its reader running.
    auto child =
        std::make_unique<Child>(std::vector<std::string>{"sh", "-c", "sleep 3 & echo started"});
    CHECK(child->wait_for_output("started", 10));
    CHECK_FALSE(child->exited_within(0.2));
    auto start = std::chrono::steady_clock::now();
    child.reset();
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
}

TEST_CASE(
    "a test knows its build's tbucket, and whether it is the sanitized one, as that tbucket says",
    "[redis][process]") {
    // Found at run time (tests/CMakeLists.txt builds the tests' code alike
    // in every build): a wrong answer would test another build's binary,
    // or size a sanitized run's trials and time bounds for a release one.
    if (std::getenv("TBUCKET_TEST_BIN")) {
        WARN("not checked: TBUCKET_TEST_BIN names another build's tbucket");
        return;
    }
    tbucket::test::RunResult version =
        tbucket::test::run({tbucket::test::tbucket_path(), "--version"});
    REQUIRE(version.code == 0);
    CHECK(tbucket::test::sanitized() == (version.out.find("ASan") != std::string::npos));
}
