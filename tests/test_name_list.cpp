// Unit tests for src/util/name_list.h: NAME[=N][,NAME[=N]...] (SPEC §11).

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "util/error.h"
#include "util/name_list.h"

namespace tbucket {
namespace {

std::string usage_error(std::string_view text, int64_t n = 1, bool counts = true) {
    try {
        parse_name_list(text, n, counts);
    } catch (const Error& e) {
        CHECK(kind_name(e.kind()) == kind_name(ErrorKind::usage));
        std::string message = e.what();
        CHECK(message.find('\n') == std::string::npos);
        return message;
    }
    FAIL("no tbucket::Error for '" << std::string(text) << "'");
    return {};
}

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

TEST_CASE("a list is told from a name by a comma or an equals sign", "[names]") {
    CHECK(is_name_list("a,b"));
    CHECK(is_name_list("a=2"));
    CHECK_FALSE(is_name_list("api-sec"));
    CHECK_FALSE(is_name_list("a:b/c@d+e.f_g"));
}

TEST_CASE("names without =N get the positional count, others their own", "[names]") {
    std::vector<NamedCount> want{{"api-sec", 3}, {"api-day", 5}, {"deploys", 3}};
    CHECK(parse_name_list("api-sec,api-day=5,deploys", 3) == want);
    CHECK(parse_name_list("a", 7) == std::vector<NamedCount>{{"a", 7}});
    CHECK(parse_name_list("a=1,b=9007199254740991", 2) ==
          std::vector<NamedCount>{{"a", 1}, {"b", 9007199254740991}});
}

TEST_CASE("empty elements are refused", "[names]") {
    CHECK(contains(usage_error("a,,b"), "element 2"));
    CHECK(contains(usage_error(",a"), "element 1"));
    CHECK(contains(usage_error("a,"), "element 2"));
    CHECK(contains(usage_error(","), "empty"));
}

TEST_CASE("bad counts in a list are refused", "[names]") {
    CHECK(contains(usage_error("a=0,b"), "count for 'a'"));
    CHECK(contains(usage_error("a,b=x"), "count for 'b'"));
    CHECK(contains(usage_error("a=,b"), "count for 'a' is empty"));
    CHECK(contains(usage_error("a=-1"), "count for 'a'"));
    CHECK(contains(usage_error("a=9007199254740992"), "above"));
    CHECK(contains(usage_error("a=1=2"), "count for 'a'"));
}

TEST_CASE("an element with no name is refused", "[names]") {
    CHECK(contains(usage_error("="), "no name"));
    CHECK(contains(usage_error("a,=2"), "element 2"));
}

TEST_CASE("a bad name inside a list is refused as it is alone", "[names]") {
    CHECK(contains(usage_error("a,b c"), "a space"));
    CHECK(contains(usage_error("a," + std::string(201, 'x')), "201 bytes"));
}

TEST_CASE("a name given twice is refused", "[names]") {
    CHECK(contains(usage_error("a,a"), "'a' is named twice"));
    CHECK(contains(usage_error("b,a=2,c,a=3"), "'a' is named twice"));
}

TEST_CASE("100 names are accepted, 101 refused", "[names]") {
    std::string text;
    for (int i = 0; i < 100; ++i) text += (i ? ",n" : "n") + std::to_string(i);
    CHECK(parse_name_list(text, 1).size() == 100);
    CHECK(contains(usage_error(text + ",n100"), "more than 100"));
}

TEST_CASE("names fine alone are refused when the list is too long together", "[names]") {
    std::string text;
    for (int i = 0; i < 21; ++i) text += (i ? "," : "") + std::string(199, 'a' + i) + "x";
    CHECK(text.size() == 21 * 201 - 1);
    CHECK(contains(usage_error(text), "at most 4096"));
    CHECK(parse_name_list(text.substr(0, 20 * 201 - 1), 1).size() == 20);
}

TEST_CASE("commands that take no count refuse =N in a list", "[names]") {
    CHECK(contains(usage_error("a,b=2", 1, false), "names only"));
    CHECK(parse_name_list("a,b", 1, false).size() == 2);
}

TEST_CASE("join_names lists the names in order", "[names]") {
    CHECK(join_names(parse_name_list("b,a=2,c", 1)) == "b,a,c");
}

}  // namespace
}  // namespace tbucket
