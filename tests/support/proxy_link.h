#pragma once

// One client connection of a FaultProxy and its own upstream connection:
// the bytes in flight both ways, the replies it expects in order, and what
// to do with each. FaultProxy decides the faults; a link carries them out,
// so one connection's faults can never shift another's replies.

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <string>

#include "support/fault_proxy.h"

namespace tbucket::test {

class ProxyLink {
  public:
    using Clock = std::chrono::steady_clock;
    using Fault = FaultProxy::Fault;

    ProxyLink(int client_fd, int upstream_fd);
    ~ProxyLink();  // closes both sockets
    ProxyLink(const ProxyLink&) = delete;
    ProxyLink& operator=(const ProxyLink&) = delete;

    int client() const { return client_; }
    // -1 once the server side is gone: a hung-up socket reports POLLHUP
    // whatever it is asked, so it must leave the poll set.
    int upstream() const { return upstream_gone_ ? -1 : upstream_; }
    short client_events() const;
    short upstream_events() const;
    // When the next held reply is due; Clock::time_point::max() if none.
    Clock::time_point next_due() const;

    // The next complete request from the client, "" if none yet.
    std::string next_request();
    // Once subscribed, pushed messages answer no request: server bytes pass
    // untouched (also after an UNSUBSCRIBE).
    bool subscribed() const { return subscribed_; }
    // Once subscribed, drop pushed messages ("message", "smessage") and pass
    // the rest (confirmations).
    void set_drop_messages(bool drop) { drop_messages_ = drop; }
    // Sends a request on to the server; its reply gets `fault`.
    void forward(std::string request, Fault fault, int delay_ms, bool subscribes);
    // Forwards nothing more; closes once the replies before are out.
    void cut_request();

    // false: the client is gone (or sent something that is not RESP2) and
    // the link is to be closed.
    bool read_client();
    void read_upstream();
    // Releases due replies and writes what it can both ways; false: done,
    // close it.
    bool flush(Clock::time_point now);

  private:
    struct Expected {
        Fault fault = Fault::none;
        int delay_ms = 0;
    };
    // One reply on its way to the client, or the close that replaces it.
    struct Outgoing {
        Clock::time_point due;
        std::string bytes;
        bool then_close = false;
    };
    void answer(std::string reply);
    void pass_all_but_messages();
    void settle();

    int client_ = -1, upstream_ = -1;
    std::string from_client_, to_upstream_, from_upstream_, to_client_;
    std::deque<Expected> expected_;  // forwarded commands awaiting replies, in order
    std::deque<Outgoing> outgoing_;  // replies not yet due, in order
    bool subscribed_ = false;
    bool silent_ = false;            // a reply was dropped: nothing more reaches the client
    bool requests_stopped_ = false;  // a request was cut: nothing more is forwarded
    bool closing_ = false;           // closes once to_client_ is sent
    bool upstream_gone_ = false;
    bool drop_messages_ = false;
};

// A connected, non-blocking socket to 127.0.0.1:port; -1 if refused.
int connect_loopback(int port);

}  // namespace tbucket::test
