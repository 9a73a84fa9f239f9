// spawn_time N CMD [ARGS...] [:: CMD [ARGS...]]...: starts each command N
// times and prints, one line per command, the median and mean wall time per
// run in milliseconds. With several commands the runs alternate (A B C A B
// C ...), so that a machine that speeds up or slows down during the
// measurement moves every figure alike and their ratios stay fair. Used by
// bench/run to compare one-shot commands with the same method.

#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

extern char** environ;

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: spawn_time N CMD [ARGS...] [:: CMD [ARGS...]]...\n");
        return 2;
    }
    int n = std::atoi(argv[1]);
    // Split argv at "::" into null-terminated argument vectors.
    std::vector<char**> commands{argv + 2};
    for (int i = 2; i < argc; ++i) {
        if (std::strcmp(argv[i], "::") == 0) {
            argv[i] = nullptr;
            commands.push_back(argv + i + 1);
        }
    }
    for (char** command : commands) {
        if (command[0] == nullptr) {
            std::fprintf(stderr, "spawn_time: empty command\n");
            return 2;
        }
    }
    std::vector<std::vector<double>> ms(commands.size());
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", 0x1 /* O_WRONLY */, 0);
    for (int i = 0; i < n + 10; ++i) {  // the first 10 rounds warm caches and are not counted
        for (std::size_t c = 0; c < commands.size(); ++c) {
            auto start = std::chrono::steady_clock::now();
            pid_t pid = 0;
            if (posix_spawn(&pid, commands[c][0], &actions, nullptr, commands[c], environ) != 0) {
                std::perror("posix_spawn");
                return 1;
            }
            int status = 0;
            waitpid(pid, &status, 0);
            double took =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count();
            if (i >= 10) ms[c].push_back(took);
        }
    }
    for (auto& runs : ms) {
        std::sort(runs.begin(), runs.end());
        double sum = 0;
        for (double v : runs) sum += v;
        std::printf("%.3f %.3f\n", runs[runs.size() / 2], sum / static_cast<double>(runs.size()));
    }
    return 0;
}
