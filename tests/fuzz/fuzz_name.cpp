// parse_name and parse_pattern: accepted text comes back unchanged and
// holds only the allowed bytes; refusals are usage errors with a printable
// message, whatever bytes came in.

#include <cstring>

#include "fuzz_support.h"
#include "util/parse.h"

namespace {

bool name_byte(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           std::strchr("._-:/@+", c) != nullptr;
}

bool glob_byte(unsigned char c) {
    return std::strchr("*?[]^\\", c) != nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace tbucket::fuzz;
    std::string_view input = text(data, size);
    bool valid_name = !input.empty() && input.size() <= tbucket::max_name_bytes;
    bool valid_pattern = valid_name;
    for (unsigned char c : input) {
        valid_name = valid_name && c != 0 && name_byte(c);
        valid_pattern = valid_pattern && c != 0 && (name_byte(c) || glob_byte(c));
    }
    try {
        std::string name = tbucket::parse_name(input);
        require(valid_name, "only valid names are accepted", input);
        require(name == input, "a name comes back unchanged", input);
    } catch (const tbucket::Error& e) {
        require(!valid_name, "every valid name is accepted", input);
        check_refusal(e);
    }
    try {
        std::string pattern = tbucket::parse_pattern(input);
        require(valid_pattern, "only valid patterns are accepted", input);
        require(pattern == input, "a pattern comes back unchanged", input);
    } catch (const tbucket::Error& e) {
        require(!valid_pattern, "every valid pattern is accepted", input);
        check_refusal(e);
    }
    return 0;
}
