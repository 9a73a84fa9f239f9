// tbucket doctor: one line per check, OK / INFO / WARN / FAIL, what it
// means for buckets and what to do; with --json one object per check.

#include <cctype>
#include <nlohmann/json.hpp>

#include "app.h"
#include "doctor/doctor.h"
#include "exit_codes.h"

namespace tbucket::cli {
namespace {

using Json = nlohmann::ordered_json;

// Long enough for a WAN round trip; short enough for a person waiting.
constexpr int64_t pubsub_timeout_ms = 2000;

std::string padded(std::string text, std::size_t width) {
    if (text.size() < width) text.append(width - text.size(), ' ');
    return text;
}

std::string lowercase(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string nodes_text(const std::vector<std::string>& nodes) {
    std::string out;
    for (const std::string& n : nodes) out += (out.empty() ? " [" : ", ") + n;
    return out.empty() ? out : out + "]";
}

// "FAIL  eviction         maxmemory-policy allkeys-lru [HOST:PORT]. When ..."
std::string check_text(const Check& c) {
    std::string advice = c.advice;
    if (!advice.empty())
        advice[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(advice[0])));
    return padded(std::string(status_name(c.status)), 4) + "  " + padded(c.name, 15) + "  " +
           c.summary + nodes_text(c.nodes) + ". " + advice + ".";
}

Json check_json(const Check& c) {
    return Json{{"check", c.name},
                {"status", lowercase(status_name(c.status))},
                {"nodes", c.nodes},
                {"summary", c.summary},
                {"advice", c.advice}};
}

std::string totals(const std::vector<Check>& checks) {
    int count[4] = {0, 0, 0, 0};
    for (const Check& c : checks) ++count[static_cast<int>(c.status)];
    return std::to_string(checks.size()) + " checks: " + std::to_string(count[0]) + " OK, " +
           std::to_string(count[1]) + " INFO, " + std::to_string(count[2]) + " WARN, " +
           std::to_string(count[3]) + " FAIL";
}

// -q keeps only what needs a look: WARN and FAIL.
int run(Context& ctx) {
    std::vector<Check> checks =
        run_doctor(ctx.client().nodes(), DoctorOptions{ctx.global.prefix, pubsub_timeout_ms});
    for (const Check& c : checks) {
        if (ctx.out.json()) {
            ctx.out.line(check_json(c).dump(-1, ' ', false, Json::error_handler_t::replace), true);
        } else if (!ctx.out.quiet() || c.status == CheckStatus::warn ||
                   c.status == CheckStatus::fail) {
            ctx.out.line(check_text(c), true);
        }
    }
    if (!ctx.out.json()) {
        // Which server, and why that one (SPEC §14): a flag, the
        // environment, a config file or the default.
        const GlobalOptions& g = ctx.global;
        auto it = g.from.find("url");
        std::string endpoints;
        for (const ConnectionOptions& seed : ctx.client().nodes().seed_options())
            endpoints += (endpoints.empty() ? "" : ", ") + describe_endpoint(seed);
        if (std::string master = ctx.client().nodes().sentinel_master(); !master.empty())
            endpoints += ", the primary the Sentinels name '" + master + "'";
        ctx.out.line(totals(checks) + "; checked " + endpoints + " (from " +
                     (it == g.from.end() ? std::string("the default URL") : it->second) + ")");
    }
    return any_failed(checks) ? exit_check_failed : exit_ok;
}

}  // namespace

Subcommand setup_doctor(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand(
        "doctor", "Check the server for what would make buckets wrong (exit 1 if a check FAILs)");
    cmd->footer(
        "Checks, one line each (OK, INFO, WARN, FAIL): cluster primaries and slots, version,\n"
        "scripts, persistence, eviction policy, ACL rights on the prefix, a pub/sub round\n"
        "trip, replication, clock. -q: only WARN and FAIL lines; --json: one object per\n"
        "check (check, status, nodes, summary, advice).\n\n" +
        cmd->get_footer());
    return {cmd, [](Context& ctx) { return run(ctx); }};
}

}  // namespace tbucket::cli
