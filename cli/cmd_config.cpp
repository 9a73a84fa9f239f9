// tbucket config (SPEC §14): the settings in effect and where each came
// from, the config files read, and the buckets they define.

#include <algorithm>
#include <nlohmann/json.hpp>

#include "app.h"
#include "bucket/script.h"
#include "config.h"
#include "exit_codes.h"
#include "util/parse.h"

namespace tbucket::cli {
namespace {

// A URL as shown: a password in it becomes ***.
std::string redact_url(std::string url) {
    std::size_t scheme = url.find("://");
    if (scheme == std::string::npos) return url;
    std::size_t at = url.find('@', scheme + 3);
    if (at == std::string::npos) return url;
    std::size_t colon = url.find(':', scheme + 3);
    if (colon == std::string::npos || colon > at) return url;
    return url.substr(0, colon + 1) + "***" + url.substr(at);
}

struct Row {
    const char* key;
    std::string value;
};

int show_config(Context& ctx) {
    const GlobalOptions& g = ctx.global;
    std::string url = g.url.empty() ? "redis://127.0.0.1:6379" : g.url.front();
    if (g.url.empty() && (env("TBUCKET_URL") || env("REDIS_URL")))
        url = env("TBUCKET_URL") ? env("TBUCKET_URL") : env("REDIS_URL");
    for (std::size_t i = 1; i < g.url.size(); ++i) url += "," + g.url[i];
    const Row rows[] = {
        {"url", redact_url(url)},
        {"prefix", g.prefix},
        {"password_file", g.password_file},
        {"fail_open", g.fail_open ? "true" : "false"},
        {"tls", g.tls ? "true" : "false"},
        {"cacert", g.cacert},
        {"cacertdir", g.cacertdir},
        {"cert", g.cert},
        {"key", g.key},
        {"sni", g.sni},
        {"insecure", g.insecure ? "true" : "false"},
        {"restart_grace", format_exact_ms(g.restart_grace_ms)},
        {"durable", std::to_string(g.durable_replicas)},
    };
    const Config& file = config();
    auto from = [&g](const char* key) {
        auto it = g.from.find(key);
        return it == g.from.end() ? std::string("default") : it->second;
    };
    if (ctx.out.json()) {
        nlohmann::json j;
        for (const Row& r : rows)
            j["settings"][r.key] = {{"value", r.value}, {"from", from(r.key)}};
        j["files"] = nlohmann::json::array();
        for (const std::string& path : {system_config_path(), user_config_path()}) {
            bool read = std::find(file.files.begin(), file.files.end(), path) != file.files.end();
            j["files"].push_back({{"path", path}, {"read", read}});
        }
        j["buckets"] = nlohmann::json::object();
        for (const auto& [name, d] : file.buckets)
            j["buckets"][name] = {{"settings", describe_settings(*file.settings_of(name))},
                                  {"from", d.from}};
        ctx.out.line(j.dump(), true);
        return exit_ok;
    }
    for (const Row& r : rows) {
        std::string line = std::string(r.key) + " = " + (r.value.empty() ? "-" : r.value);
        ctx.out.line(line + std::string(line.size() < 40 ? 40 - line.size() : 1, ' ') + "(" +
                         from(r.key) + ")",
                     true);
    }
    for (const std::string& path : {system_config_path(), user_config_path()}) {
        bool read = std::find(file.files.begin(), file.files.end(), path) != file.files.end();
        ctx.out.line("file " + path + (read ? " (read)" : " (absent)"), true);
    }
    for (const auto& [name, d] : file.buckets) {
        ctx.out.line("bucket " + name + ": " + describe_settings(*file.settings_of(name)) + " (" +
                         d.from + ")",
                     true);
    }
    return exit_ok;
}

}  // namespace

Subcommand setup_config(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand(
        "config",
        "Show the settings in effect and where each came from (flags, environment, config "
        "files, defaults), and the buckets the files define");
    cmd->footer(
        "Files: /etc/tbucket/config.toml, then ~/.config/tbucket/config.toml (XDG);\n"
        "TBUCKET_SYSTEM_CONFIG and TBUCKET_CONFIG name others. See FILES in tbucket(1).");
    return {cmd, [](Context& ctx) { return show_config(ctx); }};
}

}  // namespace tbucket::cli
