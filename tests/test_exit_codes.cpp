// Unit tests for cli/exit_codes: every ErrorKind's exit status (SPEC §5)
// and kind_name, the "error" field of JSON errors.

#include <catch2/catch.hpp>
#include <cctype>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "exit_codes.h"
#include "util/error.h"

namespace tbucket {
namespace {

const std::vector<std::pair<ErrorKind, int>> spec_codes{
    {ErrorKind::usage, 2},         {ErrorKind::not_found, 3},    {ErrorKind::exists, 4},
    {ErrorKind::impossible, 5},    {ErrorKind::data, 65},        {ErrorKind::unavailable, 69},
    {ErrorKind::refused, 77},      {ErrorKind::internal, 70},    {ErrorKind::timeout, 124},
    {ErrorKind::interrupted, 130}, {ErrorKind::terminated, 143}, {ErrorKind::output, 74},
    {ErrorKind::config, 78},
};

TEST_CASE("usage errors exit 2", "[exit]") {
    CHECK(cli::exit_code(ErrorKind::usage) == 2);
    CHECK(cli::exit_usage == 2);
}

TEST_CASE("a missing bucket exits 3", "[exit]") {
    CHECK(cli::exit_code(ErrorKind::not_found) == 3);
}

TEST_CASE("a bucket with other settings exits 4", "[exit]") {
    CHECK(cli::exit_code(ErrorKind::exists) == 4);
}

TEST_CASE("an impossible request exits 5", "[exit]") {
    CHECK(cli::exit_code(ErrorKind::impossible) == 5);
}

TEST_CASE("a key that is not a bucket exits 65", "[exit]") {
    CHECK(cli::exit_code(ErrorKind::data) == 65);
}

TEST_CASE("Redis unavailable exits 69", "[exit]") {
    CHECK(cli::exit_code(ErrorKind::unavailable) == 69);
}

TEST_CASE("Redis refusing exits 77", "[exit]") {
    CHECK(cli::exit_code(ErrorKind::refused) == 77);
}

TEST_CASE("an internal error exits 70", "[exit]") {
    CHECK(cli::exit_code(ErrorKind::internal) == 70);
}

TEST_CASE("a write error on stdout exits 74", "[exit]") {
    CHECK(cli::exit_code(ErrorKind::output) == 74);
}

TEST_CASE("waiting the full timeout exits 124", "[exit]") {
    CHECK(cli::exit_code(ErrorKind::timeout) == 124);
}

TEST_CASE("SIGINT exits 130 and SIGTERM 143", "[exit]") {
    CHECK(cli::exit_code(ErrorKind::interrupted) == 130);
    CHECK(cli::exit_code(ErrorKind::terminated) == 143);
}

TEST_CASE("denied exits 1 for take and 75 for run", "[exit]") {
    CHECK(cli::exit_denied == 1);
    CHECK(cli::exit_run_denied == 75);
    CHECK(cli::exit_ok == 0);
}

TEST_CASE("a FAILed doctor check exits 1, which no error kind uses", "[exit]") {
    CHECK(cli::exit_check_failed == 1);
    for (const auto& [kind, code] : spec_codes)
        CHECK(cli::exit_code(kind) != cli::exit_check_failed);
}

TEST_CASE("every error kind has a nonzero exit code that is not a denial", "[exit]") {
    for (const auto& [kind, code] : spec_codes) {
        INFO("kind " << kind_name(kind));
        CHECK(cli::exit_code(kind) == code);
        CHECK(cli::exit_code(kind) != cli::exit_ok);
        CHECK(cli::exit_code(kind) != cli::exit_denied);
        CHECK(cli::exit_code(kind) != cli::exit_run_denied);
    }
}

TEST_CASE("error kinds have distinct exit codes", "[exit]") {
    std::set<int> codes;
    for (const auto& [kind, code] : spec_codes) codes.insert(cli::exit_code(kind));
    CHECK(codes.size() == spec_codes.size());
}

TEST_CASE("kind_name gives a distinct, non-empty name for every kind", "[exit]") {
    std::set<std::string> names;
    for (const auto& [kind, code] : spec_codes) {
        std::string name(kind_name(kind));
        INFO("exit code " << code << " name " << name);
        CHECK_FALSE(name.empty());
        CHECK(name.find(' ') == std::string::npos);
        names.insert(name);
    }
    CHECK(names.size() == spec_codes.size());
}

TEST_CASE("kind_name gives the stable JSON names", "[exit]") {
    CHECK(kind_name(ErrorKind::usage) == "usage");
    CHECK(kind_name(ErrorKind::not_found) == "not_found");
    CHECK(kind_name(ErrorKind::exists) == "exists");
    CHECK(kind_name(ErrorKind::impossible) == "impossible");
    CHECK(kind_name(ErrorKind::data) == "data");
    CHECK(kind_name(ErrorKind::unavailable) == "unavailable");
    CHECK(kind_name(ErrorKind::refused) == "refused");
    CHECK(kind_name(ErrorKind::timeout) == "timeout");
    CHECK(kind_name(ErrorKind::interrupted) == "interrupted");
    CHECK(kind_name(ErrorKind::terminated) == "terminated");
    CHECK(kind_name(ErrorKind::internal) == "internal");
    CHECK(kind_name(ErrorKind::output) == "output");
    CHECK(kind_name(ErrorKind::config) == "config");
}

// The codes of a document's exit status table: the README's markdown rows
// (`| 126, 127 | …`) or the man page's `.TP` / `.B N` entries.
std::set<int> readme_codes() {
    std::ifstream in(std::string(TBUCKET_SOURCE_DIR) + "/README.md");
    REQUIRE(in);
    std::set<int> codes;
    std::string line;
    bool inside = false;
    while (std::getline(in, line)) {
        if (line.rfind("## ", 0) == 0) inside = line == "## Exit status";
        if (!inside || line.rfind("| ", 0) != 0) continue;
        std::string cell = line.substr(2, line.find(" |", 1) - 2);
        std::size_t at = 0;
        while (at < cell.size() && std::isdigit(static_cast<unsigned char>(cell[at]))) {
            std::size_t used = 0;
            codes.insert(std::stoi(cell.substr(at), &used));
            at += used;
            if (cell.compare(at, 2, ", ") == 0) at += 2;
        }
    }
    return codes;
}

std::set<int> man_codes() {
    std::ifstream in(std::string(TBUCKET_SOURCE_DIR) + "/man/tbucket.1");
    REQUIRE(in);
    std::set<int> codes;
    std::string line, previous;
    bool inside = false;
    while (std::getline(in, line)) {
        if (line.rfind(".SH ", 0) == 0) inside = line == ".SH EXIT STATUS";
        if (inside && previous == ".TP" && line.rfind(".B ", 0) == 0)
            codes.insert(std::stoi(line.substr(3)));
        previous = line;
    }
    return codes;
}

TEST_CASE("the README's and the man page's exit status tables list exactly the codes of the table",
          "[exit][docs]") {
    std::set<int> table;
    for (const cli::ExitStatus& status : cli::exit_statuses()) table.insert(status.code);
    CHECK(readme_codes() == table);
    CHECK(man_codes() == table);
    for (const auto& [kind, code] : spec_codes) CHECK(table.count(cli::exit_code(kind)) == 1);
}

TEST_CASE("the --help footer names every code of the table, in lines of at most 80 columns",
          "[exit][docs]") {
    std::string footer = cli::exit_status_footer();
    for (const cli::ExitStatus& status : cli::exit_statuses()) {
        INFO(status.code);
        CHECK_THAT(footer, Catch::Contains(std::to_string(status.code) + " " + status.brief));
    }
    std::size_t start = 0;
    for (;;) {
        std::size_t end = footer.find('\n', start);
        CHECK((end == std::string::npos ? footer.size() : end) - start <= 80);
        if (end == std::string::npos) break;
        start = end + 1;
    }
    CHECK_THAT(footer,
               Catch::StartsWith("Exit status: 0 done,") && Catch::EndsWith("See tbucket(1)."));
}

}  // namespace
}  // namespace tbucket
