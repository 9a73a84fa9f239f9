// tbucket: for TLS, becomes tbucket-tls, found beside this program (the
// build tree) or in its libexec directory (an installed copy).

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "exit_codes.h"
#include "tls_build.h"
#include "util/error.h"

namespace tbucket::cli {
namespace {

std::vector<std::string>& kept() {
    static std::vector<std::string> arguments;
    return arguments;
}

std::string own_directory() {
    char path[4096];
    ssize_t size = readlink("/proc/self/exe", path, sizeof path - 1);
    if (size <= 0) return ".";
    std::string self(path, static_cast<std::size_t>(size));
    return self.substr(0, self.rfind('/'));
}

}  // namespace

void keep_arguments(int argc, char** argv) {
    kept().assign(argv, argv + argc);
}

namespace {

std::vector<std::string> candidates() {
    std::string dir = own_directory();
    std::string libexec = TBUCKET_LIBEXECDIR;
    return {dir + "/tbucket-tls",
            (libexec.front() == '/' ? libexec : dir + "/../" + libexec) + "/tbucket/tbucket-tls"};
}

}  // namespace

std::string tls_program() {
    for (const std::string& candidate : candidates()) {
        if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return "";
}

void prepare_tls() {
    std::string program = tls_program();
    if (program.empty()) {
        // An installation problem, not a bug: EX_UNAVAILABLE (69) is
        // sysexits' status for "a support program or file does not exist".
        std::vector<std::string> looked = candidates();
        throw Error(ErrorKind::unavailable, "TLS needs tbucket-tls, which is neither at " +
                                                looked[0] + " nor at " + looked[1] +
                                                "; install it there, or reinstall tbucket");
    }
    std::vector<char*> argv;
    for (std::string& argument : kept()) argv.push_back(argument.data());
    argv.push_back(nullptr);
    execv(program.c_str(), argv.data());
    throw Error(ErrorKind::unavailable,
                "cannot run " + program + " for TLS: " + std::strerror(errno));
}

// Keepers are started by a program with TLS, never this one.
int serve_tls_keeper(int, char**) {
    return exit_usage;
}

}  // namespace tbucket::cli
