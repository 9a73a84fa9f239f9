// tbucket-tls: TLS is built in.

#include "exit_codes.h"
#include "net/tls.h"
#include "net/tls_keeper.h"
#include "tls_build.h"

namespace tbucket::cli {

void keep_arguments(int, char**) {}

void prepare_tls() {
    enable_tls();
}

std::string tls_program() {
    return "/proc/self/exe";
}

int serve_tls_keeper(int argc, char** argv) {
    enable_tls();
    return tls_keeper::serve(argc, argv) ? exit_ok : exit_usage;
}

}  // namespace tbucket::cli
