#include "app.h"

#include <signal.h>

#include <cstdlib>
#include <fstream>

#include "bucket/lease.h"
#include "config.h"
#include "net/local_server.h"
#include "net/tls_keeper.h"
#include "tls_build.h"
#include "util/error.h"
#include "util/parse.h"
#include "util/zone.h"

namespace tbucket::cli {
namespace {

const char* env(const char* name) {
    const char* value = std::getenv(name);
    return value && *value ? value : nullptr;
}

std::string read_password_file(const std::string& path) {
    std::ifstream file(path);
    std::string line;
    if (!file || !std::getline(file, line)) {
        throw Error(ErrorKind::usage, "cannot read a password from --password-file '" + path + "'");
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

void check_prefix(const std::string& prefix) {
    if (prefix.size() > 200) throw Error(ErrorKind::usage, "--prefix is longer than 200 bytes");
    for (unsigned char c : prefix) {
        if (c <= 0x20 || c >= 0x7f || c == '{' || c == '}') {
            throw Error(ErrorKind::usage,
                        "--prefix may not contain braces, spaces or control characters");
        }
    }
}

void add_tls_options(CLI::App& app, GlobalOptions& g) {
    const char* group = "TLS (also rediss:// URLs)";
    app.add_flag("--tls", g.tls, "connect with TLS (as rediss:// does)")
        ->envname("TBUCKET_TLS")
        ->group(group);
    const struct {
        const char* name;
        std::string GlobalOptions::*value;
        const char* type;
        const char* env;
        const char* help;
    } files[] = {
        {"--cacert", &GlobalOptions::cacert, "FILE", "TBUCKET_CACERT",
         "trust the CAs in this PEM file (default: the system's)"},
        {"--cacertdir", &GlobalOptions::cacertdir, "DIR", "TBUCKET_CACERTDIR",
         "trust the CAs in this hashed directory"},
        {"--cert", &GlobalOptions::cert, "FILE", "TBUCKET_CERT",
         "client certificate, PEM (mutual TLS)"},
        {"--key", &GlobalOptions::key, "FILE", "TBUCKET_KEY", "private key of --cert, PEM"},
        {"--sni", &GlobalOptions::sni, "NAME", "TBUCKET_SNI",
         "server name to send and to check the certificate against"},
    };
    for (const auto& f : files) {
        app.add_option(f.name, g.*f.value, f.help)->type_name(f.type)->envname(f.env)->group(group);
    }
    app.add_flag("--insecure", g.insecure, "do not verify the server's certificate (warns)")
        ->group(group);
    // TBUCKET_NO_SESSION_CACHE is read in resolve_tls: as an envname here it
    // would set up these options (and cost their start-up) for every command.
    app.add_flag("--no-session-cache", g.no_session_cache,
                 "no TLS session resumption from, or to, the user's cache (env "
                 "TBUCKET_NO_SESSION_CACHE)")
        ->group(group);
    // TBUCKET_TLS_KEEP too is read in resolve_tls.
    app.add_option("--tls-keep", g.tls_keep,
                   "keep a verified TLS connection ready in the background this long after the "
                   "last command, so that the next one-shot command skips the handshake "
                   "(default 2m, 0 never, at most 1h; env TBUCKET_TLS_KEEP)")
        ->type_name("DURATION")
        ->group(group);
}

// Where TLS sessions are kept between one-shot commands: per user, in
// $XDG_RUNTIME_DIR (a private tmpfs that ends with the login) or else the
// user's cache directory. Empty (no cache) when neither is known.
std::string session_cache_dir() {
    const char* runtime = env("XDG_RUNTIME_DIR");
    if (runtime && runtime[0] == '/') return std::string(runtime) + "/tbucket";
    const char* cache = env("XDG_CACHE_HOME");
    if (cache && cache[0] == '/') return std::string(cache) + "/tbucket";
    const char* home = env("HOME");
    if (home && home[0] == '/') return std::string(home) + "/.cache/tbucket";
    return "";
}

// --tls-keep, else TBUCKET_TLS_KEEP, else 2 minutes: long enough to join
// the calls of a script or a cron job run every minute.
int64_t keep_ms(const GlobalOptions& g) {
    const char* from_env = env("TBUCKET_TLS_KEEP");
    bool by_env = g.tls_keep.empty() && from_env && *from_env;
    const char* what = by_env ? "TBUCKET_TLS_KEEP" : "--tls-keep";
    int64_t ms = parse_duration_ms(what, by_env               ? from_env
                                         : g.tls_keep.empty() ? "2m"
                                                              : g.tls_keep);
    if (ms > 3'600'000) throw Error(ErrorKind::usage, std::string(what) + " must be at most 1h");
    return ms;
}

// The TLS settings, checked; warns of nothing (see resolve_seeds).
TlsOptions resolve_tls(const GlobalOptions& g, bool from_url) {
    TlsOptions tls;
    tls.enabled = from_url || g.tls;
    bool any = !g.cacert.empty() || !g.cacertdir.empty() || !g.cert.empty() || !g.key.empty() ||
               !g.sni.empty() || g.insecure;
    if (!tls.enabled) {
        if (any) throw Error(ErrorKind::usage, "TLS options need --tls or a rediss:// URL");
        return tls;
    }
    if (g.cert.empty() != g.key.empty())
        throw Error(ErrorKind::usage, "--cert and --key go together");
    tls.ca_file = g.cacert;
    tls.ca_dir = g.cacertdir;
    tls.cert_file = g.cert;
    tls.key_file = g.key;
    tls.server_name = g.sni;
    tls.verify = !g.insecure;
    tls.keep_ms = keep_ms(g);
    if (tls.verify && !g.no_session_cache && !env_flag("TBUCKET_NO_SESSION_CACHE").value_or(false))
        tls.session_cache_dir = session_cache_dir();
    tls.use_keeper = g.one_shot;
    return tls;
}

// The seeds as typed (no password or timeouts from elsewhere yet).
std::vector<ConnectionOptions> seed_urls(const GlobalOptions& g) {
    std::vector<std::string> urls = g.url;
    if (urls.empty()) {
        const char* from_env = env("TBUCKET_URL") ? env("TBUCKET_URL") : env("REDIS_URL");
        urls.emplace_back(from_env ? from_env : default_url);
    }
    std::vector<ConnectionOptions> seeds;
    for (const std::string& url : urls) {
        for (ConnectionOptions& seed : parse_seeds(url)) seeds.push_back(std::move(seed));
    }
    if ((!g.host.empty() || !g.port.empty()) && seeds.size() > 1) {
        throw Error(ErrorKind::usage, "-h and -p name one server, but the URL names " +
                                          std::to_string(seeds.size()) + " seed nodes");
    }
    for (ConnectionOptions& seed : seeds) override_address(seed, g.host, g.port, g.db);
    return seeds;
}

[[noreturn]] void throw_signal_error(int sig, const std::string& what) {
    throw signal_error(sig, "; " + what);
}

}  // namespace

GlobalOptions with_config(GlobalOptions g) {
    const Config& file = config();
    auto from_file = [&file, &g](const std::string& key, std::string& field) {
        const FileValue* v = file.value(key);
        if (!field.empty() || !v) return;
        field = v->value;
        g.from[key] = v->from;
    };
    auto flag_from_file = [&file, &g](const std::string& key, bool& field) {
        const FileValue* v = file.value(key);
        if (field || !v) return;
        field = v->value == "true";
        g.from[key] = v->from;
    };
    if (!g.url.empty()) {
        g.from["url"] = "--url";
    } else if (env("TBUCKET_URL") || env("REDIS_URL")) {
        g.from["url"] = env("TBUCKET_URL") ? "TBUCKET_URL" : "REDIS_URL";
    } else if (const FileValue* v = file.value("url")) {
        g.url_from_config = true;
        g.url.push_back(v->value);
        g.from["url"] = v->from;
    }
    if (!g.prefix.empty())
        g.from["prefix"] = env("TBUCKET_PREFIX") ? "TBUCKET_PREFIX or --prefix" : "--prefix";
    from_file("prefix", g.prefix);
    if (g.prefix.empty()) g.prefix = "tbucket:";
    if (!g.password_file.empty()) g.from["password_file"] = "--password-file";
    if (!env("TBUCKET_PASSWORD") && !env("REDISCLI_AUTH"))
        from_file("password_file", g.password_file);
    flag_from_file("tls", g.tls);
    for (const char* key : {"cacert", "cacertdir", "cert", "key", "sni"}) {
        std::string& field = key == std::string("cacert")      ? g.cacert
                             : key == std::string("cacertdir") ? g.cacertdir
                             : key == std::string("cert")      ? g.cert
                             : key == std::string("key")       ? g.key
                                                               : g.sni;
        from_file(key, field);
    }
    flag_from_file("insecure", g.insecure);
    // --url local (or TBUCKET_URL=local, url = "local"): the user's private
    // server on its socket, started by client() when none answers.
    if (g.url.empty()) {
        const char* from_env = env("TBUCKET_URL") ? env("TBUCKET_URL") : env("REDIS_URL");
        if (from_env && std::string(from_env) == "local") g.url.emplace_back("local");
    }
    if (g.url.size() == 1 && g.url.front() == "local") {
        g.local = true;
        g.url.front() = "unix://" + local_paths().socket();
    }
    if (std::optional<bool> open = env_flag("TBUCKET_FAIL_OPEN")) {
        g.fail_open = *open;
        g.from["fail_open"] = "TBUCKET_FAIL_OPEN";
    } else {
        flag_from_file("fail_open", g.fail_open);
    }
    // --durable, else TBUCKET_DURABLE, else the config files; 0 is off.
    std::string durable = g.durable;
    std::string durable_from = "--durable";
    if (durable.empty() && env("TBUCKET_DURABLE")) {
        durable = env("TBUCKET_DURABLE");
        durable_from = "TBUCKET_DURABLE";
    } else if (const FileValue* v = file.value("durable"); durable.empty() && v) {
        durable = v->value;
        durable_from = v->from;
    }
    if (!durable.empty()) {
        if (durable.size() > 2 || durable.find_first_not_of("0123456789") != std::string::npos) {
            Error bad(ErrorKind::usage, durable_from +
                                            " must be a number of replicas, 0..99, not '" +
                                            printable(durable) + "'");
            if (durable_from != "--durable" && durable_from != "TBUCKET_DURABLE")
                throw Error(ErrorKind::config, bad.what());
            throw bad;
        }
        g.durable_replicas = std::stoi(durable);
        g.from["durable"] = durable_from;
    }
    // A third of the default 30 s lease (a holder renews every third of its
    // lease, and so re-asserts within one), and 2 s to reconnect.
    std::string grace;
    if (const char* set = env("TBUCKET_RESTART_GRACE")) {
        grace = set;
        g.from["restart_grace"] = "TBUCKET_RESTART_GRACE";
        g.restart_grace_ms = parse_exact_duration_ms("TBUCKET_RESTART_GRACE", grace);
    } else if (const FileValue* v = file.value("restart_grace")) {
        g.from["restart_grace"] = v->from;
        try {
            g.restart_grace_ms = parse_exact_duration_ms("restart_grace", v->value);
        } catch (const Error& e) {
            throw Error(ErrorKind::config, v->from + ": " + e.what());
        }
    }
    return g;
}

void add_fail_open_option(CLI::App* command, bool& fail_open, const std::string& going_on) {
    command->add_flag(
        "--fail-open", fail_open,
        "Redis unavailable (exit 69): warn and " + going_on + " (env TBUCKET_FAIL_OPEN=1)");
}

bool is_outage(ErrorKind kind) {
    return kind == ErrorKind::unavailable || kind == ErrorKind::unwritable;
}

int failing_open(Context& ctx, bool fail_open, const std::string& going_on,
                 const std::function<int()>& take) {
    try {
        return take();
    } catch (const Error& e) {
        if (!(fail_open || ctx.global.fail_open) || !is_outage(e.kind())) throw;
        ctx.out.warning("Redis unavailable (" + std::string(e.what()) + "); " + going_on +
                        " (--fail-open)");
        return exit_ok;
    }
}

void add_note_option(CLI::App* command, std::string& note) {
    command->add_option("--note", note, "a few words on who holds the lease, shown by lease list")
        ->type_name("TEXT");
}

std::string note_text(const std::string& note) {
    if (note.size() > 200) throw Error(ErrorKind::usage, "--note is longer than 200 bytes");
    for (unsigned char c : note) {
        if (c < 0x20 || c == 0x7f)
            throw Error(ErrorKind::usage, "--note holds a control character");
    }
    return note;
}

std::optional<Settings> settings_for(const std::string& name, const SettingsText& text) {
    if (std::optional<Settings> typed = parse_settings(text)) return typed;
    return config().settings_of(name);
}

Context::Context(const GlobalOptions& g, Output& o)
    : out(o), global(with_config(g)), seeds_(resolve_seeds(global, o)) {
    check_prefix(global.prefix);
}

Client& Context::client() {
    if (!client_ && global.local) ensure_local_server(local_paths());
    if (!client_) {
        client_ = std::make_unique<Client>(seeds_, global.prefix);
        client_->set_durable(global.durable_replicas);
    }
    return *client_;
}

Error bucket_hint(const Error& e, std::string_view command) {
    std::string_view what = e.what();
    if (e.kind() != ErrorKind::not_found || what.rfind("no such bucket: ", 0) != 0 ||
        command == "delete") {
        return e;
    }
    std::string name(what.substr(16));
    std::string hint = "; create it with: tbucket create " + name + " --capacity N [--rate R]";
    if (command == "take" || command == "put" || command == "watch" || command == "run")
        hint += ", or add --capacity N [--rate R] here to create it on first use";
    return Error(e.kind(), std::string(what) + hint);
}

SignalGuard& Context::catch_signals() {
    if (!signals_) signals_ = std::make_unique<SignalGuard>();
    return *signals_;
}

void Context::commit(const MultiTakeResult& taken, const LeaseSpec* lease) {
    if (!signals_) return;
    signals_->hold();
    give_back_if_signalled(taken, lease);
}

// One path for a bucket and a list (a bucket is a list of one); only the
// words differ, as the user typed one or a list.
void Context::give_back_if_signalled(const MultiTakeResult& taken, const LeaseSpec* lease) {
    int sig = signals_ ? signals_->arrived() : 0;
    if (!sig) return;
    if (!taken.ok()) throw_signal_error(sig, "nothing taken");
    const TakeResult& first = taken.buckets.front();
    const bool one = taken.buckets.size() == 1 && !named_a_list;
    const std::string tokens =
        std::to_string(first.taken) + (first.taken == 1 ? " token" : " tokens");
    std::string back;
    try {
        for (const std::string& name : give_back_many(client(), taken, lease)) {
            back.append(back.empty() ? "'" : ", '").append(name).append("'");
        }
    } catch (const Error& e) {
        throw Error(e.kind(), (one ? std::string(signal_error(sig).what()) + " after taking " +
                                         tokens + " of '" + first.state.name + "'"
                                   : std::string("signalled after taking from several buckets")) +
                                  ", and giving them back failed: " + e.what());
    }
    throw_signal_error(sig, one ? "the " + tokens + " taken went back to " + back
                                : "the tokens taken went back to " + back);
}

Target parse_target(Context& ctx, const std::string& name, const std::string& count,
                    const SettingsText& settings) {
    int64_t n = parse_count("count", count);
    if (!is_name_list(name)) {
        std::string one = parse_name(name);
        return Target{{{one, n}}, settings_for(one, settings)};
    }
    ctx.named_a_list = true;
    Target t{parse_name_list(name, n), std::nullopt};
    if (parse_settings(settings)) {
        throw Error(ErrorKind::usage,
                    "--capacity/--rate/--expire create one bucket; create each of a list first");
    }
    return t;
}

std::vector<std::string> parse_names(const std::vector<std::string>& args) {
    std::vector<std::string> names;
    for (const std::string& arg : args) {
        if (!is_name_list(arg)) {
            names.push_back(parse_name(arg));
            continue;
        }
        for (NamedCount& c : parse_name_list(arg, 1, false)) names.push_back(std::move(c.name));
    }
    return names;
}

void add_settings_options(CLI::App* command, SettingsText& text, bool capacity_required) {
    CLI::Option* capacity = command->add_option(
        "--capacity", text.capacity,
        capacity_required ? "most tokens the bucket holds (1..2^53-1)"
                          : "create the bucket with this capacity when it is missing");
    capacity->type_name("N");
    if (capacity_required) capacity->required();
    CLI::Option* rate = command->add_option("--rate", text.rate,
                                            "refill AMOUNT/PERIOD: 10/s, 100/min, 1/30s, 0.5/h");
    rate->type_name("RATE");
    CLI::Option* window = command->add_option(
        "--window", text.window, "full again at each calendar window's end: 1m, 1h, 1d, 1w, 1mo");
    window->type_name("WINDOW");
    CLI::Option* tz =
        command->add_option("--tz", text.tz, "align windows to this time zone (default UTC)");
    tz->type_name("ZONE");
    CLI::Option* expire =
        command->add_option("--expire", text.expire, "delete the bucket after this long unused");
    expire->type_name("DURATION");
    if (!capacity_required) {
        rate->needs(capacity);
        window->needs(capacity);
        expire->needs(capacity);
    }
}

std::optional<Settings> parse_settings(const SettingsText& text) {
    if (text.capacity.empty()) return std::nullopt;
    Settings s;
    s.capacity = parse_count("--capacity", text.capacity);
    if (!text.rate.empty()) s.rate = parse_rate(text.rate);
    if (!text.tz.empty() && text.window.empty())
        throw Error(ErrorKind::usage, "--tz aligns a --window; give --window too");
    if (!text.window.empty()) {
        if (s.rate) {
            throw Error(ErrorKind::usage,
                        "--rate and --window: a bucket refills continuously (--rate) or returns "
                        "to full at each window's end (--window), not both");
        }
        s.window = parse_window(text.window, text.tz == "UTC" ? "" : text.tz);
        if (!s.window->zone.empty()) check_zone(s.window->zone);
    }
    if (!text.expire.empty()) {
        s.expire_ms = parse_exact_duration_ms("--expire", text.expire);
        if (*s.expire_ms == 0) throw Error(ErrorKind::usage, "--expire must be above 0");
    }
    return s;
}

std::optional<bool> env_flag(const char* name) {
    const char* value = env(name);
    if (!value) return std::nullopt;
    try {
        // What CLI11 itself reads an environment flag with, so both agree.
        return CLI::detail::to_flag_value(value) > 0;
    } catch (const std::invalid_argument&) {
    } catch (const std::out_of_range&) {
    }
    // CLI11 would blame the option (--json), which the user never typed.
    throw Error(ErrorKind::usage, std::string("environment variable ") + name + "='" + value +
                                      "' is neither yes nor no; use 1 or 0");
}

bool tls_options_named(int argc, char** argv) {
    for (const char* name : {"TBUCKET_TLS", "TBUCKET_CACERT", "TBUCKET_CACERTDIR", "TBUCKET_CERT",
                             "TBUCKET_KEY", "TBUCKET_SNI"}) {
        if (std::getenv(name)) return true;
    }
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--") break;
        for (std::string_view name : {"--tls", "--cacert", "--cert", "--key", "--sni", "--insecure",
                                      "--no-session-cache", "--help"}) {
            if (arg.substr(0, name.size()) == name) return true;
        }
    }
    return false;
}

// redis-cli's short options. -h is the host there, so help is --help only:
// `tbucket -h HOST take api && job` must take, not print help and succeed.
void add_redis_cli_options(CLI::App& app, GlobalOptions& g) {
    app.add_option("-h", g.host, "Redis host, replacing the URL's (as redis-cli -h)")
        ->type_name("HOST");
    app.add_option("-p", g.port, "Redis port, replacing the URL's (as redis-cli -p)")
        ->type_name("PORT");
    app.add_option("-n", g.db, "database number, replacing the URL's (as redis-cli -n)")
        ->type_name("DB");
    app.add_option("-a", g.typed_password,
                   "refused: other users could read it; use REDISCLI_AUTH, TBUCKET_PASSWORD or "
                   "--password-file")
        ->type_name("PASSWORD");
}

void setup_global(CLI::App& app, GlobalOptions& g, bool with_tls) {
    app.set_help_flag("--help", "print this help and exit");
    app.add_option(
           "-u,--url", g.url,
           "Redis URL; several seed nodes as redis://H1:P1,H2:P2 or -u repeated, tried in order; "
           "Sentinels as redis-sentinel://H1:P1,H2:P2/MASTER "
           "(env TBUCKET_URL, then REDIS_URL; default redis://127.0.0.1:6379)")
        ->type_name("URL")
        ->allow_extra_args(false);
    add_redis_cli_options(app, g);
    app.add_flag("-c,--cluster", g.cluster,
                 "accepted for redis-cli habits: cluster redirects are always followed");
    app.add_option("--prefix", g.prefix, "key prefix")
        ->type_name("PREFIX")
        ->envname("TBUCKET_PREFIX")
        ->capture_default_str();
    app.add_flag("--json", g.json, "JSON Lines output")->envname("TBUCKET_JSON");
    app.add_flag("-q,--quiet", g.quiet,
                 "print only errors, and what info, list and watch --follow are asked for; not a "
                 "denial or a timed-out wait (the exit status says it)");
    app.add_flag("-v,--verbose", g.verbose,
                 "print the state line of take, put, create, reset and watch --take also when "
                 "stdout is not a terminal");
    app.add_option("--connect-timeout", g.connect_timeout, "time to connect")
        ->type_name("DURATION")
        ->capture_default_str();
    app.add_option("--timeout-io", g.io_timeout, "time for one command's reply")
        ->type_name("DURATION")
        ->capture_default_str();
    app.add_option("--password-file", g.password_file,
                   "read the password from this file (env TBUCKET_PASSWORD, REDISCLI_AUTH)")
        ->type_name("FILE");
    if (with_tls) add_tls_options(app, g);
    app.add_option_function<std::string>(
           "--durable", [&g](const std::string& n) { g.durable = n.empty() ? "1" : n; },
           "report a change only once N replicas (default 1) have it, else exit 69 (env "
           "TBUCKET_DURABLE)")
        ->expected(0, 1)
        ->type_name("[N]");
    app.add_option("-E,--denied-exit", g.denied_exit,
                   "exit status of a denial (default 1 for take, 75 for run)")
        ->type_name("N")
        ->check(CLI::Range(0, 255));
}

std::vector<ConnectionOptions> resolve_seeds(const GlobalOptions& g, Output& out) {
    if (!g.typed_password.empty()) {
        throw Error(ErrorKind::usage,
                    "-a is refused: other users can read a password on the command line; use "
                    "REDISCLI_AUTH or TBUCKET_PASSWORD, or --password-file");
    }
    std::vector<ConnectionOptions> typed = seed_urls(g);
    ConnectionOptions options = typed.front();
    for (const ConnectionOptions& seed : typed) {
        if (seed.transport == ConnectionOptions::Transport::unix_socket && g.tls) {
            throw Error(ErrorKind::usage, "--tls needs a redis:// URL, not a unix socket");
        }
    }
    options.tls = resolve_tls(g, options.tls.enabled);
    // A keeper that answers does the TLS (and, should it end, this process
    // starts the next with tbucket-tls); else this may become tbucket-tls.
    if (options.tls.enabled) {
        if (tls_keeper::reach(options.tls)) {
            tls_keeper::set_program(tls_program());
        } else {
            prepare_tls();
        }
    }
    if (g.insecure)
        out.warning(
            "--insecure: the server's certificate is not checked; anyone in between can listen");
    if (options.has_password && !g.url.empty() && !g.url_from_config) {
        out.warning(
            "a password on the command line can be seen by other users; use TBUCKET_PASSWORD or "
            "--password-file");
    }
    if (!options.has_password) {
        const char* from_env =
            env("TBUCKET_PASSWORD") ? env("TBUCKET_PASSWORD") : env("REDISCLI_AUTH");
        if (!g.password_file.empty()) {
            options.password = read_password_file(g.password_file);
            options.has_password = true;
        } else if (from_env) {
            options.password = from_env;
            options.has_password = true;
        }
    }
    if (!options.user.empty() && !options.has_password) {
        throw Error(ErrorKind::usage,
                    "URL names user '" + options.user + "' but no password was given");
    }
    options.connect_timeout_ms = parse_duration_ms("--connect-timeout", g.connect_timeout);
    options.io_timeout_ms = parse_duration_ms("--timeout-io", g.io_timeout);
    if (options.connect_timeout_ms == 0 || options.io_timeout_ms == 0) {
        throw Error(ErrorKind::usage, "--connect-timeout and --timeout-io must be above 0");
    }
    // Every seed is reached the way the first is; only the address differs.
    std::vector<ConnectionOptions> seeds;
    for (const ConnectionOptions& where : typed) {
        ConnectionOptions seed = options;
        seed.transport = where.transport;
        seed.host = where.host;
        seed.port = where.port;
        seed.path = where.path;
        seed.sentinel_master = where.sentinel_master;  // Nodes refuses a mix
        seeds.push_back(std::move(seed));
    }
    return seeds;
}

}  // namespace tbucket::cli
