// parse_count: exactly the decimal numbers 1..2^53-1 (0.. with allow_zero)
// are accepted, with their value; everything else is a usage error.

#include <string>

#include "fuzz_support.h"
#include "util/parse.h"

namespace {

// The value of an all-digit string, saturated above max_count; -1 if it is
// not all digits or empty. A reference independent of parse_count.
int64_t reference(std::string_view s) {
    if (s.empty()) return -1;
    int64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return -1;
        v = v > tbucket::max_count ? v : v * 10 + (c - '0');
    }
    return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace tbucket::fuzz;
    std::string_view input = text(data, size);
    int64_t expected = reference(input);
    for (bool allow_zero : {false, true}) {
        bool valid = expected >= (allow_zero ? 0 : 1) && expected <= tbucket::max_count;
        try {
            int64_t n = tbucket::parse_count("count", input, allow_zero);
            require(valid, "only counts in range are accepted", input);
            require(n == expected, "a count has its decimal value", input);
            require(tbucket::parse_count("count", std::to_string(n), allow_zero) == n,
                    "a count round-trips", input);
        } catch (const tbucket::Error& e) {
            require(!valid, "every count in range is accepted", input);
            check_refusal(e);
        }
    }
    return 0;
}
