#pragma once

// CLI11, without building the standard streams before main.
//
// CLI11 includes <iostream>, and with libstdc++ that puts a static
// std::ios_base::Init into every file that includes it: the eight standard
// streams and the locale are then built before main, which costs a
// one-shot command 24 page faults and about 0.4 ms (bench/README.md).
// tbucket writes with stdio; only CLI11 prints through the streams (help,
// version, its parse errors), so main builds them when it sets CLI11 up,
// and the short form never pays for them. Here <iostream> is replaced by
// the declarations it would give, without the static object.

#include <istream>
#include <ostream>

#if defined(__GLIBCXX__) && !defined(_GLIBCXX_IOSTREAM)
#define _GLIBCXX_IOSTREAM 1
namespace std {
extern istream cin;
extern ostream cout;
extern ostream cerr;
extern ostream clog;
extern wistream wcin;
extern wostream wcout;
extern wostream wcerr;
extern wostream wclog;
}  // namespace std
#endif

#include <CLI/CLI.hpp>
