// tbucket: distributed token buckets in Redis, from the shell.
// Builds the command line, runs the chosen command, and is the one place
// where errors become messages and exit statuses.

#include <csignal>
#include <algorithm>
#include <cstring>

#include "app.h"
#include "exit_codes.h"

namespace tbucket::cli {
namespace {

constexpr const char* footer =
    "Exit status: 0 done, 1 denied (take), 75 denied (run), 2 usage, 3 no such bucket,\n"
    "4 other settings, 5 impossible, 65 not a bucket, 69 Redis unavailable, 77 refused,\n"
    "70 internal error, 124 timed out, 130/143 interrupted. See tbucket(1).";

// Hide a password typed in a URL from ps(1) and /proc/PID/cmdline.
void scrub_passwords(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        char* scheme = std::strstr(argv[i], "://");
        if (!scheme) continue;
        char* start = scheme + 3;
        char* at = std::strrchr(start, '@');
        if (!at) continue;
        char* colon = static_cast<char*>(std::memchr(start, ':', static_cast<std::size_t>(at - start)));
        if (colon) std::memset(colon + 1, '*', static_cast<std::size_t>(at - colon - 1));
    }
}

bool wants_json(int argc, char** argv) {
    const char* env = std::getenv("TBUCKET_JSON");
    if (env && std::strcmp(env, "1") == 0) return true;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--json") == 0) return true;
    }
    return false;
}

int parse_failed(CLI::App& app, const CLI::ParseError& e, bool json) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    Output out(json, false);
    out.error(Error(ErrorKind::usage, std::string(e.what()) + " (see tbucket --help)"), exit_usage);
    return exit_usage;
}

int run(int argc, char** argv) {
    CLI::App app{"tbucket: distributed token buckets in Redis, from the shell", "tbucket"};
    app.set_version_flag("-V,--version", "tbucket " TBUCKET_VERSION);
    app.footer(footer);
    app.require_subcommand(1);
    app.fallthrough();
    GlobalOptions global;
    setup_global(app, global);
    // Everything after the first "--" is run's command, kept from CLI11 so
    // that its words are never taken for run's own arguments.
    int own = argc;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0) {
            own = i;
            break;
        }
    }
    std::vector<std::string> command(argv + std::min(own + 1, argc), argv + argc);
    std::vector<Subcommand> commands = {setup_create(app), setup_take(app),   setup_put(app),
                                        setup_info(app),   setup_list(app),   setup_delete(app),
                                        setup_reset(app),  setup_watch(app),  setup_run(app, command)};
    try {
        app.parse(own, argv);
    } catch (const CLI::ParseError& e) {
        return parse_failed(app, e, wants_json(argc, argv));
    }
    scrub_passwords(argc, argv);
    Output out(global.json, global.quiet);
    try {
        Context context(global, out);
        for (const Subcommand& chosen : commands) {
            if (!chosen.app->parsed()) continue;
            if (own < argc && chosen.app->get_name() != "run") {
                throw Error(ErrorKind::usage, "only run takes a command after --");
            }
            return chosen.run(context);
        }
        throw Error(ErrorKind::internal, "no command was chosen");
    } catch (const Error& e) {
        int code = exit_code(e.kind());
        out.error(e, code);
        return code;
    } catch (const std::exception& e) {
        Error internal(ErrorKind::internal, std::string("internal error: ") + e.what());
        out.error(internal, exit_code(ErrorKind::internal));
        return exit_code(ErrorKind::internal);
    }
}

}  // namespace
}  // namespace tbucket::cli

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);  // a closed socket is an error to report, not a death
    return tbucket::cli::run(argc, argv);
}
