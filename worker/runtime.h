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
#include "common/http_head.h"
#include "common/stream_info.h"
#include "common/vars.h"
#include "common/unique_fd.h"
#include "common/control.h"
#include "worker/balancer.h"
#include "worker/cli_commands.h"
#include "worker/http1.h"
#include "worker/stats.h"

namespace proxyd::worker {

using Clock = std::chrono::steady_clock;

struct Conn;
struct Backend;

// What an epoll event refers to (epoll_event.data.ptr).
struct Endpoint {
    enum class Kind { Listener, Client, Server, Control, Signal, IdleServer } kind;
    void* owner = nullptr;
};

struct Listener {
    Endpoint ep{Endpoint::Kind::Listener, nullptr};
    common::UniqueFd fd;
    std::string key;
    struct Frontend* fe = nullptr;
    bool registered = false;
    sockaddr_storage local{};     // bound address (getsockname at start)
    bool specific = false;        // not a wildcard: accepted sockets share `local`
    bool nodelay_inherited = false;  // TCP_NODELAY set on the listening socket
};

struct Frontend {
    const common::ProxyConf* conf = nullptr;
    Backend* backend = nullptr;
    std::vector<Listener*> listeners;
    int maxconn = 0;
    int cur_conns = 0;
    uint64_t cum_conns = 0;
    bool has_log = false;  // log targets: streams are logged
    Counters counters;
};

// An idle keep-alive connection to a server, parked in the server's pool (http-reuse).
struct IdleConn {
    Endpoint ep{Endpoint::Kind::IdleServer, nullptr};
    common::UniqueFd fd;
    struct Server* server = nullptr;
    std::chrono::steady_clock::time_point since{};
    unsigned uses = 0;  // requests it served
};

struct Server {
    const common::ServerConf* conf = nullptr;
    std::vector<std::unique_ptr<IdleConn>> idle;  // mode http: reusable connections
    int attached_idle = 0;  // idle connections kept by their client between two requests
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
    std::unique_ptr<LoadBalancer> lb;  // over `slots`
    std::atomic<uint64_t>* ticket = nullptr;  // in the generation's shared memory
    uint64_t local_ticket = 0;      // when no shared memory is attached
};

// Connection phases (of the server side, in mode http); recorded at close for the debug log.
// Idle: mode http, no server connection in use (waiting for or parsing a request, or answering
// locally).
enum class Phase { Queued, Connecting, Established, Closed, Idle };

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
    bool error = false;  // mode http: a read or write failed (reset)
    Clock::time_point last_io{};
};

// One direction of an HTTP exchange: a head to send, then body bytes "approved" for forwarding
// at the start of the buffer (framing checked), until the message ends.
struct HttpDir {
    HttpDir(Http1Kind k, const Http1Options& o) : chunks(k, o), trailers(k, o) {}
    std::string head_out;      // serialized head(s) still to send, from head_off
    size_t head_off = 0;
    BodyFraming framing = BodyFraming::None;
    uint64_t left = 0;         // ContentLength: body bytes not yet approved
    ChunkedDecoder chunks;
    Http1Parser trailers;
    bool in_trailers = false;  // chunked: parsing the trailer section
    bool done = false;         // the whole message is approved
    size_t approved = 0;       // bytes at the buffer's start that may be sent
    bool head_pending() const { return head_off < head_out.size(); }
};

enum class HttpPhase : uint8_t {
    WaitRequest,  // reading a request head (or idle between requests)
    Exchange,     // request accepted: server side queued/connecting/exchanging
    Tunnel,       // after 101 or a 2xx to CONNECT: bytes both ways
    LocalReply,   // sending a response proxyd built, then closing
    Lingering,    // response sent, write side shut: draining input until the client closes
};

struct HttpTxn {
    explicit HttpTxn(const Http1Options& o)
        : req_parser(Http1Kind::Request, o), res_parser(Http1Kind::Response, o), rq(Http1Kind::Request, o),
          rs(Http1Kind::Response, o) {}
    HttpPhase hphase = HttpPhase::WaitRequest;
    Http1Parser req_parser, res_parser;
    std::string req_raw, res_raw;  // copies of the heads (the HttpHeads point into them)
    common::HttpHead req, res;
    HttpDir rq, rs;                // request (to the server), response (to the client)
    Http1Head req_info, res_info;  // parser results
    unsigned requests = 0;         // requests seen on this client connection
    bool have_req = false, have_res = false;
    bool client_keep_alive = false;  // keep the client connection after this response
    bool server_keep_alive = false;  // the server connection can be reused after it
    bool reused = false;           // this request went over a reused server connection
    bool retried_reuse = false;
    bool res_sent_any = false;     // a response byte went to the client
    bool local_keep = false;       // local reply: the connection stays open after it
    int status = -1;               // status sent to the client
    Clock::time_point req_start{}, idle_start{}, req_sent{};
    int64_t req_start_unix_us = 0;
    uint64_t bytes_in0 = 0, bytes_out0 = 0;  // connection byte counts when this request started
    struct Backend* idle_backend = nullptr;  // backend of the idle server connection kept
    common::StreamInfo info;
    common::VarStore vars;         // sess. (this connection), txn./req./res. (this request)
    std::string scratch;
    char term[2] = {'-', '-'};
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
    sockaddr_storage src_addr{}, dst_addr{};
    int64_t accepted_unix_us = 0;
    int64_t tw_ms = -1, tc_ms = -1;  // time queued, time connecting (logs)
    int last_server = -1;            // server of the last connection attempt (logs)
    Clock::time_point retry_at{};    // connecting, no socket: next attempt (turn-around)
    int retry_skip = -1;             // server that failed last
    std::unique_ptr<HttpTxn> http;  // mode http
    int idle_server = -1;           // mode http: srv holds an idle connection to this server
    Endpoint srv_eps[2] = {{Endpoint::Kind::Server, nullptr}, {Endpoint::Kind::Server, nullptr}};
    int srv_ep_idx = 0;             // which of srv_eps the current server socket uses
    unsigned srv_uses = 0;          // mode http: requests served by the current server connection
};

class Runtime : public WorkerView, public common::ProxyStateView {
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
    // ProxyStateView (nbsrv() for ACLs)
    int nbsrv(std::string_view backend) const override;

private:
    void on_event(Endpoint* ep, uint32_t events) noexcept;
    void on_accept(Listener& l) noexcept;
    void on_control() noexcept;
    void on_cli_request(const common::CliRequestMsg& m) noexcept;
    void count_bytes(Conn& c, bool to_server, size_t n) noexcept;
    void on_signal() noexcept;
    void start_conn(Conn& c) noexcept;
    void connect_server(Conn& c) noexcept;
    Endpoint* fresh_srv_ep(Conn& c) noexcept;
    void on_connect_result(Conn& c, bool maybe_error) noexcept;
    void connect_failed(Conn& c, const char* why) noexcept;
    void retry_connect(Conn& c) noexcept;
    void pump(Conn& c) noexcept;
    bool transfer(Conn& c, Side& a, Side& b, Buffer& buf, Pipe& p, bool to_server, bool* progress) noexcept;
    void acquire_pipe(Pipe& p) noexcept;
    void release_pipe(Pipe& p) noexcept;
    void close_conn(Conn& c, const char* why) noexcept;
    void release_server(Conn& c) noexcept;
    void dequeue(Backend& be) noexcept;
    PickResult pick(Backend& be, int* chosen, int skip = -1, const Conn* c = nullptr) noexcept;
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

    // mode http (http_stream.cpp)
    void http_start(Conn& c) noexcept;
    void http_pump(Conn& c) noexcept;
    bool http_read(Conn& c, Side& s, Buffer& b, bool* progress) noexcept;
    bool http_send(Conn& c, Side& to, HttpDir& d, Buffer& b, bool to_server, bool* progress) noexcept;
    bool http_approve(Conn& c, HttpDir& d, Buffer& b, bool request) noexcept;
    void http_parse_request(Conn& c) noexcept;
    void http_on_request(Conn& c) noexcept;
    void http_parse_response(Conn& c) noexcept;
    void http_on_response(Conn& c) noexcept;
    void http_route(Conn& c) noexcept;
    void http_use_server(Conn& c) noexcept;
    void http_local_reply(Conn& c, int status, std::string_view bytes, char t0, char t1,
                          bool may_keep = false) noexcept;
    void http_next_request(Conn& c) noexcept;
    void http_local_done(Conn& c) noexcept;
    // http-after-response rules on a response proxyd built: "" if unchanged (no rules).
    std::string http_after_local(Conn& c, std::string_view bytes) noexcept;
    void http_error(Conn& c, int status, char t0, char t1, const char* why) noexcept;
    void http_server_failed(Conn& c, const char* why) noexcept;
    void http_end_of_exchange(Conn& c) noexcept;
    void http_drop_server(Conn& c, bool reusable) noexcept;
    void http_fill_info(Conn& c) noexcept;
    void http_log(Conn& c) noexcept;
    Clock::time_point http_deadline(const Conn& c) const;
    void http_expire(Conn& c) noexcept;
    void on_idle_event(IdleConn& ic) noexcept;
    void purge_idle() noexcept;
    Backend* find_backend(std::string_view name) noexcept;
    void log_stream(const Conn& c, const common::StreamInfo& s) noexcept;
    void log_tcp(Conn& c, const char* why, Phase was) noexcept;

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
    std::vector<std::unique_ptr<IdleConn>> idle_graveyard_;
    std::vector<uint64_t> repump_;  // connections to look at again after the event batch
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
    size_t buf_size_ = 16384;       // tune.bufsize
    Http1Options http_opts_;
    Clock::time_point last_purge_{};
    uint64_t cum_req_ = 0;
    std::string key_scratch_;
    common::VarSet proc_vars_;      // proc. variables of this worker
};

}  // namespace proxyd::worker
