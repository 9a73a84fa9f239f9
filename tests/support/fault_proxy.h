#pragma once

// A TCP proxy between a client and a real redis-server that drops, delays
// or cuts the reply to a chosen command: tests "exactly once" under faults
// without killing the server. It runs in the test's process, on one thread
// polling every socket; the controls below may be called from any thread.

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace tbucket::test {

class ProxyLink;

class FaultProxy {
  public:
    // Listens on 127.0.0.1 on a free port; every accepted connection is
    // forwarded to 127.0.0.1:target_port with its own upstream socket.
    explicit FaultProxy(int target_port);
    ~FaultProxy();
    FaultProxy(const FaultProxy&) = delete;
    FaultProxy& operator=(const FaultProxy&) = delete;

    int port() const { return port_; }
    std::string url() const;  // "redis://127.0.0.1:<port>"

    enum class Fault {
        none,
        // Forwards the command (it runs on the server), swallows its reply
        // and everything after it on that connection: the client sees
        // silence.
        drop_reply,
        // Forwards the command, waits until its reply has come from the
        // server, then closes the client's connection without sending any
        // of that reply.
        cut_before_reply,
        // Sends the first half of the reply's bytes, then closes.
        cut_mid_reply,
        // Closes the client's connection without forwarding the command (it
        // never runs), once the replies to earlier commands are delivered.
        cut_request,
        // Holds the reply delay_ms, then delivers it (later replies stay in
        // order, behind it).
        delay_reply,
    };

    // The reply to the nth (1-based, counted from this call, on all
    // connections) command whose name is in `commands` (case-insensitive,
    // e.g. {"EVALSHA","EVAL"}) gets `fault`. Each call queues one rule that
    // counts on its own; when two rules come due on the same command, the
    // older applies and the younger takes the next matching command.
    void fault_nth(std::vector<std::string> commands, int nth, Fault fault, int delay_ms = 0);
    // Every command named in `commands` (not taken by a fault_nth rule)
    // gets, at random from `seed`: drop_reply with p_drop, cut_before_reply
    // with p_cut, cut_mid_reply with p_cut_mid, delay_reply (1..max_delay_ms)
    // with p_delay.
    void randomize(std::vector<std::string> commands, double p_drop, double p_cut, double p_cut_mid,
                   double p_delay, int max_delay_ms, unsigned seed);
    void clear();  // no more faults: drops the rules and the randomizing
    // From now on, subscribed connections get their subscription
    // confirmations but never a published message (as a proxy that does
    // not carry pub/sub would): for doctor's round trip.
    void drop_pubsub_messages();

    // Commands of that name (case-insensitive) forwarded so far.
    long long commands_seen(const std::string& name) const;
    long long faults_applied() const;
    // Closes every client connection (and its upstream) now; returns once
    // they are closed.
    void cut_all();

  private:
    struct Rule;
    void loop();
    void wake();
    void poll_once(std::unique_lock<std::mutex>& lock);
    void accept_client();
    bool serve(ProxyLink& link, short client_events, short upstream_events);
    void read_requests(ProxyLink& link);
    Fault choose_fault(const std::string& name, int& delay_ms);
    int next_timeout_ms() const;

    int target_port_;
    int port_ = 0;
    int listen_fd_ = -1;
    int wake_pipe_[2] = {-1, -1};

    mutable std::mutex mutex_;  // guards everything below
    std::condition_variable cut_done_;
    bool stopping_ = false;
    long long cut_requests_ = 0, cuts_done_ = 0;
    std::vector<std::unique_ptr<ProxyLink>> links_;
    std::vector<Rule> rules_;
    std::vector<std::string> random_commands_;
    double p_drop_ = 0, p_cut_ = 0, p_cut_mid_ = 0, p_delay_ = 0;
    int max_delay_ms_ = 0;
    std::mt19937 random_;
    std::map<std::string, long long> seen_;
    bool drop_messages_ = false;
    long long faults_applied_ = 0;

    std::thread thread_;  // last: starts once everything above exists
};

}  // namespace tbucket::test
