#include "wait/wait.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "redis/subscription.h"
#include "util/parse.h"
#include "wait/multi_wait.h"
#include "wait/wait_session.h"

namespace tbucket {
namespace {

using namespace wait_detail;

// Whether an events-channel message is one a tbucket script published.
// Anyone allowed on the channel can publish there; such a message must not
// end a wait, only make it look at the bucket itself.
bool well_formed(const std::string& payload) {
    try {
        parse_event("", payload);
        return true;
    } catch (const Error&) {
        return false;
    }
}

// A watch without --take: it takes nothing, so it is not in line; it
// follows the bucket's events (takers: src/wait/queue_wait.cpp).
class Waiter {
  public:
    Waiter(Client& client, const WaitRequest& request, WaitObserver& observer)
        : client_(client),
          request_(request),
          session_(client, request.name, request.timeout_ms, request.interrupt_fd, observer) {}

    WaitResult run() {
        session_.subscription().open();     // first, so no change after the check is missed
        TakeResult result = check_again();  // connected once: from here on, losses are survived
        while (!satisfied(result)) {
            if (request_.timeout_ms == 0) timed_out();
            sleep_until_worth_checking(result.state);
            result = check_again();
        }
        return finish(result);
    }

  private:
    bool satisfied(const TakeResult& r) const {
        return r.state.tokens >= static_cast<double>(request_.n);
    }

    TakeResult check() {
        TakeResult result =
            client_.take(request_.name, request_.n, TakeMode::wait_check, request_.create_with);
        lease_ends_at_ = WakeAt();
        // A lease that ends gives its tokens back inside the next script that
        // touches the bucket, with no event before: look then (1 ms late, so
        // that the server's clock has passed it).
        if (result.next_lease_end_ms) lease_ends_at_ = after_ms(*result.next_lease_end_ms + 1);
        checked_at_ = Clock::now();  // the check used the bucket: its idle expiry restarted
        return result;
    }

    TakeResult check_again() {
        for (;;) {
            stop_if_signalled();
            try {
                TakeResult result = check();
                session_.succeeded();
                looked_ = true;
                return result;
            } catch (const Error& e) {
                if (looked_ && e.kind() == ErrorKind::not_found) {
                    throw Error(ErrorKind::not_found,
                                "bucket '" + request_.name + "' was deleted while waiting");
                }
                session_.recover(e);
            }
        }
    }

    [[noreturn]] void timed_out() {
        if (request_.timeout_ms == 0) {
            throw Error(ErrorKind::timeout,
                        "not there now: " + what() + " (a zero timeout looks once)");
        }
        int64_t waited = request_.timeout_ms.value_or(session_.waited_ms());
        throw Error(ErrorKind::timeout,
                    "timed out after " + format_exact_ms(waited) + " waiting for " + what());
    }

    // Waiting counts as use of a bucket with an idle expiry: the waiter
    // checks again (which restarts the expiry) when half of it has passed
    // since the bucket was last seen in use, so it never expires under
    // the waiter's feet.
    WakeAt keepalive(const State& known) const {
        if (!known.expire_ms) return std::nullopt;
        // Not more often than every 50 ms: a bucket whose expiry is shorter
        // than that may still vanish, and the waiter then ends with 3.
        return checked_at_ + std::chrono::milliseconds(std::max<int64_t>(*known.expire_ms / 2, 50));
    }

    static WakeAt earliest(const WakeAt& a, const WakeAt& b) {
        if (!a) return b;
        if (!b) return a;
        return std::min(*a, *b);
    }

    std::string what() const {
        std::string n = std::to_string(request_.n);
        return n + (request_.n == 1 ? " token" : " tokens") + " on '" + request_.name + "'";
    }

    void stop_if_signalled() {
        if (int sig = session_.signal())
            throw_signal(sig, "while waiting for " + what() + "; nothing taken");
    }

    // Sleeps until a notification says the tokens may be there, the refill
    // rate says they will be, or the deadline (Error timeout).
    void sleep_until_worth_checking(const State& known) {
        std::optional<int64_t> ready_in = known.ms_until(static_cast<double>(request_.n));
        WakeAt wake_at;
        if (ready_in) wake_at = after_ms(*ready_in);
        wake_at = earliest(earliest(wake_at, keepalive(known)), lease_ends_at_);
        for (;;) {
            stop_if_signalled();
            if (passed(wake_at)) return;
            if (passed(session_.deadline())) timed_out();
            session_.report(wake_at ? std::optional<int64_t>(ms_until(*wake_at)) : std::nullopt);
            std::optional<Subscription::Event> next = session_.next_event(wake_at);
            if (!next) return;  // reconnected or moved: check again
            const Subscription::Event& event = *next;
            if (event.kind == Subscription::Event::Kind::none) continue;
            if (!well_formed(event.payload))
                return;  // another client's message: look for ourselves
            std::optional<State> now = parse_event(request_.name, event.payload);
            // "deleted": anyone may publish on the channel, so look.
            if (!now) return;
            if (now->tokens >= static_cast<double>(request_.n)) return;
            checked_at_ = Clock::now();  // a change is a use: the expiry restarted
            ready_in = now->ms_until(static_cast<double>(request_.n));
            wake_at =
                earliest(ready_in ? WakeAt(after_ms(*ready_in)) : std::nullopt, keepalive(*now));
            wake_at = earliest(wake_at, lease_ends_at_);
        }
    }

    // A signal that came during the last check still ends the wait.
    WaitResult finish(const TakeResult& result) {
        if (int sig = session_.signal())
            throw_signal(sig, "while waiting for " + what() + "; nothing taken");
        return WaitResult{result, session_.waited_ms()};
    }

    Client& client_;
    const WaitRequest& request_;
    Session session_;
    Clock::time_point checked_at_ = Clock::now();
    WakeAt lease_ends_at_;  // when the bucket's next lease ends, as last seen
    bool looked_ = false;   // the bucket was there once: not found now is a delete
};

State current_state(Client& client, const std::string& name) {
    StateOrError result = client.info({name}).front();
    if (const Error* e = std::get_if<Error>(&result)) throw *e;
    return std::get<State>(result);
}

}  // namespace

std::optional<State> parse_event(const std::string& name, const std::string& payload) {
    if (payload == "deleted") return std::nullopt;
    char amount[64] = {0};
    double tokens = 0, capacity = 0, period = 0, expire = 0, now = 0, leased = 0;
    int fields = std::sscanf(payload.c_str(), "%lf %lf %63s %lf %lf %lf %lf", &tokens, &capacity,
                             amount, &period, &expire, &now, &leased);
    if (fields < 6 || !(leased >= 0 && leased <= 9007199254740991.0) ||
        !(tokens >= 0 && tokens <= 9007199254740991.0) ||
        !(capacity >= 1 && capacity <= 9007199254740991.0) ||
        !(period >= 0 && period <= 9007199254740991.0) ||
        !(expire >= 0 && expire <= 9007199254740991.0) ||
        !(now >= 0 && now <= 9007199254740991.0)) {
        throw Error(ErrorKind::internal, "unexpected event on the bucket's channel: " + payload);
    }
    State s;
    s.name = name;
    s.tokens = tokens;
    s.capacity = static_cast<int64_t>(capacity);
    if (amount[0] == '@') {
        s.window = parse_window_wire(amount, &s.window_end_ms);
    } else if (std::string_view(amount) != "-") {
        double r = std::strtod(amount, nullptr);
        if (!(r > 0 && r <= 1e15) || period < 1) {
            throw Error(ErrorKind::internal,
                        "unexpected event on the bucket's channel: " + payload);
        }
        s.rate = Rate{r, static_cast<int64_t>(period)};
    }
    if (expire > 0) s.expire_ms = static_cast<int64_t>(expire);
    s.server_time_us = static_cast<int64_t>(now);
    s.leased = leased;
    return s;
}

WaitResult wait_for(Client& client, const WaitRequest& request, WaitObserver& observer) {
    struct Finished {
        WaitObserver& observer;
        ~Finished() { observer.finished(); }
    } finished{observer};
    // Takers wait in line; a watch without --take takes nothing, owes no
    // one, and follows the bucket's events.
    if (request.take) {
        LineRequest line{{{request.name, request.n}},
                         request.create_with,
                         request.lease,
                         request.timeout_ms,
                         request.interrupt_fd};
        MultiWaitResult r = wait_in_line(client, line, observer);
        return WaitResult{std::move(r.result.buckets.front()), r.waited_ms};
    }
    Waiter waiter(client, request, observer);
    return waiter.run();
}

void follow(Client& client, const std::string& name, std::optional<int64_t> timeout_ms,
            int interrupt_fd, const std::function<void(const State&)>& on_state,
            WaitObserver& observer) {
    Session session(client, name, timeout_ms, interrupt_fd, observer);
    session.subscription().open();
    on_state(current_state(client, name));
    for (;;) {
        if (session.signal() || passed(session.deadline())) return;
        Subscription::Event event;
        bool away = false;  // changes may have been missed: show the state now
        try {
            event = session.subscription().next(session.sleep_ms(std::nullopt), interrupt_fd);
            if (event.kind == Subscription::Event::Kind::moved) {
                session.subscription().open();
                away = true;
            }
        } catch (const Error& e) {
            session.recover(e);
            if (session.signal()) return;
            away = true;
        }
        if (away) {
            try {
                on_state(current_state(client, name));
            } catch (const Error& again) {
                if (again.kind() != ErrorKind::unavailable) throw;
                session.recover(again);
            }
            continue;
        }
        if (event.kind == Subscription::Event::Kind::none) continue;
        if (!well_formed(event.payload)) {  // another client's message: show the bucket itself
            on_state(current_state(client, name));
            continue;
        }
        std::optional<State> state = parse_event(name, event.payload);
        if (!state) throw Error(ErrorKind::not_found, "bucket '" + name + "' was deleted");
        on_state(*state);
    }
}

}  // namespace tbucket
