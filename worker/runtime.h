#pragma once
// A worker's data path: one single-threaded, edge-triggered epoll loop serving TCP-mode
// frontends. Owns its copies of the listening sockets, every connection, and a timer heap.
#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/config.h"
#include "common/unique_fd.h"
#include "common/control.h"
#include "worker/balancer.h"
#include "worker/cli_commands.h"
#include "worker/stats.h"

namespace proxyd::worker {

using Clock = std::chrono::steady_clock;

struct Conn;
struct Backend;

// What an epoll event refers to (epoll_event.data.ptr).
struct Endpoint {
    enum class Kind { Listener, Client, Server, Control, Signal } kind;
    void* owner = nullptr;
};

struct Listener {
    Endpoint ep{Endpoint::Kind::Listener, nullptr};
    common::UniqueFd fd;
    std::string key;
    struct Frontend* fe = nullptr;
    bool registered = false;
};

struct Frontend {
    const common::ProxyConf* conf = nullptr;
    Backend* backend = nullptr;
    std::vector<Listener*> listeners;
    int maxconn = 0;
    int cur_conns = 0;
    uint64_t cum_conns = 0;
    Counters counters;
};

struct Server {
    const common::ServerConf* conf = nullptr;
    Counters counters;
    AdminState admin = AdminState::Ready;
    int weight = 1;
};

struct Backend {
    const common::ProxyConf* conf = nullptr;
    std::vector<Server> servers;
    std::vector<ServerSlot> slots;  // parallel to servers
    std::deque<uint64_t> queue;     // ids of connections waiting for a server slot
    Counters counters;
    std::vector<int> schedule;      // round-robin cycle (see build_rr_schedule)
    std::atomic<uint64_t>* ticket = nullptr;  // in the generation's shared memory
    uint64_t local_ticket = 0;      // when no shared memory is attached
};

// Connection phases; recorded at close for the "who ended it, when" debug log.
enum class Phase { Queued, Connecting, Established, Closed };

struct Buffer {
    std::unique_ptr<char[]> data;
    size_t start = 0, end = 0, cap = 0;
    size_t size() const { return end - start; }
    bool empty() const { return start == end; }
    size_t room() const { return cap - end; }
    void compact();
};

// A pipe used to splice one direction of a connection; `bytes` are in flight inside it.
struct Pipe {
    common::UniqueFd r, w;
    size_t bytes = 0;
    bool active = false;
};

struct Side {
    Endpoint ep;
    common::UniqueFd fd;
    bool readable = false, writable = false;  // cached edge-triggered readiness
    bool rd_eof = false, wr_shut = false;
    bool rdhup = false;  // the peer's FIN/RST was reported: read until 0, never stop on a short read
    Clock::time_point last_io{};
};

struct Conn {
    uint64_t id = 0;
    Frontend* fe = nullptr;
    Backend* be = nullptr;
    int server = -1;
    int attempts = 0;
    Phase phase = Phase::Queued;
    Side cli, srv;
    Buffer c2s, s2c;
    Pipe c2s_pipe, s2c_pipe;
    Clock::time_point phase_start{};
    Clock::time_point scheduled{};  // deadline currently in the timer heap (max = none)
    std::string src;
    Clock::time_point accepted{};
    uint64_t bytes_in = 0, bytes_out = 0;
};

class Runtime : public WorkerView {
public:
    Runtime(std::shared_ptr<const common::Config> cfg, int control_fd, uint32_t generation, uint32_t index);
    ~Runtime();
    // Adopts a listening socket received from the master for BindConf key `key`.
    void add_listener_fd(const std::string& key, common::UniqueFd fd);
    // Maps the generation's shared memory (round-robin tickets); "" or an error.
    std::string attach_shared(common::UniqueFd fd);
    // Checks that every bind got its socket and sets up the epoll loop. "" or an error.
    std::string prepare();
    // Registers listeners and enters the loop; returns the exit status.
    int run();

    // WorkerView (the worker CLI's view of this process)
    ProcessInfo info() const override;
    std::vector<ProxyView> proxies() override;
    std::vector<SessionView> sessions() const override;
    void server_changed(const std::string& backend, const std::string& server) override;

private:
    void on_event(Endpoint* ep, uint32_t events) noexcept;
    void on_accept(Listener& l) noexcept;
    void on_control() noexcept;
    void on_cli_request(const common::CliRequestMsg& m) noexcept;
    void count_bytes(Conn& c, bool to_server, size_t n) noexcept;
    void on_signal() noexcept;
    void start_conn(Conn& c) noexcept;
    void connect_server(Conn& c) noexcept;
    void on_connect_result(Conn& c) noexcept;
    void connect_failed(Conn& c, const char* why) noexcept;
    void pump(Conn& c) noexcept;
    bool transfer(Conn& c, Side& a, Side& b, Buffer& buf, Pipe& p, bool to_server, bool* progress) noexcept;
    void acquire_pipe(Pipe& p) noexcept;
    void release_pipe(Pipe& p) noexcept;
    void close_conn(Conn& c, const char* why) noexcept;
    void release_server(Conn& c) noexcept;
    void dequeue(Backend& be) noexcept;
    PickResult pick(Backend& be, int* chosen, int skip = -1) noexcept;
    void update_deadline(Conn& c) noexcept;
    void expire(Conn& c) noexcept;
    void run_timers() noexcept;
    void pause_listener(Listener& l) noexcept;
    void resume_listener(Listener& l) noexcept;
    void update_listeners() noexcept;
    void soft_stop() noexcept;
    void hard_stop() noexcept;
    bool accepting_limit_reached(const Frontend& fe) const;
    Clock::time_point deadline_of(const Conn& c) const;
    Buffer make_buffer();
    void recycle_buffer(Buffer& b);

    std::shared_ptr<const common::Config> cfg_;
    uint32_t generation_, index_;
    common::UniqueFd epfd_, sigfd_;
    common::UniqueFd ctl_;
    Endpoint ctl_ep_{Endpoint::Kind::Control, nullptr};
    Endpoint sig_ep_{Endpoint::Kind::Signal, nullptr};
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::vector<std::unique_ptr<Frontend>> frontends_;
    std::vector<std::unique_ptr<Backend>> backends_;
    std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
    std::vector<std::unique_ptr<Conn>> graveyard_;  // freed after the current batch of events
    std::vector<std::unique_ptr<char[]>> buffer_pool_;
    std::vector<Pipe> pipe_pool_;
    int pipes_used_ = 0, max_pipes_ = 1;
    uint64_t spliced_bytes_ = 0;
    using TimerEntry = std::pair<Clock::time_point, uint64_t>;
    std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timers_;
    std::vector<Listener*> accept_backlog_;  // listeners whose accept batch limit was hit
    Clock::time_point now_;
    uint64_t next_id_ = 1;
    void* shared_ = nullptr;
    size_t shared_len_ = 0;
    int global_maxconn_ = 0;
    int cur_conns_ = 0;
    bool stopping_ = false;
    bool done_ = false;
    int exit_code_ = 0;
    Clock::time_point started_;
    int64_t start_unix_ = 0;
    uint64_t cum_conns_ = 0;
    uint64_t total_bytes_out_ = 0;
    RateMeter conn_rate_;
    uint64_t max_conn_rate_ = 0;
};

}  // namespace proxyd::worker
