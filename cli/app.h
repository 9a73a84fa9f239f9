#pragma once

// What every subcommand shares: the global options, the context a command
// runs in, and the options that create a bucket inline.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bucket/bucket.h"
#include "cli11.h"
#include "net/url.h"
#include "output.h"
#include "wait/multi_wait.h"
#include "waiting.h"

namespace tbucket::cli {

struct GlobalOptions {
    std::vector<std::string> url;  // seed URLs; none: TBUCKET_URL, REDIS_URL, then the default
    std::string host, port, db;    // -h, -p, -n as redis-cli: override the URL's parts
    std::string typed_password;    // -a: refused (other users see it), kept to say so
    bool cluster = false;  // -c: accepted for redis-cli habits; redirects are always followed
    std::string prefix;    // empty: TBUCKET_PREFIX, the config files, then tbucket:
    bool json = false;
    bool quiet = false;
    bool verbose = false;  // -v: a change's state line also when stdout is not a terminal
    std::string connect_timeout = "2s";
    std::string io_timeout = "5s";
    std::string password_file;
    bool tls = false;
    bool insecure = false;
    bool no_session_cache = false;  // also TBUCKET_NO_SESSION_CACHE
    std::string tls_keep;           // --tls-keep; empty: TBUCKET_TLS_KEEP, else 2m
    // The command sends a few commands and ends (no wait, watch or child):
    // its TLS connections may go through a keeper (tls_keeper.h).
    bool one_shot = false;
    std::string cacert, cacertdir, cert, key, sni;
    int denied_exit = -1;  // -1: the command's own default
    bool url_from_config = false;
    bool local = false;      // --url local: the user's private server (redis/local_server.h)
    bool fail_open = false;  // set from TBUCKET_FAIL_OPEN or the config files (run's --fail-open)
    // TBUCKET_RESTART_GRACE or the config files' restart_grace: how long a
    // semaphore created on a server that just started without an
    // append-only file is held for holders re-asserting their leases.
    int64_t restart_grace_ms = 12000;
    // --durable[=N], TBUCKET_DURABLE or durable in the config files: every
    // change waits for N replicas (0: off).
    std::string durable;
    int durable_replicas = 0;
    // Where each connection setting came from ("--url", "TBUCKET_URL", a
    // config file's "path:line", "default"), for `tbucket config`.
    std::map<std::string, std::string> from;
    // The words of the command line before any "--", as typed: whether a
    // value came as --wait=3 or as --wait 3 (parse_wait).
    std::vector<std::string> typed;
};

// The options with what flags and the environment left unset filled in
// from the config files, then the defaults (SPEC §14), and `from` set.
GlobalOptions with_config(GlobalOptions given);

// Where the command's output goes and how it reaches Redis. The client is
// made on first use, so a command validates all its input before any
// connection is opened.
class Context {
  public:
    Context(const GlobalOptions& global, Output& out);
    Client& client();
    void close() { client_.reset(); }

    // SIGINT and SIGTERM caught from the first call on, for a command that
    // takes tokens: a signal then never leaves them taken by nobody.
    SignalGuard& catch_signals();
    // The point of no return of a command that took what `taken` says,
    // from one bucket or a list (SPEC §8). Holds signals from here to the
    // exit; one that came before gives the tokens back and ends the command
    // (Error interrupted or terminated), so it either finishes or leaves
    // nothing taken. `lease`: tokens of buckets it leased are held as this
    // lease, and go back by releasing it.
    void commit(const MultiTakeResult& taken, const LeaseSpec* lease = nullptr);
    // The same check without holding signals (run's last look before exec).
    void give_back_if_signalled(const MultiTakeResult& taken, const LeaseSpec* lease = nullptr);
    Output& out;
    const GlobalOptions global;  // with_config applied
    bool named_a_list = false;   // the command was given a bucket list (SPEC §11)
    // The exit status of a denial: -E if given, else the command's default.
    int denied_exit(int fallback) const {
        return global.denied_exit >= 0 ? global.denied_exit : fallback;
    }

  private:
    std::vector<ConnectionOptions> seeds_;
    std::unique_ptr<Client> client_;
    std::unique_ptr<SignalGuard> signals_;
};

// A subcommand: its CLI11 node and what runs when it was chosen.
struct Subcommand {
    CLI::App* app;
    std::function<int(Context&)> run;
};

// --note TEXT on run and lease take: shown by lease list; note_text checks
// it (at most 200 bytes, no control characters).
void add_note_option(CLI::App* command, std::string& note);
std::string note_text(const std::string& note);

// --fail-open on every command that takes (take, watch, lease take, run):
// when Redis is out of reach (exit 69: unavailable, or refusing writes),
// warn and go on as if granted. Also TBUCKET_FAIL_OPEN=1 or fail_open in
// the config files. Not a denial, bad input or a refused AUTH.
void add_fail_open_option(CLI::App* command, bool& fail_open, const std::string& going_on);
bool is_outage(ErrorKind kind);
// Runs `take`; on an outage with fail-open on, warns "Redis unavailable
// (...); <going_on> (--fail-open)" and returns exit_ok.
int failing_open(Context& ctx, bool fail_open, const std::string& going_on,
                 const std::function<int()>& take);

// --capacity / --rate / --expire as typed.
struct SettingsText {
    std::string capacity, rate, expire, window, tz;
};
void add_settings_options(CLI::App* command, SettingsText& text, bool capacity_required);
std::optional<Settings> parse_settings(const SettingsText& text);
// The settings to create `name` with: those typed, else its definition in
// the config files, else none.
std::optional<Settings> settings_for(const std::string& name, const SettingsText& text);

// Global options and environment variables (SPEC §3) into the app. The
// seven TLS options cost a one-shot command a sixth of its instructions to
// set up, so they are added only when `with_tls` (see tls_options_named).
void setup_global(CLI::App& app, GlobalOptions& global, bool with_tls);
// A yes/no environment variable (TBUCKET_JSON, TBUCKET_TLS) as CLI11 reads
// it: nullopt when unset or empty; Error(usage) naming the variable when it
// is neither.
std::optional<bool> env_flag(const char* name);
// Whether the command line or the environment names a TLS option, or asks
// for help (which lists them).
bool tls_options_named(int argc, char** argv);
// Every seed node, in order: --url repeated or comma-separated hosts (or the
// environment), each with the first seed's password, TLS, timeouts and
// database. Throws Error(usage); warns through `out` when a password was
// typed on the command line.
std::vector<ConnectionOptions> resolve_seeds(const GlobalOptions& global, Output& out);

// "no such bucket" with what to do about it (a new user's first command on
// a fresh server meets it), for `command`; any other error as it is.
Error bucket_hint(const Error& error, std::string_view command);

// Bucket names as typed, each a name or a list NAME,NAME,... (no =N):
// info and delete. A name twice across arguments is shown twice.
std::vector<std::string> parse_names(const std::vector<std::string>& args);

// Shows each state (or, with `deleted`, each deletion) and reports each
// error; the exit status is the first error's, else 0.
int show_states(Context& ctx, const std::vector<StateOrError>& results, bool deleted);

// The buckets a taking command was given: NAME [N], or a list NAME[=N],...
// taken all or none (SPEC §11). One bucket is a list of one: the same
// calls, only the words of the output differ (ctx.named_a_list).
struct Target {
    std::vector<NamedCount> list;
    std::optional<Settings> settings;  // one bucket: created with these when missing
};
// Sets ctx.named_a_list; refuses --capacity/--rate/--expire with a list.
Target parse_target(Context& ctx, const std::string& name, const std::string& count,
                    const SettingsText& settings = {});
// Takes what `target` names now or, with wait.wait, in line (the countdown
// on a terminal); SIGINT and SIGTERM are caught from here (ctx.catch_signals()).
// `lease`: buckets without refill hold their tokens as this lease.
MultiWaitResult take_target(Context& ctx, const Target& target, const WaitSpec& wait,
                            TakeMode mode = TakeMode::all, const LeaseSpec* lease = nullptr);
// take, and put, once their input is parsed: what the subcommands run,
// and what the CLI11-free short forms run (main.cpp). `all`: take NAME all
// (mode partial; reports what was there as asked).
int take_now(Context& ctx, const Target& target, TakeMode mode, const WaitSpec& wait = {},
             bool all = false);
int put_now(Context& ctx, const std::string& name, int64_t n, bool force,
            const std::optional<Settings>& settings);

Subcommand setup_create(CLI::App& app);
Subcommand setup_take(CLI::App& app);
Subcommand setup_put(CLI::App& app);
Subcommand setup_info(CLI::App& app);
Subcommand setup_config(CLI::App& app);
Subcommand setup_list(CLI::App& app);
Subcommand setup_top(CLI::App& app);
Subcommand setup_delete(CLI::App& app);
Subcommand setup_reset(CLI::App& app);
Subcommand setup_watch(CLI::App& app);
Subcommand setup_lease(CLI::App& app);
Subcommand setup_doctor(CLI::App& app);
// `command`: what followed "--" on the command line.
Subcommand setup_run(CLI::App& app, const std::vector<std::string>& command);

}  // namespace tbucket::cli
