// lease take|renew|release|list (SPEC §9): leases for scripts that cannot
// wrap their work in `run`.

#include <unistd.h>

#include "app.h"
#include "bucket/lease.h"
#include "exit_codes.h"
#include "util/name_list.h"
#include "util/parse.h"
#include "waiting.h"

namespace tbucket::cli {
namespace {

struct LeaseOptions {
    std::string name;
    std::string count = "1";
    std::string id;
    std::string ttl = "30s";
    SettingsText settings;
    CLI::Option* wait_option = nullptr;
    std::string wait;
    std::string note;
    bool fail_open = false;
};

std::string parse_lease_id(const std::string& text) {
    if (!valid_lease_id(text)) {
        throw Error(ErrorKind::usage, "lease id '" + printable(text) +
                                          "' is not one tbucket made (24 lowercase hex digits)");
    }
    return text;
}

int take(Context& ctx, const LeaseOptions& o) {
    if (is_name_list(o.name)) {
        // Checked as a list first, so that a bad one is named as such.
        parse_name_list(o.name, 1);
        throw Error(ErrorKind::usage,
                    "lease take takes one bucket, not a list (run LIST -- CMD leases several)");
    }
    Target target = parse_target(ctx, o.name, o.count, o.settings);
    int64_t ttl = parse_lease_ms("--ttl", o.ttl);
    WaitSpec wait = parse_wait(o.wait_option->count() > 0, o.wait, "--wait", ctx.global.typed,
                               "lease take", o.name);
    // The holder is the script that asked: this process ends at once.
    LeaseSpec lease{new_lease_id(), ttl, lease_holder(getppid(), note_text(o.note)), true};
    lease.restart_grace_ms = ctx.global.restart_grace_ms;
    // Failing open there is no lease: nothing is printed, nothing to renew.
    return failing_open(ctx, o.fail_open, "going on without a lease", [&] {
        MultiWaitResult r = take_target(ctx, target, wait, TakeMode::all, &lease);
        ctx.commit(r.result, &lease);
        const TakeResult& result = r.result.buckets.front();
        ctx.out.lease_taken(result, lease.id, ttl, r.waited_ms);
        return result.ok() ? exit_ok : ctx.denied_exit(exit_denied);
    });
}

int renew(Context& ctx, const LeaseOptions& o) {
    std::string name = parse_name(o.name);
    std::string id = parse_lease_id(o.id);
    int64_t ttl = parse_lease_ms("--ttl", o.ttl);
    RenewResult r = renew_lease(ctx.client(), name, id, ttl);
    if (!r.held()) {
        throw Error(
            ErrorKind::not_found,
            "lease " + id + " on '" + name + "' is not held (it ended, or never was): not renewed");
    }
    ctx.out.lease_renewed(r.state, id, ttl);
    return exit_ok;
}

int release(Context& ctx, const LeaseOptions& o) {
    std::string name = parse_name(o.name);
    std::string id = parse_lease_id(o.id);
    ReleaseResult r = release_lease(ctx.client(), name, id);
    if (r.outcome == ReleaseOutcome::expired || r.outcome == ReleaseOutcome::unknown) {
        std::string why = r.outcome == ReleaseOutcome::expired
                              ? "had ended: its tokens went back then"
                              : "is not held (it ended, or never was)";
        throw Error(ErrorKind::not_found,
                    "lease " + id + " on '" + name + "' " + why + "; nothing added");
    }
    ctx.out.lease_released(r.state, id, r.outcome == ReleaseOutcome::already, r.added);
    return exit_ok;
}

int list(Context& ctx, const LeaseOptions& o) {
    if (!o.name.empty()) {
        std::string name = parse_name(o.name);
        LeaseList l = list_leases(ctx.client(), name);
        ctx.out.leases(l.state, l.leases);
        return exit_ok;
    }
    // Every lease of every bucket: the buckets with leases say so in their
    // reply; one gone meanwhile, or a key that is not a bucket, has none.
    for (const std::string& name : ctx.client().list("*")) {
        try {
            LeaseList l = list_leases(ctx.client(), name);
            ctx.out.leases(l.state, l.leases, true);
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::not_found && e.kind() != ErrorKind::data) throw;
        }
    }
    return exit_ok;
}

CLI::App* with_name(CLI::App* cmd, LeaseOptions& o) {
    cmd->add_option("NAME", o.name, "bucket name")->required()->type_name("");
    return cmd;
}

void add_ttl(CLI::App* cmd, LeaseOptions& o) {
    cmd->add_option("--ttl", o.ttl, "how long the lease lives without renewal (1s..1d)")
        ->type_name("DURATION")
        ->capture_default_str();
}

}  // namespace

Subcommand setup_lease(CLI::App& app) {
    auto o = std::make_shared<LeaseOptions>();
    CLI::App* cmd = app.add_subcommand(
        "lease", "Hold tokens of a bucket without refill until released or expired (for scripts)");
    cmd->require_subcommand(1);
    auto chosen = std::make_shared<std::function<int(Context&)>>();

    CLI::App* t =
        with_name(cmd->add_subcommand("take", "take N tokens as a lease; prints ID FENCE"), *o);
    t->add_option("N", o->count, "tokens to hold")->type_name("")->capture_default_str();
    add_ttl(t, *o);
    add_note_option(t, o->note);
    add_fail_open_option(t, o->fail_open, "go on without a lease (nothing printed)");
    o->wait_option =
        t->add_option("--wait", o->wait,
                      "wait in line until the tokens can be taken: forever, or up to DURATION "
                      "(exit 124)")
            ->expected(0, 1)
            ->type_name("[DURATION]");
    add_settings_options(t, o->settings, false);
    t->callback([o, chosen] { *chosen = [o](Context& ctx) { return take(ctx, *o); }; });

    CLI::App* r =
        with_name(cmd->add_subcommand("renew", "make a held lease live --ttl longer from now"), *o);
    r->add_option("ID", o->id, "lease id, as lease take printed it")->required()->type_name("");
    add_ttl(r, *o);
    r->callback([o, chosen] { *chosen = [o](Context& ctx) { return renew(ctx, *o); }; });

    CLI::App* g = with_name(cmd->add_subcommand("release", "give a lease's tokens back now"), *o);
    g->add_option("ID", o->id, "lease id, as lease take printed it")->required()->type_name("");
    g->callback([o, chosen] { *chosen = [o](Context& ctx) { return release(ctx, *o); }; });

    CLI::App* l = cmd->add_subcommand("list", "the leases held on a bucket, or on every bucket");
    l->add_option("NAME", o->name, "bucket name (none: every bucket)")->type_name("");
    l->callback([o, chosen] { *chosen = [o](Context& ctx) { return list(ctx, *o); }; });

    cmd->footer(
        "A lease ends when released, or when not renewed for its --ttl: then its tokens go back\n"
        "by themselves. Renewing or releasing a lease that ended: exit 3 (never revived).\n"
        "Releasing one twice is harmless. Example:\n"
        "  read id fence < <(tbucket lease take deploys --ttl 10m)\n"
        "  FENCE=$fence ./deploy.sh; tbucket lease release deploys \"$id\"");
    return {cmd, [chosen](Context& ctx) { return (*chosen)(ctx); }};
}

}  // namespace tbucket::cli
