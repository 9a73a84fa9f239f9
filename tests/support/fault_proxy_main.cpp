// tbucket_fault_proxy TARGET_PORT [--drop-nth N] [--cut-nth N]
//     [--delay-nth N MS] [--commands EVALSHA,EVAL]
// A FaultProxy in a process of its own, to reproduce a fault by hand:
// prints its port as one line, then forwards to 127.0.0.1:TARGET_PORT
// until SIGTERM or SIGINT.

#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "support/fault_proxy.h"

namespace {

using tbucket::test::FaultProxy;

struct Rule {
    int nth;
    FaultProxy::Fault fault;
    int delay_ms = 0;
};

int number(const char* text) {
    char* end = nullptr;
    long n = std::strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || n < 1 || n > 1000000000) {
        throw std::invalid_argument(std::string("not a positive number: ") + text);
    }
    return static_cast<int>(n);
}

std::vector<std::string> split(const std::string& list) {
    std::vector<std::string> names;
    std::stringstream in(list);
    for (std::string name; std::getline(in, name, ',');) {
        if (!name.empty()) names.push_back(name);
    }
    return names;
}

int usage() {
    std::cerr << "usage: tbucket_fault_proxy TARGET_PORT [--drop-nth N] [--cut-nth N] "
                 "[--delay-nth N MS] [--commands EVALSHA,EVAL]\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage();
    std::vector<std::string> commands{"EVALSHA", "EVAL"};
    std::vector<Rule> rules;
    int target = 0;
    try {
        target = number(argv[1]);
        for (int i = 2; i < argc; ++i) {
            std::string option = argv[i];
            bool has_value = i + 1 < argc;
            if (option == "--drop-nth" && has_value) {
                rules.push_back({number(argv[++i]), FaultProxy::Fault::drop_reply});
            } else if (option == "--cut-nth" && has_value) {
                rules.push_back({number(argv[++i]), FaultProxy::Fault::cut_before_reply});
            } else if (option == "--delay-nth" && i + 2 < argc) {
                int nth = number(argv[++i]);
                rules.push_back({nth, FaultProxy::Fault::delay_reply, number(argv[++i])});
            } else if (option == "--commands" && has_value) {
                commands = split(argv[++i]);
            } else {
                return usage();
            }
        }
    } catch (const std::invalid_argument& e) {
        std::cerr << "tbucket_fault_proxy: error: " << e.what() << "\n";
        return usage();
    }
    // Blocked before the proxy's thread starts, so only sigwait sees them.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    FaultProxy proxy(target);
    for (const Rule& rule : rules) proxy.fault_nth(commands, rule.nth, rule.fault, rule.delay_ms);
    std::cout << proxy.port() << std::endl;
    int received = 0;
    sigwait(&stop, &received);
    std::cerr << "tbucket_fault_proxy: " << proxy.faults_applied() << " faults applied\n";
    return 0;
}
