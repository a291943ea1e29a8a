#include "worker/runtime.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/control.h"
#include "common/log.h"
#include "common/net.h"
#include "worker/logger.h"

namespace proxyd::worker {

using namespace proxyd::common;

namespace {
constexpr size_t kPipeSize = 65536;  // default pipe capacity
constexpr int kAcceptBatch = 64;
constexpr auto kNever = Clock::time_point::max();

std::chrono::milliseconds ms(uint64_t v) { return std::chrono::milliseconds(static_cast<int64_t>(v)); }
}  // namespace

void Buffer::compact() {
    if (start == end) {
        start = end = 0;
    } else if (start > 0 && room() == 0) {
        std::memmove(data.get(), data.get() + start, end - start);
        end -= start;
        start = 0;
    }
}

Runtime::Runtime(std::shared_ptr<const Config> cfg, int control_fd, uint32_t generation, uint32_t index)
    : cfg_(std::move(cfg)), generation_(generation), index_(index), ctl_(control_fd) {
    now_ = Clock::now();
    started_ = now_;
    buf_size_ = cfg_->global.tune_bufsize;
    http_opts_.bufsize = buf_size_;
    http_opts_.max_headers = static_cast<size_t>(cfg_->global.tune_maxhdr);
    start_unix_ = static_cast<int64_t>(::time(nullptr));
    std::unordered_map<std::string, Backend*> by_name;
    for (auto& p : cfg_->proxies) {
        if (!p.is_backend)
            continue;
        auto be = std::make_unique<Backend>();
        be->conf = &p;
        for (auto& s : p.servers) {
            Server srv;
            srv.conf = &s;
            srv.admin = s.disabled ? AdminState::Maint : AdminState::Ready;
            srv.weight = s.weight;
            be->servers.push_back(std::move(srv));
            ServerSlot slot;
            slot.weight = s.weight;
            slot.maxconn = s.maxconn;
            slot.backup = s.backup;
            slot.disabled = s.disabled;
            be->slots.push_back(slot);
        }
        be->lb = std::make_unique<LoadBalancer>(p.balance, &be->slots);
        by_name[p.name] = be.get();
        backends_.push_back(std::move(be));
    }
    // Global maxconn is per worker, as HAProxy's is per process. Unset: what the fd limit allows.
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    int by_fds = static_cast<int>(std::min<rlim_t>((rl.rlim_cur > 128 ? rl.rlim_cur - 64 : 32) / 2, 1000000));
    global_maxconn_ = cfg_->global.maxconn > 0 ? std::min(cfg_->global.maxconn, by_fds) : std::min(by_fds, 100000);
    for (auto& p : cfg_->proxies) {
        if (!p.is_frontend)
            continue;
        auto fe = std::make_unique<Frontend>();
        fe->conf = &p;
        if (p.is_backend)
            fe->backend = by_name[p.name];
        if (!p.default_backend.empty())
            fe->backend = by_name[p.default_backend];
        fe->maxconn = p.maxconn > 0 ? p.maxconn : global_maxconn_;
        fe->has_log = p.log.has_targets();
        max_pipes_ = std::max(1, global_maxconn_ / 4);  // HAProxy's default maxpipes
        frontends_.push_back(std::move(fe));
    }
}

Runtime::~Runtime() {
    if (shared_)
        ::munmap(shared_, shared_len_);
}

std::string Runtime::attach_shared(UniqueFd fd) {
    struct stat st{};
    size_t need = std::max<size_t>(backends_.size(), 1) * 64;
    if (::fstat(fd.get(), &st) < 0 || static_cast<size_t>(st.st_size) < need)
        return "the shared memory from the master is too small";
    void* p = ::mmap(nullptr, need, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED)
        return strprintf("cannot map the shared memory: %s", std::strerror(errno));
    shared_ = p;
    shared_len_ = need;
    // One cache line per backend, so workers do not contend on neighbours' counters.
    for (size_t i = 0; i < backends_.size(); ++i)
        backends_[i]->ticket = reinterpret_cast<std::atomic<uint64_t>*>(static_cast<char*>(p) + 64 * i);
    return "";
}

PickResult Runtime::pick(Backend& be, int* chosen, int skip, const Conn* c) noexcept {
    std::string_view key;
    bool has_key = false;
    if (be.lb->needs_key() && c)
        has_key = balance_key(be.conf->balance, c->http && c->http->have_req ? &c->http->req : nullptr, &c->src_addr,
                              &key_scratch_, &key);
    uint64_t t = 0;
    if (be.lb->needs_ticket(has_key))
        t = be.ticket ? be.ticket->fetch_add(1, std::memory_order_relaxed) : be.local_ticket++;
    return be.lb->pick(key, has_key, t, chosen, skip);
}

void Runtime::add_listener_fd(const std::string& key, UniqueFd fd) {
    auto l = std::make_unique<Listener>();
    l->ep.owner = l.get();
    l->fd = std::move(fd);
    l->key = key;
    listeners_.push_back(std::move(l));
}

std::string Runtime::prepare() {
    for (auto& fe : frontends_) {
        for (auto& b : fe->conf->binds) {
            std::string key = b.key();
            auto it = std::find_if(listeners_.begin(), listeners_.end(),
                                   [&](auto& l) { return l->key == key; });
            if (it == listeners_.end())
                return strprintf("no listening socket received for bind '%s' of proxy '%s'", b.spec.c_str(),
                                 fe->conf->name.c_str());
            (*it)->fe = fe.get();
            (void)set_nonblock((*it)->fd.get(), true);
            Listener& li = **it;
            socklen_t ll = sizeof li.local;
            if (::getsockname(li.fd.get(), reinterpret_cast<sockaddr*>(&li.local), &ll) == 0) {
                if (li.local.ss_family == AF_INET)
                    li.specific = reinterpret_cast<sockaddr_in&>(li.local).sin_addr.s_addr != htonl(INADDR_ANY);
                else if (li.local.ss_family == AF_INET6)
                    li.specific = !IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<sockaddr_in6&>(li.local).sin6_addr);
                else
                    li.specific = true;
                // Accepted sockets inherit TCP_NODELAY from the listening one: set it once
                // here instead of once per connection.
                if (li.local.ss_family == AF_INET || li.local.ss_family == AF_INET6) {
                    int one = 1;
                    li.nodelay_inherited =
                        ::setsockopt(li.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0;
                }
            }
            fe->listeners.push_back(it->get());
        }
    }
    epfd_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epfd_.valid())
        return strprintf("epoll_create1: %s", std::strerror(errno));
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGUSR1, SIGTERM, SIGINT, SIGHUP, SIGUSR2, SIGPIPE, SIGTTOU, SIGTTIN})
        sigaddset(&mask, s);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    sigdelset(&mask, SIGPIPE);
    sigfd_.reset(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!sigfd_.valid())
        return strprintf("signalfd: %s", std::strerror(errno));
    (void)set_nonblock(ctl_.get(), true);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &sig_ep_;
    ::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, sigfd_.get(), &ev);
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = &ctl_ep_;
    ::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, ctl_.get(), &ev);
    return "";
}

void Runtime::pause_listener(Listener& l) noexcept {
    if (!l.registered)
        return;
    ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, l.fd.get(), nullptr);
    l.registered = false;
}

void Runtime::resume_listener(Listener& l) noexcept {
    if (l.registered || !l.fd.valid() || stopping_)
        return;
    epoll_event ev{};
    // EPOLLEXCLUSIVE: with several workers on one socket, one is woken per connection.
    // Adding an fd that already has pending connections reports it ready at once.
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.ptr = &l.ep;
    if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, l.fd.get(), &ev) == 0)
        l.registered = true;
}

bool Runtime::accepting_limit_reached(const Frontend& fe) const {
    return cur_conns_ >= global_maxconn_ || fe.cur_conns >= fe.maxconn;
}

void Runtime::update_listeners() noexcept {
    // A worker at its limit leaves the socket's wait queue, so the kernel wakes another
    // worker (or keeps the connection queued) instead of waking this one in vain.
    for (auto& fe : frontends_) {
        bool full = accepting_limit_reached(*fe);
        for (Listener* l : fe->listeners) {
            if (full)
                pause_listener(*l);
            else
                resume_listener(*l);
        }
    }
}

int Runtime::run() {
    // Runtime server state the master replays (operators' 'disable server' etc.) is already
    // queued on the control socket: apply it before serving.
    on_control();
    if (done_)
        return exit_code_;
    update_listeners();
    if (!send_message(ctl_.get(), ReadyMsg{static_cast<uint32_t>(::getpid())}))
        return 1;
    epoll_event evs[256];
    while (!done_) {
        int timeout = -1;
        if (!accept_backlog_.empty() || !repump_.empty()) {
            timeout = 0;
        } else {
            while (!timers_.empty() && !conns_.count(timers_.top().second))
                timers_.pop();
            if (!timers_.empty()) {
                auto d = std::chrono::duration_cast<std::chrono::milliseconds>(timers_.top().first - Clock::now());
                timeout = static_cast<int>(std::clamp<int64_t>(d.count() + 1, 0, 60000));
            }
        }
        int n = ::epoll_wait(epfd_.get(), evs, 256, timeout);
        now_ = Clock::now();
        if (n < 0 && errno != EINTR) {
            log_alert("epoll_wait: %s", std::strerror(errno));
            return 1;
        }
        for (int i = 0; i < n; ++i)
            on_event(static_cast<Endpoint*>(evs[i].data.ptr), evs[i].events);
        if (!accept_backlog_.empty()) {
            auto pending = std::move(accept_backlog_);
            accept_backlog_.clear();
            for (Listener* l : pending)
                if (l->registered)
                    on_accept(*l);
        }
        if (!repump_.empty()) {
            auto ids = std::move(repump_);
            repump_.clear();
            for (uint64_t id : ids) {
                auto it = conns_.find(id);
                if (it != conns_.end() && it->second->phase != Phase::Closed)
                    pump(*it->second);
            }
        }
        run_timers();
        purge_idle();
        graveyard_.clear();
        idle_graveyard_.clear();
        if (stopping_ && conns_.empty())
            done_ = true;
    }
    return exit_code_;
}

void Runtime::on_event(Endpoint* ep, uint32_t events) noexcept {
    switch (ep->kind) {
    case Endpoint::Kind::Listener: {
        auto* l = static_cast<Listener*>(ep->owner);
        if (l->registered)
            on_accept(*l);
        return;
    }
    case Endpoint::Kind::Control: on_control(); return;
    case Endpoint::Kind::Signal: on_signal(); return;
    case Endpoint::Kind::IdleServer: on_idle_event(*static_cast<IdleConn*>(ep->owner)); return;
    case Endpoint::Kind::Client:
    case Endpoint::Kind::Server: break;
    }
    auto* c = static_cast<Conn*>(ep->owner);
    if (!c)
        return;  // an event for a server socket this connection has replaced since
    if (c->phase == Phase::Closed)
        return;
    Side& s = ep->kind == Endpoint::Kind::Client ? c->cli : c->srv;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        s.readable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        s.rdhup = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        s.writable = true;
    if (ep->kind == Endpoint::Kind::Server && c->phase == Phase::Connecting) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            on_connect_result(*c, (events & (EPOLLERR | EPOLLHUP)) != 0);
        return;
    }
    pump(*c);
}

void Runtime::on_accept(Listener& l) noexcept {
    Frontend& fe = *l.fe;
    for (int i = 0; i < kAcceptBatch || stopping_; ++i) {
        if (!stopping_ && accepting_limit_reached(fe)) {
            update_listeners();
            return;
        }
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        int fd = ::accept4(l.fd.get(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                log_warning("proxy '%s': accept: %s, ignoring", fe.conf->name.c_str(), std::strerror(errno));
            return;  // EAGAIN: drained; the next edge wakes us
        }
        auto c = std::make_unique<Conn>();
        c->id = next_id_++;
        c->fe = &fe;
        c->be = fe.backend;
        c->cli.ep = Endpoint{Endpoint::Kind::Client, c.get()};
        c->srv.ep = Endpoint{Endpoint::Kind::Server, c.get()};
        c->cli.fd.reset(fd);
        c->cli.last_io = now_;
        c->scheduled = kNever;
        c->src = sockaddr_to_string(reinterpret_cast<sockaddr*>(&ss), len);
        c->src_addr = ss;
        if (fe.conf->mode == ProxyMode::Http) {
            if (l.specific) {
                c->dst_addr = l.local;
            } else {
                socklen_t dl = sizeof c->dst_addr;
                ::getsockname(fd, reinterpret_cast<sockaddr*>(&c->dst_addr), &dl);
            }
        }
        c->accepted = now_;
        if (fe.has_log) {
            timespec ts{};
            ::clock_gettime(CLOCK_REALTIME, &ts);
            c->accepted_unix_us = static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
        }
        if (!l.nodelay_inherited && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = &c->cli.ep;
        ::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev);
        ++cur_conns_;
        ++fe.cur_conns;
        ++fe.cum_conns;
        ++cum_conns_;
        int64_t sec = std::chrono::duration_cast<std::chrono::seconds>(now_.time_since_epoch()).count();
        fe.counters.open(sec);
        conn_rate_.add(sec);
        max_conn_rate_ = std::max(max_conn_rate_, conn_rate_.rate(sec));
        Conn& ref = *c;
        conns_.emplace(c->id, std::move(c));
        log_debug("conn #%llu: accepted from %s on '%s'", static_cast<unsigned long long>(ref.id), ref.src.c_str(),
                  fe.conf->name.c_str());
        start_conn(ref);
    }
    // Batch limit hit: come back after serving the other ready fds.
    accept_backlog_.push_back(&l);
}

Buffer Runtime::make_buffer() {
    Buffer b;
    if (!buffer_pool_.empty()) {
        b.data = std::move(buffer_pool_.back());
        buffer_pool_.pop_back();
    } else {
        b.data = std::make_unique<char[]>(buf_size_);
    }
    b.cap = buf_size_;
    return b;
}

void Runtime::recycle_buffer(Buffer& b) {
    if (b.data && buffer_pool_.size() < 1024)
        buffer_pool_.push_back(std::move(b.data));
    b.data.reset();
    b.cap = b.start = b.end = 0;
}

void Runtime::start_conn(Conn& c) noexcept {
    c.c2s = make_buffer();
    c.s2c = make_buffer();
    c.phase_start = now_;
    if (c.fe->conf->mode == ProxyMode::Http) {
        http_start(c);
        return;
    }
    if (c.be)
        c.be->counters.open(std::chrono::duration_cast<std::chrono::seconds>(now_.time_since_epoch()).count());
    if (!c.be || c.be->servers.empty()) {
        close_conn(c, "no backend server");
        return;
    }
    int chosen = -1;
    switch (pick(*c.be, &chosen, -1, &c)) {
    case PickResult::Picked:
        c.server = chosen;
        ++c.be->slots[static_cast<size_t>(chosen)].cur_conns;
        connect_server(c);
        return;
    case PickResult::AllFull:
        c.phase = Phase::Queued;
        c.be->queue.push_back(c.id);
        c.be->counters.qcur = c.be->queue.size();
        c.be->counters.qmax = std::max(c.be->counters.qmax, c.be->counters.qcur);
        update_deadline(c);
        return;
    case PickResult::NoServer: close_conn(c, "no server available"); return;
    }
}

void Runtime::count_bytes(Conn& c, bool to_server, size_t n) noexcept {
    auto add = [&](Counters& k) { (to_server ? k.bytes_in : k.bytes_out) += n; };
    add(c.fe->counters);
    if (c.be)
        add(c.be->counters);
    if (c.be && c.server >= 0)
        add(c.be->servers[static_cast<size_t>(c.server)].counters);
    (to_server ? c.bytes_in : c.bytes_out) += n;
    if (!to_server)
        total_bytes_out_ += n;
}

// Each new server socket of a connection gets the other of its two server endpoints, and the
// previous one is disowned: events already collected for the old socket in this epoll batch
// (they carry the old endpoint) are then ignored instead of being taken for the new socket's.
Endpoint* Runtime::fresh_srv_ep(Conn& c) noexcept {
    c.srv_eps[c.srv_ep_idx].owner = nullptr;
    c.srv_ep_idx ^= 1;
    c.srv_eps[c.srv_ep_idx] = Endpoint{Endpoint::Kind::Server, &c};
    return &c.srv_eps[c.srv_ep_idx];
}

void Runtime::connect_server(Conn& c) noexcept {
    Server& s = c.be->servers[static_cast<size_t>(c.server)];
    const SockAddr& a = s.conf->addr;
    if (c.tw_ms < 0)
        c.tw_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now_ - c.accepted).count();
    c.last_server = c.server;
    c.phase = Phase::Connecting;
    c.phase_start = now_;
    if (c.attempts > 0)
        ++s.counters.retries;
    ++c.attempts;
    ++s.counters.lbtot;
    s.counters.open(std::chrono::duration_cast<std::chrono::seconds>(now_.time_since_epoch()).count());
    int domain = a.family == AddrFamily::Inet6 ? AF_INET6 : a.is_inet() ? AF_INET : AF_UNIX;
    int fd = ::socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        connect_failed(c, "socket");
        return;
    }
    c.srv.fd.reset(fd);
    c.srv_uses = 0;
    c.srv.readable = c.srv.writable = c.srv.rd_eof = c.srv.wr_shut = c.srv.rdhup = c.srv.error = false;
    if (a.is_inet()) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = fresh_srv_ep(c);
    ::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev);
    int rc = ::connect(fd, a.sa(), a.len);
    if (rc < 0 && errno != EINPROGRESS) {
        connect_failed(c, std::strerror(errno));
        return;
    }
    update_deadline(c);
    if (rc == 0) {
        c.srv.writable = true;
        on_connect_result(c, false);
        return;
    }
    if (c.http && c.http->rq.head_pending()) {
        // Optimistic send (as HAProxy): on loopback and fast networks the handshake is often
        // done already; if so, the request leaves now instead of after one more epoll round.
        // A socket still connecting answers EAGAIN.
        c.srv.writable = true;
        bool progress = false;
        http_send(c, c.srv, c.http->rq, c.c2s, true, &progress);
        if (progress) {
            on_connect_result(c, false);
        } else if (c.srv.error) {
            c.srv.error = false;
            connect_failed(c, "connection refused or reset");
        } else {
            c.srv.writable = false;
        }
    }
}

void Runtime::on_connect_result(Conn& c, bool maybe_error) noexcept {
    // Writable without error or hang-up: connected (the SO_ERROR query is only needed then).
    int err = 0;
    socklen_t l = sizeof err;
    if (maybe_error && ::getsockopt(c.srv.fd.get(), SOL_SOCKET, SO_ERROR, &err, &l) < 0)
        err = errno;
    if (maybe_error && err == 0)
        err = ECONNRESET;  // error reported, none pending any more
    if (err != 0) {
        connect_failed(c, std::strerror(err));
        return;
    }
    c.tc_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now_ - c.phase_start).count();
    if (c.http) {
        c.http->info.t.Tc = c.tc_ms;
        c.http->req_sent = now_;
    }
    c.phase = Phase::Established;
    c.phase_start = now_;
    c.srv.last_io = now_;
    c.cli.last_io = now_;
    // Readiness is already tracked: the server socket was registered (edge-triggered) before
    // connect(), and the client side kept being read while connecting.
    c.srv.writable = true;
    c.cli.writable = true;
    update_deadline(c);
    pump(c);
}

void Runtime::connect_failed(Conn& c, const char* why) noexcept {
    Server& s = c.be->servers[static_cast<size_t>(c.server)];
    ++s.counters.conn_errors;
    ++c.be->counters.conn_errors;
    log_debug("conn #%llu: connect to server '%s/%s' failed: %s", static_cast<unsigned long long>(c.id),
              c.be->conf->name.c_str(), s.conf->name.c_str(), why);
    if (c.srv.fd.valid()) {
        ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, c.srv.fd.get(), nullptr);
        c.srv.fd.reset();
    }
    int failed = c.server;
    release_server(c);
    if (c.attempts > c.be->conf->retries) {
        if (c.http)
            http_error(c, 503, 'S', 'C', "connection to server failed, retries exhausted");
        else
            close_conn(c, "connection to server failed, retries exhausted");
        return;
    }
    // HAProxy's turn-around: wait min(timeout connect, 1 s) before retrying, so that a
    // restarting server is not hammered. The connection stays "connecting" with no socket.
    const auto& tc = c.be->conf->timeouts.connect;
    auto wait = std::chrono::milliseconds(tc ? std::min<uint64_t>(*tc, 1000) : 1000);
    c.phase = Phase::Connecting;
    c.phase_start = now_;
    c.retry_at = now_ + wait;
    c.retry_skip = failed;
    update_deadline(c);
}

void Runtime::retry_connect(Conn& c) noexcept {
    c.retry_at = Clock::time_point{};
    int chosen = -1;
    switch (pick(*c.be, &chosen, c.retry_skip, &c)) {
    case PickResult::Picked:
        c.server = chosen;
        ++c.be->slots[static_cast<size_t>(chosen)].cur_conns;
        connect_server(c);
        return;
    case PickResult::AllFull:
        c.phase = Phase::Queued;
        c.phase_start = now_;
        c.be->queue.push_back(c.id);
        update_deadline(c);
        return;
    case PickResult::NoServer:
        if (c.http)
            http_error(c, 503, 'S', 'C', "no server available");
        else
            close_conn(c, "no server available");
        return;
    }
}

// Moves what it can from side `a` to side `b` (one direction). Returns false if the connection
// was closed. Reads go into the 16 KiB buffer; once a single read fills it (a bulk transfer)
// and a pipe is available, the direction switches to splice(2): socket -> pipe -> socket with
// no copy through user space. The buffer is always drained before splicing, so bytes keep
// their order.
bool Runtime::transfer(Conn& c, Side& a, Side& b, Buffer& buf, Pipe& p, bool to_server, bool* progress) noexcept {
    const bool can_send = c.phase == Phase::Established;
    const char* rd_err = to_server ? "client read error" : "server read error";
    const char* wr_err = to_server ? "server write error" : "client write error";
    if (!p.active) {
        if (a.readable && !a.rd_eof && buf.room() > 0) {
            size_t room = buf.room();
            ssize_t n = ::read(a.fd.get(), buf.data.get() + buf.end, room);
            if (n > 0) {
                buf.end += static_cast<size_t>(n);
                a.last_io = now_;
                *progress = true;
                // A short read drained the socket: edge-triggered epoll reports the next
                // arrival, so skip the read that would only return EAGAIN (one syscall per
                // message saved). Not once the peer's FIN was reported: that needs the 0 read.
                if (static_cast<size_t>(n) < room && !a.rdhup)
                    a.readable = false;
                if (static_cast<size_t>(n) == room && room == buf_size_ && can_send)
                    acquire_pipe(p);
            } else if (n == 0) {
                a.rd_eof = true;
                *progress = true;
            } else if (errno == EAGAIN) {
                a.readable = false;
            } else if (errno != EINTR) {
                close_conn(c, rd_err);
                return false;
            }
        }
    } else if (buf.empty() && a.readable && !a.rd_eof && p.bytes < kPipeSize) {
        ssize_t n = ::splice(a.fd.get(), nullptr, p.w.get(), nullptr, kPipeSize - p.bytes,
                             SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            // No short-read shortcut here: a pipe holds a number of buffers, not bytes, so a
            // short splice may mean "pipe full" with data left in the socket.
            p.bytes += static_cast<size_t>(n);
            a.last_io = now_;
            *progress = true;
        } else if (n == 0) {
            a.rd_eof = true;
            *progress = true;
        } else if (errno == EAGAIN) {
            a.readable = false;
        } else if (errno != EINTR) {
            close_conn(c, rd_err);
            return false;
        }
    }
    if (!can_send)
        return true;
    if (!buf.empty() && b.writable) {
        size_t want = buf.size();
        ssize_t n = ::send(b.fd.get(), buf.data.get() + buf.start, want, MSG_NOSIGNAL);
        if (n > 0) {
            if (static_cast<size_t>(n) < want)
                b.writable = false;  // socket buffer full: EPOLLOUT will say when it drains
            buf.start += static_cast<size_t>(n);
            buf.compact();
            b.last_io = now_;
            count_bytes(c, to_server, static_cast<size_t>(n));
            *progress = true;
        } else if (n < 0 && errno == EAGAIN) {
            b.writable = false;
        } else if (n < 0 && errno != EINTR) {
            close_conn(c, wr_err);
            return false;
        }
    }
    if (buf.empty() && p.bytes > 0 && b.writable) {
        size_t want = p.bytes;
        ssize_t n = ::splice(p.r.get(), nullptr, b.fd.get(), nullptr, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            if (static_cast<size_t>(n) < want)
                b.writable = false;
            p.bytes -= static_cast<size_t>(n);
            b.last_io = now_;
            count_bytes(c, to_server, static_cast<size_t>(n));
            spliced_bytes_ += static_cast<uint64_t>(n);
            *progress = true;
        } else if (n < 0 && errno == EAGAIN) {
            b.writable = false;
        } else if (n < 0 && errno != EINTR) {
            close_conn(c, wr_err);
            return false;
        }
    }
    if (a.rd_eof && buf.empty() && p.bytes == 0 && !b.wr_shut) {
        ::shutdown(b.fd.get(), SHUT_WR);
        b.wr_shut = true;
        *progress = true;
    }
    return true;
}

void Runtime::acquire_pipe(Pipe& p) noexcept {
    if (!pipe_pool_.empty()) {
        p = std::move(pipe_pool_.back());
        pipe_pool_.pop_back();
    } else {
        if (pipes_used_ >= max_pipes_)
            return;
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
            return;
        p.r.reset(fds[0]);
        p.w.reset(fds[1]);
        ++pipes_used_;
    }
    p.bytes = 0;
    p.active = true;
}

void Runtime::release_pipe(Pipe& p) noexcept {
    if (!p.r.valid())
        return;
    p.active = false;
    if (p.bytes == 0 && pipe_pool_.size() < 64) {
        pipe_pool_.push_back(std::move(p));
    } else {
        // Data left in it (connection aborted): not reusable.
        p.r.reset();
        p.w.reset();
        --pipes_used_;
    }
    p.bytes = 0;
}

void Runtime::pump(Conn& c) noexcept {
    if (c.http) {
        http_pump(c);
        return;
    }
    bool progress = true;
    while (progress && c.phase != Phase::Closed) {
        progress = false;
        if (!transfer(c, c.cli, c.srv, c.c2s, c.c2s_pipe, true, &progress))
            return;
        if (c.phase == Phase::Established) {
            if (!transfer(c, c.srv, c.cli, c.s2c, c.s2c_pipe, false, &progress))
                return;
            if (c.cli.wr_shut && c.srv.wr_shut) {
                close_conn(c, "both sides closed");
                return;
            }
        } else if (c.cli.rd_eof && c.phase == Phase::Queued && c.c2s.empty()) {
            // Client gave up before a server was even chosen and sent nothing: nothing to forward.
            close_conn(c, "client closed while queued");
            return;
        }
    }
    if (c.phase != Phase::Closed)
        update_deadline(c);
}

Clock::time_point Runtime::deadline_of(const Conn& c) const {
    if (c.http)
        return http_deadline(c);
    const Timeouts& t = c.be ? c.be->conf->timeouts : c.fe->conf->timeouts;
    const Timeouts& ft = c.fe->conf->timeouts;
    switch (c.phase) {
    case Phase::Queued: {
        auto q = t.queue ? t.queue : t.connect;  // HAProxy: timeout queue defaults to timeout connect
        return q ? c.phase_start + ms(*q) : kNever;
    }
    case Phase::Connecting:
        if (!c.srv.fd.valid())
            return c.retry_at;
        return t.connect ? c.phase_start + ms(*t.connect) : kNever;
    case Phase::Established: {
        auto tunnel = t.tunnel ? t.tunnel : ft.tunnel;
        if (tunnel)
            return std::max(c.cli.last_io, c.srv.last_io) + ms(*tunnel);
        auto d = kNever;
        if (ft.client)
            d = std::min(d, c.cli.last_io + ms(*ft.client));
        if (t.server)
            d = std::min(d, c.srv.last_io + ms(*t.server));
        return d;
    }
    case Phase::Closed:
    case Phase::Idle: return kNever;
    }
    return kNever;
}

void Runtime::update_deadline(Conn& c) noexcept {
    auto d = deadline_of(c);
    // Deadlines mostly move later; a later one is found when the earlier entry pops.
    if (d < c.scheduled) {
        c.scheduled = d;
        timers_.emplace(d, c.id);
    }
}

void Runtime::run_timers() noexcept {
    while (!timers_.empty() && timers_.top().first <= now_) {
        auto [t, id] = timers_.top();
        timers_.pop();
        auto it = conns_.find(id);
        if (it == conns_.end())
            continue;
        Conn& c = *it->second;
        if (c.scheduled != t)
            continue;  // stale entry
        c.scheduled = kNever;
        auto d = deadline_of(c);
        if (d <= now_) {
            expire(c);
        } else {
            update_deadline(c);
        }
    }
}

void Runtime::expire(Conn& c) noexcept {
    if (c.http) {
        http_expire(c);
        return;
    }
    switch (c.phase) {
    case Phase::Queued: close_conn(c, "timeout queue"); break;
    case Phase::Connecting:
        if (!c.srv.fd.valid())
            retry_connect(c);
        else
            connect_failed(c, "timeout connect");
        break;
    case Phase::Established: close_conn(c, "inactivity timeout"); break;
    case Phase::Closed:
    case Phase::Idle: break;
    }
}

void Runtime::release_server(Conn& c) noexcept {
    if (c.server < 0 || !c.be)
        return;
    auto& slot = c.be->slots[static_cast<size_t>(c.server)];
    --slot.cur_conns;
    c.be->servers[static_cast<size_t>(c.server)].counters.close();
    c.server = -1;
    dequeue(*c.be);
}

void Runtime::dequeue(Backend& be) noexcept {
    while (!be.queue.empty()) {
        auto it = conns_.find(be.queue.front());
        if (it == conns_.end() || it->second->phase != Phase::Queued) {
            be.queue.pop_front();
            be.counters.qcur = be.queue.size();
            continue;
        }
        int chosen = -1;
        auto r = pick(be, &chosen, -1, it->second.get());
        if (r != PickResult::Picked)
            return;
        be.queue.pop_front();
        be.counters.qcur = be.queue.size();
        Conn& c = *it->second;
        c.server = chosen;
        ++be.slots[static_cast<size_t>(chosen)].cur_conns;
        connect_server(c);
    }
}

void Runtime::log_stream(const Conn& c, const StreamInfo& s) noexcept {
    process_logger().log_stream(*c.fe->conf, s);
}

namespace {
// Termination state of a TCP stream from the reason it ended (HAProxy's %ts).
void tcp_term(const char* why, Phase was, char* t) {
    std::string_view w(why);
    t[0] = '-';
    t[1] = '-';
    if (w == "timeout queue") {
        t[0] = 's';
        t[1] = 'Q';
    } else if (w.find("retries exhausted") != std::string_view::npos || w == "no server available" ||
               w == "no backend server") {
        t[0] = 'S';
        t[1] = 'C';
    } else if (w == "inactivity timeout") {
        t[0] = 'c';
        t[1] = 'D';
    } else if (w.find("client") != std::string_view::npos && w != "client closed while queued") {
        t[0] = 'C';
        t[1] = was == Phase::Established ? 'D' : 'C';
    } else if (w.find("server") != std::string_view::npos) {
        t[0] = 'S';
        t[1] = 'D';
    } else if (w == "hard stop") {
        t[0] = 'K';
        t[1] = was == Phase::Established ? 'D' : 'C';
    } else if (w == "client closed while queued") {
        t[0] = 'C';
        t[1] = 'Q';
    }
}
}  // namespace

void Runtime::log_tcp(Conn& c, const char* why, Phase was) noexcept {
    StreamInfo i;
    if (c.dst_addr.ss_family == 0 && c.cli.fd.valid()) {
        socklen_t dl = sizeof c.dst_addr;
        ::getsockname(c.cli.fd.get(), reinterpret_cast<sockaddr*>(&c.dst_addr), &dl);
    }
    i.src = &c.src_addr;
    i.dst = &c.dst_addr;
    i.accept_unix_us = c.accepted_unix_us;
    i.frontend = c.fe->conf->name;
    i.backend = c.be ? std::string_view(c.be->conf->name) : i.frontend;
    i.server = c.be && c.last_server >= 0 ? std::string_view(c.be->servers[static_cast<size_t>(c.last_server)].conf->name)
                                          : std::string_view("<NOSRV>");
    i.bytes_in = c.bytes_in;
    i.bytes_out = c.bytes_out;
    i.t.Tw = c.tw_ms;
    i.t.Tc = c.tc_ms;
    i.t.Tt = std::chrono::duration_cast<std::chrono::milliseconds>(now_ - c.accepted).count();
    i.t.Ta = i.t.Tt;
    tcp_term(why, was, i.term);
    i.retries = c.attempts > 0 ? c.attempts - 1 : 0;
    i.actconn = cur_conns_;
    i.feconn = c.fe->cur_conns;
    i.beconn = c.be ? static_cast<int>(c.be->counters.cur) : 0;
    i.srv_conn = c.be && c.last_server >= 0 ? c.be->slots[static_cast<size_t>(c.last_server)].cur_conns : 0;
    i.backend_queue = c.be ? static_cast<int>(c.be->queue.size()) : 0;
    i.state = this;
    log_stream(c, i);
}

void Runtime::close_conn(Conn& c, const char* why) noexcept {
    if (c.phase == Phase::Closed)
        return;
    log_debug("conn #%llu: closed in phase %d: %s", static_cast<unsigned long long>(c.id), static_cast<int>(c.phase),
              why);
    if (c.http && c.phase == Phase::Idle && c.srv.fd.valid())
        http_drop_server(c, true);  // its idle server connection goes to the pool
    if (!c.http && c.fe->has_log)
        log_tcp(c, why, c.phase);
    Phase was = c.phase;
    c.phase = Phase::Closed;
    c.cli.fd.reset();  // close() also removes it from the epoll set
    c.srv.fd.reset();
    recycle_buffer(c.c2s);
    recycle_buffer(c.s2c);
    release_pipe(c.c2s_pipe);
    release_pipe(c.s2c_pipe);
    // Only a worker that was at a limit has paused listeners to resume: the global limit
    // concerns every frontend, a frontend's own only its listeners.
    bool was_global_full = cur_conns_ >= global_maxconn_;
    bool was_fe_full = c.fe->cur_conns >= c.fe->maxconn;
    --cur_conns_;
    --c.fe->cur_conns;
    c.fe->counters.close();
    if (c.be)
        c.be->counters.close();
    if (was != Phase::Queued)
        release_server(c);
    auto it = conns_.find(c.id);
    if (it != conns_.end()) {
        graveyard_.push_back(std::move(it->second));
        conns_.erase(it);
    }
    if (was_global_full)
        update_listeners();
    else if (was_fe_full && !accepting_limit_reached(*c.fe))
        for (Listener* l : c.fe->listeners)
            resume_listener(*l);
}

void Runtime::on_control() noexcept {
    for (;;) {
        RecvOutcome r = recv_message(ctl_.get());
        switch (r.kind) {
        case RecvOutcome::Kind::WouldBlock: return;
        case RecvOutcome::Kind::Message: break;
        case RecvOutcome::Kind::ProtocolError:
            log_alert("invalid control message from the master (%s), ignoring", r.error.c_str());
            continue;
        case RecvOutcome::Kind::Eof:
        case RecvOutcome::Kind::SysError:
            log_warning("control channel to the master closed: stopping softly");
            ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, ctl_.get(), nullptr);
            ctl_.reset();
            soft_stop();
            return;
        }
        if (auto* cr = std::get_if<CliRequestMsg>(&r.message->msg))
            on_cli_request(*cr);
        else if (std::holds_alternative<SoftStopMsg>(r.message->msg))
            soft_stop();
        else if (std::holds_alternative<HardStopMsg>(r.message->msg))
            hard_stop();
    }
}

void Runtime::on_signal() noexcept {
    for (;;) {
        signalfd_siginfo si{};
        if (::read(sigfd_.get(), &si, sizeof si) != sizeof si)
            return;
        if (si.ssi_signo == SIGUSR1)
            soft_stop();
        else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            hard_stop();
        else if (si.ssi_signo == SIGTTOU)
            for (auto& l : listeners_)
                pause_listener(*l);
        else if (si.ssi_signo == SIGTTIN)
            update_listeners();
    }
}

void Runtime::soft_stop() noexcept {
    if (stopping_)
        return;
    log_debug("soft stop: closing listeners, %zu connections to finish", conns_.size());
    // Leave the wait queues first, so new connections wake the new generation, then take
    // whatever is already queued to us (a wakeup may have been spent on this worker), and
    // only then close our copies. The master keeps the sockets open.
    for (auto& l : listeners_)
        pause_listener(*l);
    stopping_ = true;
    for (auto& l : listeners_)
        if (l->fe && l->fd.valid())
            on_accept(*l);
    for (auto& l : listeners_)
        l->fd.reset();
    accept_backlog_.clear();
    if (conns_.empty())
        done_ = true;
}

void Runtime::hard_stop() noexcept {
    stopping_ = true;
    std::vector<Conn*> all;
    for (auto& [id, c] : conns_)
        all.push_back(c.get());
    for (Conn* c : all)
        close_conn(*c, "hard stop");
    done_ = true;
}

}  // namespace proxyd::worker
