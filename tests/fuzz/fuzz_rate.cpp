// parse_rate: an accepted rate is positive, at most 1e15 per period, its
// period 1ms..100 years, and format_rate prints it back exactly:
// parse_rate(format_rate(r)) == r. The first 16 bytes also make a rate
// directly (a double amount, a period), to reach amounts no text hits.

#include <cmath>
#include <cstring>
#include <string>

#include "fuzz_support.h"
#include "util/parse.h"

namespace {

void check_rate(const tbucket::Rate& r, std::string_view input) {
    using namespace tbucket::fuzz;
    require(std::isfinite(r.amount) && r.amount > 0 && r.amount <= tbucket::max_rate_amount,
            "an amount is in (0, 1e15]", input);
    require(r.period_ms >= 1 && r.period_ms <= tbucket::max_duration_ms,
            "a period is 1ms..100 years", input);
    std::string printed = tbucket::format_rate(r);
    try {
        require(tbucket::parse_rate(printed) == r, "parse_rate(format_rate(r)) == r", printed);
    } catch (const tbucket::Error& e) {
        broken("format_rate prints what parse_rate accepts", printed + " -> " + e.what());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace tbucket::fuzz;
    std::string_view input = text(data, size);
    try {
        check_rate(tbucket::parse_rate(input), input);
    } catch (const tbucket::Error& e) {
        check_refusal(e);
    }
    if (size >= 16) {
        tbucket::Rate r;
        std::memcpy(&r.amount, data, 8);
        uint64_t period = 0;
        std::memcpy(&period, data + 8, 8);
        r.period_ms =
            static_cast<int64_t>(period % static_cast<uint64_t>(tbucket::max_duration_ms)) + 1;
        // Amounts a user can type: decimals of at most 17 significant digits
        // that parse_rate would take; smaller doubles have no such text.
        if (std::isfinite(r.amount) && r.amount >= 1e-300 && r.amount <= tbucket::max_rate_amount) {
            check_rate(r, tbucket::format_amount(r.amount));
        }
    }
    return 0;
}
