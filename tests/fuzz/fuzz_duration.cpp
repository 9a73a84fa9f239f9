// parse_duration_ms: an accepted duration is 0..100 years in ms, and the
// formatters print what it accepts back: parse(format_exact_ms(ms)) == ms,
// parse(format_period_ms(ms)) as a rate period == ms, and
// parse(format_duration_ms(ms)) >= ms (rounded up, never early). The first
// 8 bytes also make a duration directly.

#include <cstring>
#include <string>

#include "fuzz_support.h"
#include "util/parse.h"

namespace {

void check_duration(int64_t ms, std::string_view input) {
    using namespace tbucket::fuzz;
    require(ms >= 0 && ms <= tbucket::max_duration_ms, "a duration is 0..100 years", input);
    std::string exact = tbucket::format_exact_ms(ms), shown = tbucket::format_duration_ms(ms);
    try {
        require(tbucket::parse_duration_ms("d", exact) == ms, "parse(format_exact_ms(ms)) == ms",
                exact);
        int64_t back = tbucket::parse_duration_ms("d", shown);
        require(back >= ms, "format_duration_ms never rounds down", shown);
        if (ms > 0) {
            std::string rate = "1/" + tbucket::format_period_ms(ms);
            require(tbucket::parse_rate(rate).period_ms == ms,
                    "format_period_ms round-trips as a period", rate);
        }
    } catch (const tbucket::Error& e) {
        broken("the formatters print what parse_duration_ms accepts",
               exact + " / " + shown + " -> " + e.what());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace tbucket::fuzz;
    std::string_view input = text(data, size);
    try {
        check_duration(tbucket::parse_duration_ms("d", input), input);
    } catch (const tbucket::Error& e) {
        check_refusal(e);
    }
    if (size >= 8) {
        uint64_t raw = 0;
        std::memcpy(&raw, data, 8);
        check_duration(
            static_cast<int64_t>(raw % static_cast<uint64_t>(tbucket::max_duration_ms + 1)),
            "(bytes)");
    }
    return 0;
}
