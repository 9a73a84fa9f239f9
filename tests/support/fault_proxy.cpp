#include "support/fault_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <stdexcept>

#include "support/proxy_link.h"
#include "support/resp_frames.h"

namespace tbucket::test {
namespace {

using Clock = std::chrono::steady_clock;

bool is_subscribe(const std::string& name) {
    return name == "SUBSCRIBE" || name == "SSUBSCRIBE" || name == "PSUBSCRIBE";
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

std::vector<std::string> upper_all(std::vector<std::string> names) {
    for (std::string& name : names) name = upper(name);
    return names;
}

}  // namespace

struct FaultProxy::Rule {
    std::vector<std::string> commands;  // upper-cased
    int nth = 1;
    int seen = 0;
    Fault fault = Fault::none;
    int delay_ms = 0;
};

FaultProxy::FaultProxy(int target_port) : target_port_(target_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // port 0: any free one
    socklen_t length = sizeof addr;
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) ||
        listen(listen_fd_, 128) ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length) ||
        pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK)) {
        if (listen_fd_ >= 0) close(listen_fd_);
        throw std::runtime_error("fault proxy: cannot listen");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { loop(); });
}

FaultProxy::~FaultProxy() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        wake();
    }
    thread_.join();
    links_.clear();
    close(listen_fd_);
    close(wake_pipe_[0]);
    close(wake_pipe_[1]);
}

std::string FaultProxy::url() const {
    return "redis://127.0.0.1:" + std::to_string(port_);
}

void FaultProxy::fault_nth(std::vector<std::string> commands, int nth, Fault fault, int delay_ms) {
    if (nth < 1) throw std::invalid_argument("fault_nth: nth counts from 1");
    std::lock_guard lock(mutex_);
    rules_.push_back(Rule{upper_all(std::move(commands)), nth, 0, fault, delay_ms});
}

void FaultProxy::randomize(std::vector<std::string> commands, double p_drop, double p_cut,
                           double p_cut_mid, double p_delay, int max_delay_ms, unsigned seed) {
    std::lock_guard lock(mutex_);
    random_commands_ = upper_all(std::move(commands));
    p_drop_ = p_drop;
    p_cut_ = p_cut;
    p_cut_mid_ = p_cut_mid;
    p_delay_ = p_delay;
    max_delay_ms_ = std::max(1, max_delay_ms);
    random_.seed(seed);
}

void FaultProxy::clear() {
    std::lock_guard lock(mutex_);
    rules_.clear();
    random_commands_.clear();
}

long long FaultProxy::commands_seen(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = seen_.find(upper(name));
    return it == seen_.end() ? 0 : it->second;
}

long long FaultProxy::faults_applied() const {
    std::lock_guard lock(mutex_);
    return faults_applied_;
}

void FaultProxy::cut_all() {
    std::unique_lock lock(mutex_);
    long long ticket = ++cut_requests_;
    wake();
    cut_done_.wait_for(lock, std::chrono::seconds(10),
                       [&] { return cuts_done_ >= ticket || stopping_; });
}

void FaultProxy::wake() {
    char byte = 1;
    ssize_t ignored = write(wake_pipe_[1], &byte, 1);  // full pipe: a wake is pending anyway
    (void)ignored;
}

void FaultProxy::loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) poll_once(lock);
}

void FaultProxy::poll_once(std::unique_lock<std::mutex>& lock) {
    std::vector<pollfd> fds{{wake_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (const auto& link : links_) {
        fds.push_back({link->client(), link->client_events(), 0});
        fds.push_back({link->upstream(), link->upstream_events(), 0});
    }
    int timeout_ms = next_timeout_ms();
    lock.unlock();  // only this thread changes links_, so fds stay valid
    poll(fds.data(), fds.size(), timeout_ms);
    lock.lock();
    if (fds[0].revents & POLLIN) {
        char buf[256];
        while (read(wake_pipe_[0], buf, sizeof buf) > 0) {
        }
    }
    if (cut_requests_ > cuts_done_) {
        links_.clear();
        cuts_done_ = cut_requests_;
        cut_done_.notify_all();
        return;
    }
    std::size_t served = links_.size();
    for (std::size_t i = 0; i < served; ++i) {
        if (!serve(*links_[i], fds[2 + 2 * i].revents, fds[3 + 2 * i].revents)) links_[i].reset();
    }
    std::erase(links_, nullptr);
    if (fds[1].revents & POLLIN) accept_client();
}

int FaultProxy::next_timeout_ms() const {
    auto next = Clock::time_point::max();
    for (const auto& link : links_) next = std::min(next, link->next_due());
    if (next == Clock::time_point::max()) return -1;  // the wake pipe ends the wait
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now()).count();
    return static_cast<int>(std::max<long long>(0, wait));
}

void FaultProxy::accept_client() {
    int client = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) return;
    int upstream = connect_loopback(target_port_);
    if (upstream < 0) {
        close(client);  // as if the server refused: the client sees a closed connection
        return;
    }
    links_.push_back(std::make_unique<ProxyLink>(client, upstream));
}

void FaultProxy::drop_pubsub_messages() {
    std::lock_guard<std::mutex> lock(mutex_);
    drop_messages_ = true;
}

// false: the link is done and is to be closed.
bool FaultProxy::serve(ProxyLink& link, short client_events, short upstream_events) {
    const short readable = POLLIN | POLLHUP | POLLERR;
    link.set_drop_messages(drop_messages_);
    try {
        if (client_events & readable) {
            if (!link.read_client()) return false;
            read_requests(link);
        }
        if (upstream_events & readable) link.read_upstream();
    } catch (const std::runtime_error&) {
        return false;  // not RESP2: nothing sensible to forward
    }
    return link.flush(Clock::now());
}

void FaultProxy::read_requests(ProxyLink& link) {
    for (std::string request; !(request = link.next_request()).empty();) {
        std::string name = resp_command_name(request);
        bool subscribes = is_subscribe(name);
        int delay_ms = 0;
        // A subscribed connection is never faulted, nor counted by the rules.
        bool passing = link.subscribed() || subscribes;
        Fault fault = passing ? Fault::none : choose_fault(name, delay_ms);
        if (fault == Fault::cut_request) {
            link.cut_request();
            return;
        }
        ++seen_[name];
        link.forward(std::move(request), fault, delay_ms, subscribes);
    }
}

FaultProxy::Fault FaultProxy::choose_fault(const std::string& name, int& delay_ms) {
    Fault chosen = Fault::none;
    bool taken = false;
    for (auto it = rules_.begin(); it != rules_.end();) {
        if (!contains(it->commands, name)) {
            ++it;
            continue;
        }
        ++it->seen;
        if (!taken && it->seen >= it->nth) {
            chosen = it->fault;
            delay_ms = it->delay_ms;
            taken = true;
            it = rules_.erase(it);
            continue;
        }
        ++it;
    }
    if (!taken && contains(random_commands_, name)) {
        double u = std::uniform_real_distribution<double>(0, 1)(random_);
        if ((u -= p_drop_) < 0) {
            chosen = Fault::drop_reply;
        } else if ((u -= p_cut_) < 0) {
            chosen = Fault::cut_before_reply;
        } else if ((u -= p_cut_mid_) < 0) {
            chosen = Fault::cut_mid_reply;
        } else if ((u -= p_delay_) < 0) {
            chosen = Fault::delay_reply;
            delay_ms = std::uniform_int_distribution<int>(1, max_delay_ms_)(random_);
        }
    }
    if (chosen != Fault::none) ++faults_applied_;
    return chosen;
}

}  // namespace tbucket::test
