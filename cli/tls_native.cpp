// tbucket-tls: TLS is built in.

#include "tls.h"
#include "tls_build.h"

namespace tbucket::cli {

void keep_arguments(int, char**) {}

void prepare_tls() {
    enable_tls();
}

}  // namespace tbucket::cli
