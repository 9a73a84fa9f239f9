// spawn_time N CMD [ARGS...]: starts the command N times, one after the
// other, and prints the median and mean wall time per run in milliseconds.
// Used by bench/run to compare one-shot commands with the same method.

#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

extern char** environ;

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: spawn_time N CMD [ARGS...]\n");
        return 2;
    }
    int n = std::atoi(argv[1]);
    std::vector<double> ms;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", 0x1 /* O_WRONLY */, 0);
    for (int i = 0; i < n + 10; ++i) {  // the first 10 warm caches and are not counted
        auto start = std::chrono::steady_clock::now();
        pid_t pid = 0;
        if (posix_spawn(&pid, argv[2], &actions, nullptr, argv + 2, environ) != 0) {
            std::perror("posix_spawn");
            return 1;
        }
        int status = 0;
        waitpid(pid, &status, 0);
        double took = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        if (i >= 10) ms.push_back(took);
    }
    std::sort(ms.begin(), ms.end());
    double sum = 0;
    for (double v : ms) sum += v;
    std::printf("%.3f %.3f\n", ms[ms.size() / 2], sum / static_cast<double>(ms.size()));
    return 0;
}
