#pragma once

// What a program does when a connection asks for TLS. tbucket-tls switches
// its OpenSSL on; tbucket, which carries no OpenSSL, becomes tbucket-tls
// with the same arguments (see CMakeLists.txt for why there are two).

#include <string>

namespace tbucket::cli {

// Keeps the arguments as given, before anything rewrites them (passwords
// are scrubbed from argv).
void keep_arguments(int argc, char** argv);

// Makes TLS available in this process, or replaces the process with one
// that has it. Throws Error(internal) when that program is missing.
void prepare_tls();

// A program with TLS, to start the TLS keeper (tls_keeper.h) with.
std::string tls_program();

// The TLS keeper (tls_keeper.h), in a program with TLS: its exit status.
int serve_tls_keeper(int argc, char** argv);

}  // namespace tbucket::cli
