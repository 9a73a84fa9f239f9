// The index of names' pure parts (src/bucket/names.cpp): the slot tags and the glob.

#include <catch2/catch.hpp>

#include "bucket/names.h"
#include "redis/cluster.h"

TEST_CASE("slot_tag gives every slot a 4-character tag that hashes to it", "[names]") {
    for (int slot = 0; slot < tbucket::cluster_slots; ++slot) {
        std::string tag = tbucket::slot_tag(slot);
        REQUIRE(tag.size() == 4);
        for (char c : tag) REQUIRE((c >= '@' && c <= 'O'));
        REQUIRE(tbucket::key_slot("x{" + tag + "}") == slot);
    }
}

TEST_CASE("the index key of a bucket shares its slot and its prefix", "[names]") {
    for (const char* key : {"tbucket:{api}", "p:{a.b-c@d/e+f}", "{x}", "tbucket:{0}"}) {
        std::string index = tbucket::index_key_of(key);
        INFO(key << " " << index);
        CHECK(tbucket::key_slot(index) == tbucket::key_slot(key));
    }
    CHECK(tbucket::index_key_of("p:{api}").rfind("p:names:{", 0) == 0);
}

TEST_CASE("glob_match follows Redis's glob on names", "[names]") {
    CHECK(tbucket::glob_match("*", "a/b"));
    CHECK(tbucket::glob_match("ab*", "abc"));
    CHECK_FALSE(tbucket::glob_match("ab*", "xab"));
    CHECK(tbucket::glob_match("a?c", "abc"));
    CHECK(tbucket::glob_match("a[bc]d", "acd"));
    CHECK_FALSE(tbucket::glob_match("a[^bc]d", "acd"));
    CHECK(tbucket::glob_match("a[^bc]d", "axd"));
    CHECK(tbucket::glob_match("a\\*", "a*"));
    CHECK_FALSE(tbucket::glob_match("a\\*", "ab"));
}
