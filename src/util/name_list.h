#pragma once

// Several buckets in one argument (SPEC §11): NAME[=N][,NAME[=N]...].
// Pure parsing, like parse.h: Error(usage) with a one-line message.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tbucket {

// A list names at most this many buckets, and is at most this long: the
// keys of all of them go into one script call on one server, and its reply
// holds a state for each. 100 names of 40 bytes fit; 100 of 200 do not.
inline constexpr std::size_t max_list_names = 100;
inline constexpr std::size_t max_list_bytes = 4096;

struct NamedCount {
    std::string name;
    int64_t count = 0;
    bool operator==(const NamedCount&) const = default;
};

// True when the text is a list rather than one name: it holds ',' or '=',
// which are not name characters.
bool is_name_list(std::string_view text);

// NAME[=N][,NAME[=N]...]; names without =N get `n`. Refused: an empty
// element (a,,b or a leading or trailing comma), a name or count that the
// single-name parsers refuse (=0, =x, = alone), a name given twice (a,a:
// write a=2), more than max_list_names names, more than max_list_bytes.
// `counts`: false where a command takes no count (info, delete): =N refused.
std::vector<NamedCount> parse_name_list(std::string_view text, int64_t n, bool counts = true);

// The names of a list, for messages: "a,b".
std::string join_names(const std::vector<NamedCount>& list);

}  // namespace tbucket
