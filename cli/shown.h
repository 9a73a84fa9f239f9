#pragma once

// Text that came from Redis (bucket names found by list and top, lease
// holders) printed as text: any byte that is not printable ASCII, a space
// or a backslash is written \xHH, so that a name cannot move the cursor,
// retitle a terminal, split a line for `while read`, or break a Prometheus
// file. Every name tbucket itself accepts is printed as it is.

#include <string>
#include <string_view>

namespace tbucket::cli {

inline std::string shown(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (byte > 0x20 && byte < 0x7f && c != '\\') {
            out += c;
        } else {
            out.append("\\x").append(1, hex[byte >> 4]).append(1, hex[byte & 15]);
        }
    }
    return out;
}

// True when `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates), what JSON strings and Prometheus label values must be.
inline bool is_utf8(std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
        auto at = [&](std::size_t k) { return static_cast<unsigned char>(text[i + k]); };
        unsigned char b = at(0);
        std::size_t more = b < 0x80   ? 0
                           : b < 0xc2 ? 9
                           : b < 0xe0 ? 1
                           : b < 0xf0 ? 2
                           : b < 0xf5 ? 3
                                      : 9;
        if (more == 9 || text.size() - i <= more) return false;
        unsigned char lo = b == 0xe0 ? 0xa0 : b == 0xf0 ? 0x90 : 0x80;
        unsigned char hi = b == 0xed ? 0x9f : b == 0xf4 ? 0x8f : 0xbf;
        for (std::size_t k = 1; k <= more; ++k) {
            unsigned char c = at(k);
            if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xbf)) return false;
        }
        i += more + 1;
    }
    return true;
}

}  // namespace tbucket::cli
