#pragma once

// What every fuzz target shares: the input as text, and the checks that
// turn a broken property into a crash libFuzzer reports. tbucket::Error is
// the parsers' way to refuse input; anything else thrown escapes
// LLVMFuzzerTestOneInput and is a finding, as is any sanitizer report.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "util/error.h"

namespace tbucket::fuzz {

inline std::string_view text(const uint8_t* data, size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

[[noreturn]] inline void broken(const char* property, std::string_view detail) {
    std::fprintf(stderr, "property broken: %s: %.*s\n", property, static_cast<int>(detail.size()),
                 detail.data());
    std::abort();
}

inline void require(bool holds, const char* property, std::string_view detail) {
    if (!holds) broken(property, detail);
}

// A refusal must be a usage error that says why. `printable`: the message
// is printable ASCII too, as parse.cpp escapes the bytes it quotes (url.cpp
// quotes them raw; the CLI's one_line() blanks control bytes on output).
inline void check_refusal(const Error& e, bool printable = true) {
    require(e.kind() == ErrorKind::usage, "refusals are usage errors", e.what());
    std::string_view message = e.what();
    require(!message.empty(), "refusals say why", message);
    if (!printable) return;
    for (unsigned char c : message) {
        require(c >= 0x20 && c < 0x7f, "messages are printable ASCII (bytes are escaped)", message);
    }
}

}  // namespace tbucket::fuzz
