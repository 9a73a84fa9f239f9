// tbucket: distributed token buckets in Redis, from the shell.
// Builds the command line, runs the chosen command, and is the one place
// where errors become messages and exit statuses.

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

#include "app.h"
#include "exit_codes.h"
#include "help.h"
#include "net/tls_keeper.h"
#include "suggest.h"
#include "tls_build.h"
#include "util/parse.h"

namespace tbucket::cli {
namespace {

constexpr const char* examples =
    "Examples:\n"
    "  tbucket take api --capacity 10 --rate 10/min   take a token (the bucket is made on first "
    "use)\n"
    "  tbucket run deploys --wait 5m -- ./deploy.sh   wait up to 5 minutes for a token, then "
    "deploy\n"
    "  tbucket watch jobs 3 --take                    block until 3 tokens are there, and take "
    "them\n"
    "  tbucket info api                               show a bucket's level, rate and refill time\n"
    "  tbucket -h redis1 -p 6380 list                 the buckets on another server (as "
    "redis-cli)\n"
    "\n";

// Hide a password typed in a URL, or after -a (refused, but seen until
// then), from ps(1) and /proc/PID/cmdline.
void scrub_passwords(int argc, char** argv) {
    bool own = true;  // before run's "--"
    for (int i = 1; i < argc; ++i) {
        own = own && std::strcmp(argv[i], "--") != 0;
        if (own && std::strncmp(argv[i], "-a", 2) == 0) {
            char* typed = argv[i][2] ? argv[i] + 2 : i + 1 < argc ? argv[i + 1] : nullptr;
            if (typed) std::memset(typed, '*', std::strlen(typed));
            continue;
        }
        char* scheme = std::strstr(argv[i], "://");
        if (!scheme) continue;
        char* start = scheme + 3;
        char* at = std::strrchr(start, '@');
        if (!at) continue;
        char* colon =
            static_cast<char*>(std::memchr(start, ':', static_cast<std::size_t>(at - start)));
        if (colon) std::memset(colon + 1, '*', static_cast<std::size_t>(at - colon - 1));
    }
}

bool wants_json(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--json") == 0) return true;
    }
    // As CLI11 reads TBUCKET_JSON for --json, so that errors agree with results.
    try {
        return env_flag("TBUCKET_JSON").value_or(false);
    } catch (const Error&) {
        return false;  // reported in text by check_env_flags
    }
}

// The yes/no variables CLI11 reads for flags, checked first so that a bad
// one is named, not the option it stands for.
std::optional<int> check_env_flags(int argc, char** argv) {
    try {
        for (const char* name : {"TBUCKET_JSON", "TBUCKET_TLS"}) env_flag(name);
    } catch (const Error& e) {
        Output(wants_json(argc, argv), false).error(e, exit_usage);
        return exit_usage;
    }
    return std::nullopt;
}

// An option given with an empty value (--tokens "") is a mistake, never
// "not given": refused for every option of the app and its subcommands.
// (--wait alone has no value at all, and is fine: to CLI11, --wait "" is
// the same as --wait, so that one waits without limit.)
// An option's name as the command line has it (watch --timeout is --wait).
std::string typed_name(const CLI::Option& option, int argc, char** argv) {
    for (const std::string& name : option.get_lnames()) {
        std::string flag = "--" + name;
        for (int i = 1; i < argc; ++i) {
            std::string_view arg = argv[i];
            if (arg == flag || arg.rfind(flag + "=", 0) == 0) return flag;
        }
    }
    return option.get_name();
}

void refuse_empty_values(const CLI::App& app, int argc, char** argv) {
    for (const CLI::Option* option : app.get_options()) {
        // --wait[=D] may come without a value; CLI11 shows that as "" too.
        if (option->get_positional() || option->count() == 0 || option->get_expected_min() == 0)
            continue;
        for (const std::string& value : option->results()) {
            if (value.empty()) {
                throw Error(ErrorKind::usage,
                            typed_name(*option, argc, argv) + " needs a value; it was given empty");
            }
        }
    }
    for (const CLI::App* sub : app.get_subcommands()) refuse_empty_values(*sub, argc, argv);
}

// The subcommands, in the order --help lists them: one row each.
using Setup = Subcommand (*)(CLI::App&, const std::vector<std::string>&);
constexpr struct {
    const char* name;
    Setup setup;
} command_table[] = {
    {"create", [](CLI::App& a, const std::vector<std::string>&) { return setup_create(a); }},
    {"take", [](CLI::App& a, const std::vector<std::string>&) { return setup_take(a); }},
    {"put", [](CLI::App& a, const std::vector<std::string>&) { return setup_put(a); }},
    {"watch", [](CLI::App& a, const std::vector<std::string>&) { return setup_watch(a); }},
    {"run",
     [](CLI::App& a, const std::vector<std::string>& command) { return setup_run(a, command); }},
    {"info", [](CLI::App& a, const std::vector<std::string>&) { return setup_info(a); }},
    {"list", [](CLI::App& a, const std::vector<std::string>&) { return setup_list(a); }},
    {"top", [](CLI::App& a, const std::vector<std::string>&) { return setup_top(a); }},
    {"reset", [](CLI::App& a, const std::vector<std::string>&) { return setup_reset(a); }},
    {"delete", [](CLI::App& a, const std::vector<std::string>&) { return setup_delete(a); }},
    {"lease", [](CLI::App& a, const std::vector<std::string>&) { return setup_lease(a); }},
    {"doctor", [](CLI::App& a, const std::vector<std::string>&) { return setup_doctor(a); }},
    {"config", [](CLI::App& a, const std::vector<std::string>&) { return setup_config(a); }},
};

// A global option that takes the next word as its value (--url URL).
bool takes_value(const CLI::App& app, std::string_view arg) {
    if (arg.size() < 2 || arg[0] != '-' || arg.find('=') != std::string_view::npos) return false;
    const CLI::Option* option = app.get_option_no_throw(std::string(arg));
    return option && option->get_expected_min() > 0;
}

// The subcommand named on the command line, or "" when help is asked
// before it or none is named. Setting up CLI11 for one subcommand instead of
// all of them is most of a one-shot command's start-up work.
std::string_view chosen_command(const CLI::App& app, int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help") return "";
        if (takes_value(app, arg)) {
            ++i;
            continue;
        }
        if (!arg.empty() && arg[0] == '-') continue;
        for (const auto& row : command_table) {
            if (arg == row.name) return arg;
        }
        return "";
    }
    return "";
}

std::vector<Subcommand> setup_commands(CLI::App& app, std::string_view chosen,
                                       const std::vector<std::string>& command) {
    std::vector<Subcommand> commands;
    for (const auto& row : command_table) {
        if (chosen.empty() || chosen == row.name) commands.push_back(row.setup(app, command));
    }
    return commands;
}

// The first word that is neither an option nor an option's value.
std::string_view first_word(const CLI::App& app, int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (takes_value(app, arg)) {
            ++i;
        } else if (arg.empty() || arg[0] != '-') {
            return arg;
        }
    }
    return "";
}

// The one place where errors become messages and exit statuses. What
// `body` printed is flushed here, not in exit(), which would drop a write
// error.
template <typename Body>
int guarded(Output& out, const Body& body) {
    try {
        int code = body();
        out.flush();
        return code;
    } catch (const Error& e) {
        int code = exit_code(e.kind());
        out.error(e, code);
        note_ending_signal(e);
        return code;
    } catch (const std::exception& e) {
        Error internal(ErrorKind::internal, std::string("internal error: ") + e.what());
        out.error(internal, exit_code(ErrorKind::internal));
        return exit_code(ErrorKind::internal);
    }
}

// Whether the command line, --help or --version aside, would have done
// something: a command given its arguments, or a command after --.
bool would_act(const CLI::App& app, bool command_after_dashes) {
    if (command_after_dashes) return true;
    for (const CLI::App* chosen : app.get_subcommands()) {
        for (const CLI::Option* option : chosen->get_options()) {
            if (option->get_positional() && option->count() > 0) return true;
        }
    }
    return false;
}

// --help and --version print and exit 0 only when nothing else was asked
// for. `tbucket take api --help && job` prints the help too, but exits 2:
// a status of 0 would run the job as if the token had been taken.
int help_or_version(CLI::App& app, const CLI::ParseError& e, bool json, bool command_after_dashes) {
    Output out(json, false);
    int printed = guarded(out, [&] { return app.exit(e); });  // into /dev/full: 74
    if (!would_act(app, command_after_dashes)) return printed;
    std::string flag = e.get_name() == "CallForVersion" ? "--version" : "--help";
    Output(json, false)
        .error(Error(ErrorKind::usage,
                     flag + " was given, so the command was not run; drop " + flag + " to run it"),
               exit_usage);
    return exit_usage;
}

std::vector<std::string> command_names() {
    std::vector<std::string> names;
    for (const auto& row : command_table) names.emplace_back(row.name);
    return names;
}

// For words CLI11 could not place: an unknown option, with the nearest
// known one, or run's command without its "--". "" leaves CLI11's message.
std::string not_expected(const CLI::App& app, bool command_after_dashes) {
    std::vector<std::string> extra = app.remaining(true);
    std::vector<CLI::App*> chosen = app.get_subcommands();
    const CLI::App& where = chosen.empty() ? app : *chosen.front();
    std::string help =
        chosen.empty() ? "tbucket --help" : "tbucket " + where.get_name() + " --help";
    for (const std::string& word : extra) {
        if (word.size() < 2 || word[0] != '-') continue;
        std::string option = word.substr(0, word.find('='));
        return "unknown option " + option + did_you_mean(option, option_names(where)) + " (see " +
               help + ")";
    }
    if (where.get_name() == "run" && !command_after_dashes) {
        std::string line = run_with_dashes(where, extra);
        if (!line.empty()) return "put the command after --: " + line;
    }
    return "";
}

// An option of a command written before the command's name
// (`tbucket --lease 3s run …`): which command it belongs to, said plainly.
std::string misplaced(const CLI::App& app, int argc, char** argv) {
    std::vector<std::string> commands = command_names();
    std::string command;
    for (int i = 1; i < argc && command.empty(); ++i) {
        if (std::find(commands.begin(), commands.end(), argv[i]) != commands.end())
            command = argv[i];
    }
    for (int i = 1; i < argc && argv[i] != command; ++i) {
        std::string word = argv[i];
        if (word.size() < 2 || word[0] != '-' || word == "--") continue;
        std::string option = word.substr(0, word.find('='));
        if (app.get_option_no_throw(option)) continue;  // a global option
        std::vector<std::string> owners;
        auto all = [](const CLI::App*) { return true; };
        for (const CLI::App* sub : app.get_subcommands(all)) {
            if (sub->get_option_no_throw(option)) owners.push_back(sub->get_name());
            for (const CLI::App* under : sub->get_subcommands(all)) {  // lease take, ...
                if (under->get_option_no_throw(option))
                    owners.push_back(sub->get_name() + " " + under->get_name());
            }
        }
        if (owners.empty()) continue;
        std::string owner = owners.front();
        for (const std::string& o : owners) {
            if (!command.empty() && o.rfind(command, 0) == 0) {
                owner = o;
                break;
            }
        }
        return option + " is an option of '" + owner + "': put it after '" + owner + "'";
    }
    return "";
}

int parse_failed(CLI::App& app, const CLI::ParseError& e, bool json, int argc, char** argv,
                 bool command_after_dashes) {
    if (e.get_exit_code() == 0) return help_or_version(app, e, json, command_after_dashes);
    std::string message = std::string(e.what()) + " (see tbucket --help)";
    std::string_view word = first_word(app, argc, argv);
    if (std::string hint = misplaced(app, argc, argv); !hint.empty()) {
        message = hint;
    } else if (chosen_command(app, argc, argv).empty() && !word.empty()) {
        message = "unknown command '" + std::string(word) + "'" +
                  did_you_mean(word, command_names()) + " (see tbucket --help)";
    } else if (std::string hint = not_expected(app, command_after_dashes); !hint.empty()) {
        message = hint;
    }
    Output out(json, false);
    out.error(Error(ErrorKind::usage, message), exit_usage);
    return exit_usage;
}

// Whether the chosen command sends a few commands and ends: no wait, watch,
// view or child. Its TLS connections may then go through a keeper
// (tls_keeper.h); the others connect by themselves.
bool one_shot(const std::vector<Subcommand>& commands) {
    constexpr std::string_view quick[] = {"create", "take",  "put",    "info",
                                          "list",   "reset", "delete", "lease"};
    for (const Subcommand& chosen : commands) {
        if (!chosen.app->parsed()) continue;
        if (std::find(std::begin(quick), std::end(quick), chosen.app->get_name()) ==
            std::end(quick))
            return false;
        for (const CLI::App* app = chosen.app; app;) {
            const CLI::Option* wait = app->get_option_no_throw("--wait");
            if (wait && wait->count() > 0) return false;
            std::vector<CLI::App*> under = app->get_subcommands();
            app = under.empty() ? nullptr : under.front();
        }
        return true;
    }
    return false;
}

// Runs a command in its context.
template <typename Body>
int run_in_context(const GlobalOptions& global, Output& out, const Body& body) {
    return guarded(out, [&] {
        Context context(global, out);
        return body(context);
    });
}

template <typename Body>
int with_bucket_hint(std::string_view command, const Body& body, const Context& ctx) {
    try {
        return body();
    } catch (const Error& e) {
        // A bucket list cannot be created inline: no "add --capacity here".
        throw bucket_hint(e, ctx.named_a_list ? "list" : command);
    }
}

bool is_digits(std::string_view text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// `[-u URL] take|put NAME [N]`, the form of most one-shot commands, when no
// environment variable sets an option: run without CLI11, whose setup is
// most of what such a command costs (bench/README.md). Anything else, or
// anything unusual (a name that looks like an option, a count that is not
// digits), goes to CLI11: nullopt.
std::optional<int> run_short_form(int argc, char** argv) {
    if (std::getenv("TBUCKET_JSON") || std::getenv("TBUCKET_PREFIX") ||
        tls_options_named(argc, argv)) {
        return std::nullopt;
    }
    GlobalOptions global;
    int i = 1;
    if (i + 1 < argc && (std::strcmp(argv[i], "-u") == 0 || std::strcmp(argv[i], "--url") == 0)) {
        global.url.emplace_back(argv[i + 1]);
        i += 2;
    } else if (i < argc && std::strncmp(argv[i], "--url=", 6) == 0) {
        global.url.emplace_back(argv[i] + 6);
        i += 1;
    }
    if (i > 1 && (global.url[0].empty() || global.url[0][0] == '-')) return std::nullopt;
    if (argc - i < 2 || argc - i > 3) return std::nullopt;
    std::string_view verb = argv[i];
    std::string name_text = argv[i + 1];
    std::string count_text = i + 2 < argc ? argv[i + 2] : "1";
    if ((verb != "take" && verb != "put") || name_text.empty() || name_text[0] == '-' ||
        !is_digits(count_text)) {
        return std::nullopt;
    }
    scrub_passwords(argc, argv);
    Output out(false, false);
    global.one_shot = true;
    return run_in_context(global, out, [&](Context& ctx) {
        if (verb == "take") {
            Target target = parse_target(ctx, name_text, count_text);
            // TBUCKET_FAIL_OPEN=1 or fail_open in the config files.
            return with_bucket_hint(
                verb,
                [&] {
                    return failing_open(ctx, false, "going on as if granted",
                                        [&] { return take_now(ctx, target, TakeMode::all); });
                },
                ctx);
        }
        std::string name = parse_name(name_text);
        int64_t n = parse_count("count", count_text);
        return with_bucket_hint(
            verb, [&] { return put_now(ctx, name, n, false, settings_for(name, {})); }, ctx);
    });
}

int run(int argc, char** argv) {
    keep_arguments(argc, argv);
    // `tbucket help [COMMAND]` is `tbucket [COMMAND] --help`.
    if (argc >= 2 && std::strcmp(argv[1], "help") == 0) {
        std::vector<char*> asked{argv[0]};
        for (int i = 2; i < argc; ++i) asked.push_back(argv[i]);
        static char help_flag[] = "--help";
        asked.push_back(help_flag);
        asked.push_back(nullptr);
        return run(static_cast<int>(asked.size()) - 1, asked.data());
    }
    if (std::optional<int> done = run_short_form(argc, argv)) return *done;
    static std::ios_base::Init streams;  // CLI11 prints through them (see cli11.h)
    CLI::App app{"tbucket: distributed token buckets in Redis, from the shell", "tbucket"};
    constexpr BuildInfo build{TBUCKET_VERSION, TBUCKET_COMMIT, TBUCKET_BUILD};
    app.set_version_flag("-V,--version", version_text(build, wants_json(argc, argv)));
    app.formatter(std::make_shared<HelpFormatter>());
    app.footer(exit_status_footer());  // each command's --help ends with this
    app.require_subcommand(1);
    app.fallthrough();
    GlobalOptions global;
    setup_global(app, global, tls_options_named(argc, argv));
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
    std::vector<Subcommand> commands = setup_commands(app, chosen_command(app, own, argv), command);
    app.footer(std::string(examples) +
               exit_status_footer());  // tbucket --help's own, after the commands copied it
    if (std::optional<int> refused = check_env_flags(argc, argv)) return *refused;
    if (argc == 1) {
        // `tbucket` alone: what it can do, where errors go, and exit 2.
        std::fputs(app.help().c_str(), stderr);
        return exit_usage;
    }
    try {
        app.parse(own, argv);
    } catch (const CLI::ParseError& e) {
        return parse_failed(app, e, wants_json(argc, argv), own, argv, own < argc);
    }
    scrub_passwords(argc, argv);
    try {
        refuse_empty_values(app, own, argv);
    } catch (const Error& e) {
        Output(global.json, false).error(e, exit_usage);
        return exit_usage;
    }
    Output out(global.json, global.quiet, global.verbose);
    global.one_shot = one_shot(commands);
    global.typed.assign(argv + 1, argv + own);
    return run_in_context(global, out, [&](Context& context) {
        for (const Subcommand& chosen : commands) {
            if (!chosen.app->parsed()) continue;
            if (own < argc && chosen.app->get_name() != "run") {
                throw Error(ErrorKind::usage, "only run takes a command after --");
            }
            return with_bucket_hint(
                chosen.app->get_name(), [&] { return chosen.run(context); }, context);
        }
        throw Error(ErrorKind::internal, "no command was chosen");
    });
}

}  // namespace
}  // namespace tbucket::cli

int main(int argc, char** argv) {
    if (argc > 1 && std::strcmp(argv[1], tbucket::tls_keeper::argv_flag) == 0) {
        int code = tbucket::cli::serve_tls_keeper(argc - 2, argv + 2);
        if (code != tbucket::cli::exit_ok) {
            tbucket::Error typed(
                tbucket::ErrorKind::usage,
                std::string(tbucket::tls_keeper::argv_flag) +
                    " is how tbucket starts its TLS keeper, not an option to type");
            tbucket::cli::Output(false, false).error(typed, code);
        }
        return code;
    }
    std::signal(SIGPIPE, SIG_IGN);  // a closed socket is an error to report, not a death
    int code = tbucket::cli::run(argc, argv);
    tbucket::cli::die_by_ending_signal();
    return code;
}
