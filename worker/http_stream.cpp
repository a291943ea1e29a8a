// mode http: the HTTP/1.1 data path of a worker. One client connection carries one exchange at
// a time (pipelined requests wait in the buffer); each request head is parsed strictly, goes
// through the frontend's rules, is routed (use_backend), through the backend's rules, then to a
// server over a reused or new connection. Heads are always re-serialised (framing and
// connection fields rebuilt by proxyd); bodies are forwarded as received once their framing is
// checked (Content-Length, chunked, until close).
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "common/rules.h"
#include "worker/http_errors.h"
#include "worker/runtime.h"

namespace proxyd::worker {

using namespace proxyd::common;

namespace {
constexpr auto kNever = Clock::time_point::max();
constexpr auto kLingerMax = std::chrono::milliseconds(1000);
// Idle connections a worker keeps per server; beyond, a finished connection is closed, so that a
// stream of new clients (each first request on a connection of its own) cannot pile up
// thousands of idle connections on a server.
constexpr size_t kMaxIdlePerServer = 64;

std::chrono::milliseconds ms(uint64_t v) { return std::chrono::milliseconds(static_cast<int64_t>(v)); }

int64_t wall_us() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

int64_t ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

// Fields proxyd always rebuilds or never forwards (hop-by-hop).
bool hop_by_hop(std::string_view name) {
    return ascii_iequals(name, "connection") || ascii_iequals(name, "proxy-connection") ||
           ascii_iequals(name, "keep-alive") || ascii_iequals(name, "content-length") ||
           ascii_iequals(name, "transfer-encoding") || ascii_iequals(name, "upgrade");
}

void append_field(std::string* out, std::string_view n, std::string_view v) {
    out->append(n);
    out->append(": ");
    out->append(v);
    out->append("\r\n");
}

// Appends the framing fields of a message whose head `h` (fields from `head`) was parsed.
void append_framing(std::string* out, const Http1Head& info, const HttpHead& head) {
    if (info.framing == BodyFraming::None) {
        // A response without body (HEAD, 204, 304) still describes the representation.
        if (info.status == 204 || (info.status >= 100 && info.status < 200))
            return;
        int i = head.find("content-length");
        if (i >= 0)
            append_field(out, "Content-Length", head.fields[static_cast<size_t>(i)].value);
        else if ((i = head.find("transfer-encoding")) >= 0)
            append_field(out, "Transfer-Encoding", head.fields[static_cast<size_t>(i)].value);
        return;
    }
    if (info.framing == BodyFraming::ContentLength) {
        char num[24];
        int n = std::snprintf(num, sizeof num, "%llu", static_cast<unsigned long long>(info.content_length));
        append_field(out, "Content-Length", std::string_view(num, static_cast<size_t>(n)));
    } else if (info.framing == BodyFraming::Chunked || (info.framing == BodyFraming::UntilClose &&
                                                          head.find("transfer-encoding") >= 0)) {
        // One line with every coding, in order (several fields are merged).
        out->append("Transfer-Encoding: ");
        bool first = true;
        for (const auto& f : head.fields) {
            if (!ascii_iequals(f.name, "transfer-encoding"))
                continue;
            if (!first)
                out->append(", ");
            out->append(f.value);
            first = false;
        }
        out->append("\r\n");
    }
}

void fill_head(HttpHead* h, const Http1Parser& p, std::string_view raw, bool request) {
    h->clear();
    const Http1Head& i = p.head();
    if (request) {
        h->method = i.method_name.in(raw);
        h->uri = i.target.in(raw);
    } else {
        h->status = i.status;
        h->reason = i.reason.in(raw);
    }
    h->version = i.version == HttpVersion::Http10 ? 10 : 11;
    for (const auto& f : p.headers())
        h->fields.push_back(HttpField{f.name.in(raw), f.value.in(raw)});
}

bool prefix_match(const sockaddr_storage& a, const ForwardFor& f) {
    const unsigned char* bytes = nullptr;
    size_t len = 0;
    if (a.ss_family == AF_INET && f.except_family == AF_INET) {
        bytes = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in&>(a).sin_addr);
        len = 4;
    } else if (a.ss_family == AF_INET6 && f.except_family == AF_INET6) {
        bytes = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in6&>(a).sin6_addr);
        len = 16;
    } else {
        return false;
    }
    int bits = std::min<int>(f.except_prefix, static_cast<int>(len * 8));
    for (int i = 0; i < bits; ++i) {
        int byte = i / 8, bit = 7 - i % 8;
        if (((bytes[byte] >> bit) & 1) != ((f.except_addr[byte] >> bit) & 1))
            return false;
    }
    return true;
}

std::string addr_only(const sockaddr_storage& a) {
    char buf[INET6_ADDRSTRLEN] = "";
    if (a.ss_family == AF_INET)
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof buf);
    else if (a.ss_family == AF_INET6)
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, buf, sizeof buf);
    return buf;
}
}  // namespace

// Closes a server connection proxyd ends first after a complete exchange with a reset instead
// of a FIN (HAProxy's "linger risk"): no TIME_WAIT left on proxyd's local ports, no close
// handshake for the server. Not when the server already closed (its FIN was read).
// pool-max-conn (default kMaxIdlePerServer; -1: no limit).
// With an explicit pool-max-conn, the idle connections kept by clients between their requests
// count too (HAProxy's accounting); proxyd's default only bounds the shared pool.
static bool idle_room(const Server& s, bool for_attached = false) {
    int max = s.conf->pool_max_conn;
    if (max == -1)
        return true;
    if (max == -2)
        return for_attached || s.idle.size() < kMaxIdlePerServer;
    return s.idle.size() + static_cast<size_t>(s.attached_idle) < static_cast<size_t>(max);
}

// The response of an `http-request|http-response return` rule (no body for HEAD).
static std::string return_response(const RuleOutcome& o, int code, bool head) {
    std::string r = "HTTP/1.1 " + std::to_string(code) + " " + std::string(status_reason(code)) +
                    "\r\ncontent-length: " + std::to_string(o.body.size()) + "\r\n";
    if (!o.content_type.empty())
        r += "content-type: " + o.content_type + "\r\n";
    r += "connection: close\r\n\r\n";
    if (!head)
        r += o.body;
    return r;
}

static void close_hard(UniqueFd& fd, bool server_still_open) {
    if (server_still_open) {
        linger lg{1, 0};
        ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    fd.reset();
}

Backend* Runtime::find_backend(std::string_view name) noexcept {
    for (auto& b : backends_)
        if (b->conf->name == name)
            return b.get();
    return nullptr;
}

int Runtime::nbsrv(std::string_view backend) const {
    for (const auto& b : backends_) {
        if (b->conf->name != backend)
            continue;
        int n = 0;
        for (const auto& s : b->slots)
            n += !s.disabled && s.weight > 0;
        return n;
    }
    return -1;
}

void Runtime::http_start(Conn& c) noexcept {
    c.http = std::make_unique<HttpTxn>(http_opts_);
    c.phase = Phase::Idle;
    c.be = nullptr;
    c.server = -1;
    HttpTxn& t = *c.http;
    t.vars.proc = &proc_vars_;
    t.req_start = t.idle_start = now_;
    t.req_start_unix_us = wall_us();
    t.req_raw.reserve(1024);
    t.res_raw.reserve(1024);
    c.phase_start = now_;
    // Clients send their request right after connecting: read it now rather than after one
    // more trip through epoll (HAProxy does the same).
    c.cli.readable = true;
    update_deadline(c);
    http_pump(c);
}

// Reads what the socket has into `b`. False if the connection was closed.
bool Runtime::http_read(Conn& c, Side& s, Buffer& b, bool* progress) noexcept {
    (void)c;
    if (!s.readable || s.rd_eof || !s.fd.valid())
        return true;
    b.compact();
    if (b.room() == 0)
        return true;
    size_t room = b.room();
    ssize_t n = ::recv(s.fd.get(), b.data.get() + b.end, room, 0);
    if (n > 0) {
        b.end += static_cast<size_t>(n);
        s.last_io = now_;
        *progress = true;
        if (static_cast<size_t>(n) < room && !s.rdhup)
            s.readable = false;
    } else if (n == 0) {
        s.rd_eof = true;
        *progress = true;
    } else if (errno == EAGAIN) {
        s.readable = false;
    } else if (errno != EINTR) {
        s.rd_eof = true;
        s.error = true;
        *progress = true;
    }
    return true;
}

// Sends d's pending head, then the approved body bytes of `b`. False if the connection closed.
bool Runtime::http_send(Conn& c, Side& to, HttpDir& d, Buffer& b, bool to_server, bool* progress) noexcept {
    while (to.writable && to.fd.valid() && (d.head_pending() || d.approved > 0)) {
        iovec iov[2];
        int cnt = 0;
        size_t want = 0;
        if (d.head_pending()) {
            iov[cnt].iov_base = d.head_out.data() + d.head_off;
            iov[cnt].iov_len = d.head_out.size() - d.head_off;
            want += iov[cnt++].iov_len;
        }
        if (d.approved > 0) {
            iov[cnt].iov_base = b.data.get() + b.start;
            iov[cnt].iov_len = d.approved;
            want += iov[cnt++].iov_len;
        }
        msghdr mh{};
        mh.msg_iov = iov;
        mh.msg_iovlen = static_cast<size_t>(cnt);
        ssize_t n = ::sendmsg(to.fd.get(), &mh, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) {
                to.writable = false;
                return true;
            }
            if (errno == EINTR)
                continue;
            to.error = true;
            return true;
        }
        size_t sent = static_cast<size_t>(n);
        to.last_io = now_;
        *progress = true;
        count_bytes(c, to_server, sent);
        if (!to_server && sent > 0)
            c.http->res_sent_any = true;
        size_t from_head = std::min(sent, d.head_out.size() - d.head_off);
        d.head_off += from_head;
        sent -= from_head;
        if (!d.head_pending() && !to_server) {
            // (The request head is kept: a retry on a new connection sends it again.)
            d.head_out.clear();
            d.head_off = 0;
        }
        b.start += sent;
        d.approved -= sent;
        if (b.start == b.end)
            b.start = b.end = 0;
        if (static_cast<size_t>(n) < want) {
            to.writable = false;
            return true;
        }
    }
    return true;
}

// Marks newly buffered body bytes as forwardable, checking their framing. False on a framing
// error (the caller answers 400/502).
bool Runtime::http_approve(Conn&, HttpDir& d, Buffer& b, bool) noexcept {
    while (!d.done) {
        size_t avail = b.size() - d.approved;
        switch (d.framing) {
        case BodyFraming::None: d.done = true; return true;
        case BodyFraming::ContentLength: {
            uint64_t n = std::min<uint64_t>(avail, d.left);
            d.approved += n;
            d.left -= n;
            if (d.left == 0)
                d.done = true;
            return true;
        }
        case BodyFraming::UntilClose: d.approved += avail; return true;  // done at EOF
        case BodyFraming::Chunked: {
            if (avail == 0)
                return true;
            std::string_view in(b.data.get() + b.start + d.approved, avail);
            if (d.in_trailers) {
                Http1Status st = d.trailers.parse(in);
                if (st == Http1Status::NeedMore)
                    return true;
                if (st == Http1Status::Error)
                    return false;
                d.approved += d.trailers.head().head_length;
                d.done = true;
                return true;
            }
            ChunkStep step = d.chunks.feed(in);
            d.approved += step.consumed;
            switch (step.event) {
            case ChunkEvent::NeedMore: return true;
            case ChunkEvent::Data: continue;
            case ChunkEvent::Trailers:
                d.in_trailers = true;
                d.trailers.reset_trailers();
                continue;
            case ChunkEvent::Done: d.done = true; return true;
            case ChunkEvent::Error: return false;
            }
            return true;
        }
        }
    }
    return true;
}

void Runtime::http_pump(Conn& c) noexcept {
    HttpTxn& t = *c.http;
    bool progress = true;
    while (progress && c.phase != Phase::Closed) {
        progress = false;
        switch (t.hphase) {
        case HttpPhase::WaitRequest: {
            // An idle server connection kept for this client must stay silent.
            if (c.srv.fd.valid() && c.phase == Phase::Idle && c.srv.readable)
                http_drop_server(c, false);
            if (!http_read(c, c.cli, c.c2s, &progress))
                return;
            if (!c.c2s.empty()) {
                unsigned before = t.requests;
                http_parse_request(c);
                if (c.phase == Phase::Closed)
                    return;
                if (t.hphase != HttpPhase::WaitRequest || t.requests != before)
                    progress = true;  // (a request answered at once: the next may be buffered)
            } else if (c.cli.rd_eof) {
                // Idle keep-alive connection closed by the client: normal end, no log line;
                // the first request never arriving is a client abort ("CR").
                if (t.requests == 0) {
                    t.term[0] = 'C';
                    t.term[1] = 'R';
                    http_log(c);
                }
                close_conn(c, "client closed");
                return;
            }
            break;
        }
        case HttpPhase::Exchange: {
            if (!t.rq.done) {
                if (!http_read(c, c.cli, c.c2s, &progress))
                    return;
                if (!http_approve(c, t.rq, c.c2s, true)) {
                    ++c.fe->counters.req_errors;
                    http_error(c, 400, 'P', 'D', "invalid request body framing");
                    return;
                }
                if (!t.rq.done && c.cli.rd_eof && t.rq.approved == 0) {
                    ++c.fe->counters.cli_aborts;
                    if (c.be)
                        ++c.be->counters.cli_aborts;
                    t.term[0] = 'C';
                    t.term[1] = 'D';
                    http_log(c);
                    close_conn(c, "client closed during the request body");
                    return;
                }
            }
            if (c.phase != Phase::Established)
                break;
            http_send(c, c.srv, t.rq, c.c2s, true, &progress);
            if (c.srv.error && !t.have_res) {
                http_server_failed(c, "server write error");
                return;
            }
            if (!http_read(c, c.srv, c.s2c, &progress))
                return;
            if (!t.have_res) {
                if (!c.s2c.empty()) {
                    http_parse_response(c);
                    if (c.phase == Phase::Closed || t.hphase != HttpPhase::Exchange) {
                        progress = true;
                        break;
                    }
                }
                if (!t.have_res && c.srv.rd_eof) {
                    http_server_failed(c, c.srv.error ? "server reset the connection" : "server closed the connection");
                    return;
                }
                if (!t.have_res) {
                    if (t.rs.head_pending())  // interim responses (100 Continue)
                        http_send(c, c.cli, t.rs, c.s2c, false, &progress);
                    break;
                }
            }
            if (!http_approve(c, t.rs, c.s2c, false)) {
                ++c.be->counters.resp_errors;
                if (c.server >= 0)
                    ++c.be->servers[static_cast<size_t>(c.server)].counters.resp_errors;
                if (!t.res_sent_any) {
                    // Nothing of the response went out yet: the client gets a clean 502.
                    http_error(c, 502, 'S', 'H', "invalid response body framing");
                    return;
                }
                t.term[0] = 'S';
                t.term[1] = 'D';
                http_log(c);
                close_conn(c, "invalid response body framing");
                return;
            }
            if (!t.rs.done && c.srv.rd_eof && t.rs.approved + (c.s2c.size() - t.rs.approved) == t.rs.approved) {
                if (t.rs.framing == BodyFraming::UntilClose) {
                    t.rs.done = true;
                } else if (t.rs.approved == 0 && !t.rs.head_pending()) {
                    ++c.be->counters.srv_aborts;
                    ++c.fe->counters.srv_aborts;
                    t.term[0] = 'S';
                    t.term[1] = 'D';
                    http_log(c);
                    close_conn(c, "server closed during the response body");
                    return;
                }
            }
            http_send(c, c.cli, t.rs, c.s2c, false, &progress);
            if (c.cli.error) {
                ++c.fe->counters.cli_aborts;
                t.term[0] = 'C';
                t.term[1] = 'D';
                http_log(c);
                close_conn(c, "client write error");
                return;
            }
            if (t.rs.done && t.rs.approved == 0 && !t.rs.head_pending()) {
                http_end_of_exchange(c);
                progress = true;
            }
            break;
        }
        case HttpPhase::Tunnel: {
            // The 101/2xx head goes first; then bytes both ways, as in mode tcp.
            if (t.rs.head_pending()) {
                HttpDir& d = t.rs;
                size_t keep = d.approved;
                d.approved = 0;
                http_send(c, c.cli, d, c.s2c, false, &progress);
                d.approved = keep;
                if (c.cli.error) {
                    close_conn(c, "client write error");
                    return;
                }
                if (t.rs.head_pending())
                    break;
            }
            if (!transfer(c, c.cli, c.srv, c.c2s, c.c2s_pipe, true, &progress))
                return;
            if (!transfer(c, c.srv, c.cli, c.s2c, c.s2c_pipe, false, &progress))
                return;
            if (c.cli.wr_shut && c.srv.wr_shut) {
                http_log(c);
                close_conn(c, "tunnel closed");
                return;
            }
            break;
        }
        case HttpPhase::LocalReply: {
            HttpDir& d = t.rs;
            http_send(c, c.cli, d, c.s2c, false, &progress);
            if (c.cli.error) {
                close_conn(c, "client write error");
                return;
            }
            if (!d.head_pending()) {
                if (t.local_keep) {
                    http_local_done(c);
                } else {
                    http_log(c);
                    ::shutdown(c.cli.fd.get(), SHUT_WR);
                    c.cli.wr_shut = true;
                    t.hphase = HttpPhase::Lingering;
                    c.phase_start = now_;
                }
                progress = true;
            }
            break;
        }
        case HttpPhase::Lingering: {
            // Discard what the client still sends until it closes, so that closing does not
            // reset the connection under the response it is reading.
            char sink[4096];
            while (c.cli.readable) {
                ssize_t n = ::recv(c.cli.fd.get(), sink, sizeof sink, 0);
                if (n > 0)
                    continue;
                if (n < 0 && errno == EAGAIN) {
                    c.cli.readable = false;
                    break;
                }
                if (n < 0 && errno == EINTR)
                    continue;
                close_conn(c, "closed after the response");
                return;
            }
            break;
        }
        }
    }
    if (c.phase != Phase::Closed)
        update_deadline(c);
}

void Runtime::http_parse_request(Conn& c) noexcept {
    HttpTxn& t = *c.http;
    if (t.requests > 0 && t.req_start < t.idle_start) {
        t.req_start = now_;  // first byte of a keep-alive request: timeout http-request starts
        t.req_start_unix_us = wall_us();
        update_deadline(c);
    }
    std::string_view view(c.c2s.data.get() + c.c2s.start, c.c2s.size());
    Http1Status st = t.req_parser.parse(view);
    if (st == Http1Status::NeedMore) {
        if (c.c2s.room() == 0 && c.c2s.start == 0) {
            // The head does not fit in tune.bufsize.
            bool in_line = view.find('\n') == std::string_view::npos;
            ++c.fe->counters.req_errors;
            http_error(c, in_line ? 414 : 431, 'P', 'R', "request head larger than tune.bufsize");
            return;
        }
        if (c.cli.rd_eof) {
            ++c.fe->counters.req_errors;
            t.term[0] = 'C';
            t.term[1] = 'R';
            http_log(c);
            close_conn(c, "client closed during the request head");
        }
        return;
    }
    if (st == Http1Status::Error) {
        ++c.fe->counters.req_errors;
        log_debug("conn #%llu: invalid request: %s at offset %u", static_cast<unsigned long long>(c.id),
                  to_string(t.req_parser.error()), t.req_parser.error_offset());
        http_error(c, t.req_parser.http_status(), 'P', 'R', to_string(t.req_parser.error()));
        return;
    }
    http_on_request(c);
}

void Runtime::http_fill_info(Conn& c) noexcept {
    HttpTxn& t = *c.http;
    StreamInfo& i = t.info;
    i.src = &c.src_addr;
    i.dst = &c.dst_addr;
    i.accept_unix_us = t.req_start_unix_us;
    i.frontend = c.fe->conf->name;
    i.backend = c.be ? std::string_view(c.be->conf->name) : i.frontend;
    int srv = c.server >= 0 ? c.server : c.last_server;
    i.server = c.be && srv >= 0 ? std::string_view(c.be->servers[static_cast<size_t>(srv)].conf->name)
                                : std::string_view("<NOSRV>");
    i.req = t.have_req ? &t.req : nullptr;
    i.res = t.have_res ? &t.res : nullptr;
    i.state = this;
    i.vars = &t.vars;
    i.first_req = t.requests <= 1;
}

void Runtime::http_on_request(Conn& c) noexcept {
    HttpTxn& t = *c.http;
    const Http1Head& h = t.req_parser.head();
    t.req_info = h;
    std::string_view view(c.c2s.data.get() + c.c2s.start, h.head_length);
    t.req_raw.assign(view);
    fill_head(&t.req, t.req_parser, t.req_raw, true);
    t.have_req = true;
    // Absolute-form target: its authority and Host must agree (RFC 9112 §3.2.2), or the
    // server and the Host-based rules would see different sites.
    if (t.req.uri.size() && t.req.uri[0] != '/' && h.host_header >= 0) {
        size_t scheme = t.req.uri.find("://");
        if (scheme != std::string_view::npos) {
            std::string_view auth = t.req.uri.substr(scheme + 3);
            auth = auth.substr(0, auth.find_first_of("/?"));
            if (size_t at = auth.rfind('@'); at != std::string_view::npos)
                auth = auth.substr(at + 1);
            if (!ascii_iequals(auth, t.req.fields[static_cast<size_t>(h.host_header)].value)) {
                c.c2s.start += h.head_length;
                ++c.fe->counters.req_errors;
                http_error(c, 400, 'P', 'R', "absolute-form target and Host differ");
                return;
            }
        }
    }
    t.have_res = false;
    c.c2s.start += h.head_length;
    if (c.c2s.start == c.c2s.end)
        c.c2s.start = c.c2s.end = 0;
    ++t.requests;
    ++cum_req_;
    int64_t sec = std::chrono::duration_cast<std::chrono::seconds>(now_.time_since_epoch()).count();
    c.fe->counters.count_request(sec);
    t.info.t = StreamTimers{};
    t.info.t.Ti = t.requests == 1 ? 0 : ms_between(t.idle_start, t.req_start);
    t.info.t.TR = ms_between(t.req_start, now_);
    t.info.t.Th = 0;
    t.hphase = HttpPhase::Exchange;
    t.rq.head_out.clear();
    t.rq.head_off = 0;
    t.rq.framing = h.framing;
    t.rq.left = h.content_length;
    t.rq.chunks.reset();
    t.rq.in_trailers = false;
    t.rq.approved = 0;
    t.rq.done = h.framing == BodyFraming::None;
    t.reused = t.retried_reuse = false;
    t.res_sent_any = false;
    c.last_server = -1;
    c.attempts = 0;
    c.tw_ms = c.tc_ms = -1;
    t.status = -1;
    t.term[0] = t.term[1] = '-';
    t.vars.begin_request();
    http_fill_info(c);

    // Frontend rules, routing, backend rules.
    auto handle = [&](const RuleOutcome& o, const ProxyConf* be_conf) -> bool {
        switch (o.kind) {
        case RuleOutcome::Kind::Continue:
        case RuleOutcome::Kind::Allow: return false;
        case RuleOutcome::Kind::Deny:
            ++c.fe->counters.denied;
            ++c.fe->counters.intercepted;
            http_local_reply(c, o.status > 0 ? o.status : 403,
                             http_error_page(o.status > 0 ? o.status : 403, be_conf, c.fe->conf), 'P', 'R', true);
            return true;
        case RuleOutcome::Kind::Redirect: {
            ++c.fe->counters.intercepted;
            int code = o.status > 0 ? o.status : 302;
            std::string r = "HTTP/1.1 " + std::to_string(code) + " " + std::string(status_reason(code)) +
                             "\r\ncontent-length: 0\r\nlocation: " + o.location +
                             "\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";
            http_local_reply(c, code, r, 'L', 'R', true);
            return true;
        }
        case RuleOutcome::Kind::Return: {
            ++c.fe->counters.intercepted;
            int code = o.status > 0 ? o.status : 200;
            http_local_reply(c, code, return_response(o, code, t.req_info.method == HttpMethod::Head), 'L', 'R', true);
            return true;
        }
        }
        return false;
    };
    const ProxyConf* fe = c.fe->conf;
    if (handle(apply_http_request_rules(fe->rules, t.req, t.info), nullptr))
        return;
    Backend* be = c.fe->backend;
    std::string_view chosen = select_backend(fe->rules, t.info, &t.scratch);
    if (!chosen.empty()) {
        if (Backend* b = find_backend(chosen))
            be = b;
    }
    if (!be) {
        http_error(c, 503, 'S', 'C', "no backend");
        return;
    }
    c.be = be;
    be->counters.open(sec);
    be->counters.count_request(sec);
    http_fill_info(c);
    if (be->conf != fe && handle(apply_http_request_rules(be->conf->rules, t.req, t.info), be->conf))
        return;

    // option forwardfor: the backend's settings win.
    const ForwardFor& ff = be->conf->forwardfor.enabled ? be->conf->forwardfor : fe->forwardfor;
    if (ff.enabled && (c.src_addr.ss_family == AF_INET || c.src_addr.ss_family == AF_INET6) &&
        !(ff.except_prefix >= 0 && prefix_match(c.src_addr, ff)) && !(ff.if_none && t.req.find(ff.header) >= 0))
        t.req.add(ff.header, addr_only(c.src_addr));

    // The request head for the server.
    bool server_close = be->conf->http_conn_mode != HttpConnMode::KeepAlive ||
                        fe->http_conn_mode != HttpConnMode::KeepAlive;
    std::string& out = t.rq.head_out;
    out.append(t.req.method);
    out.push_back(' ');
    out.append(t.req.uri);
    out.append(t.req.version == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
    bool te_trailers = false;
    for (const auto& f : t.req.fields) {
        if (ascii_iequals(f.name, "te")) {
            // Hop-by-hop: only "trailers" means something to the server (HAProxy keeps it too).
            te_trailers = te_trailers || f.value.find("trailers") != std::string_view::npos;
            continue;
        }
        if (!hop_by_hop(f.name))
            append_field(&out, f.name, f.value);
    }
    if (te_trailers)
        append_field(&out, "TE", "trailers");
    append_framing(&out, t.req_info, t.req);
    if (t.req_info.upgrade && t.req_info.upgrade_header >= 0) {
        append_field(&out, "Connection", "upgrade");
        for (const auto& f : t.req.fields)
            if (ascii_iequals(f.name, "upgrade"))
                append_field(&out, f.name, f.value);
    } else if (server_close) {
        append_field(&out, "Connection", "close");
    } else if (t.req.version == 10) {
        append_field(&out, "Connection", "keep-alive");
    }
    out.append("\r\n");
    t.res_parser.reset();
    t.res_parser.set_request_method(t.req_info.method);
    // Body bytes that came with the head are checked before any server sees the request.
    if (!http_approve(c, t.rq, c.c2s, true)) {
        ++c.fe->counters.req_errors;
        http_error(c, 400, 'P', 'R', "invalid request body framing");
        return;
    }
    http_route(c);
}

void Runtime::http_route(Conn& c) noexcept {
    Backend& be = *c.be;
    if (be.servers.empty()) {
        http_error(c, 503, 'S', 'C', "no server");
        return;
    }
    int chosen = -1;
    switch (pick(be, &chosen, -1, &c)) {
    case PickResult::Picked:
        c.server = chosen;
        ++be.slots[static_cast<size_t>(chosen)].cur_conns;
        http_fill_info(c);
        http_use_server(c);
        return;
    case PickResult::AllFull:
        if (c.srv.fd.valid())
            http_drop_server(c, true);
        c.phase = Phase::Queued;
        c.phase_start = now_;
        be.queue.push_back(c.id);
        be.counters.qcur = be.queue.size();
        be.counters.qmax = std::max(be.counters.qmax, be.counters.qcur);
        update_deadline(c);
        return;
    case PickResult::NoServer: http_error(c, 503, 'S', 'C', "no server available"); return;
    }
}

// Sends the request over the client's own idle connection to the chosen server, an idle one
// from the server's pool (as http-reuse allows), or a new one.
void Runtime::http_use_server(Conn& c) noexcept {
    HttpTxn& t = *c.http;
    Backend& be = *c.be;
    Server& s = be.servers[static_cast<size_t>(c.server)];
    t.info.t.Tw = ms_between(t.req_start, now_) - std::max<int64_t>(t.info.t.TR, 0);
    bool own = c.srv.fd.valid() && c.idle_server == c.server && t.idle_backend == c.be;
    if (own)
        --s.attached_idle;
    if (!own && c.srv.fd.valid())
        http_drop_server(c, true);
    HttpReuse reuse = be.conf->http_reuse;
    // HAProxy's rules: the first request of a client connection takes an idle connection only
    // with `always`, or with `aggressive` one that has already served two requests (the server
    // proved it keeps connections); later requests may take any with safe/aggressive/always.
    int pick_idle = -1;
    if (!own && reuse != HttpReuse::Never) {
        for (int i = static_cast<int>(s.idle.size()) - 1; i >= 0; --i) {
            const IdleConn& ic = *s.idle[static_cast<size_t>(i)];
            bool ok = t.requests > 1 || reuse == HttpReuse::Always || (reuse == HttpReuse::Aggressive && ic.uses >= 2);
            if (ok) {
                pick_idle = i;
                break;
            }
        }
    }
    if (pick_idle >= 0) {
        std::unique_ptr<IdleConn> ic = std::move(s.idle[static_cast<size_t>(pick_idle)]);
        s.idle.erase(s.idle.begin() + pick_idle);
        c.srv_uses = ic->uses;
        c.srv.fd = std::move(ic->fd);
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = fresh_srv_ep(c);
        ::epoll_ctl(epfd_.get(), EPOLL_CTL_MOD, c.srv.fd.get(), &ev);  // reports pending input again
        c.srv.readable = false;
        // An event for it may still be pending in this batch: free it after the batch.
        idle_graveyard_.push_back(std::move(ic));
        own = true;
    }
    c.idle_server = -1;
    t.idle_backend = nullptr;
    if (own) {
        t.reused = true;
        c.last_server = c.server;
        c.phase = Phase::Established;
        c.phase_start = now_;
        c.srv.writable = true;
        c.srv.rd_eof = c.srv.wr_shut = c.srv.rdhup = c.srv.error = false;
        c.srv.last_io = now_;
        ++s.counters.lbtot;
        s.counters.open(std::chrono::duration_cast<std::chrono::seconds>(now_.time_since_epoch()).count());
        t.info.t.Tc = 0;
        t.req_sent = now_;
        update_deadline(c);
        return;  // the caller's pump sends the head
    }
    connect_server(c);
}

void Runtime::http_parse_response(Conn& c) noexcept {
    HttpTxn& t = *c.http;
    for (;;) {
        std::string_view view(c.s2c.data.get() + c.s2c.start, c.s2c.size());
        Http1Status st = t.res_parser.parse(view);
        if (st == Http1Status::NeedMore) {
            if (c.s2c.room() == 0 && c.s2c.start == 0) {
                ++c.be->counters.resp_errors;
                http_error(c, 502, 'P', 'H', "response head larger than tune.bufsize");
            } else if (c.srv.rd_eof) {
                http_server_failed(c, "server closed during the response head");
            }
            return;
        }
        if (st == Http1Status::Error) {
            ++c.be->counters.resp_errors;
            if (c.server >= 0)
                ++c.be->servers[static_cast<size_t>(c.server)].counters.resp_errors;
            log_debug("conn #%llu: invalid response: %s", static_cast<unsigned long long>(c.id),
                      to_string(t.res_parser.error()));
            http_error(c, 502, 'P', 'H', to_string(t.res_parser.error()));
            return;
        }
        const Http1Head& h = t.res_parser.head();
        if (h.status >= 100 && h.status < 200 && h.status != 101) {
            // Interim response (100 Continue, 103 Early Hints): forwarded as is, then the next.
            t.rs.head_out.append(view.substr(0, h.head_length));
            c.s2c.start += h.head_length;
            t.res_parser.reset();
            continue;
        }
        http_on_response(c);
        return;
    }
}

void Runtime::http_on_response(Conn& c) noexcept {
    HttpTxn& t = *c.http;
    const Http1Head& h = t.res_parser.head();
    if (h.status == 101 && !t.req_info.upgrade) {
        // Switching protocols nobody asked for: the server's answer is unusable.
        ++c.be->counters.resp_errors;
        http_error(c, 502, 'P', 'H', "101 response to a request without Upgrade");
        return;
    }
    t.res_info = h;
    std::string_view view(c.s2c.data.get() + c.s2c.start, h.head_length);
    t.res_raw.assign(view);
    fill_head(&t.res, t.res_parser, t.res_raw, false);
    t.have_res = true;
    c.s2c.start += h.head_length;
    if (c.s2c.start == c.s2c.end)
        c.s2c.start = c.s2c.end = 0;
    t.info.t.Tr = ms_between(t.req_sent, now_);
    http_fill_info(c);

    const ProxyConf* fe = c.fe->conf;
    const ProxyConf* be = c.be->conf;
    // http-response rules (backend's, then frontend's), then http-after-response rules.
    const ProxyConf* order[2] = {be, be == fe ? nullptr : fe};
    for (const ProxyConf* p : order) {
        if (!p)
            continue;
        RuleOutcome o = apply_http_response_rules(p->rules, t.res, t.info);
        if (o.kind == RuleOutcome::Kind::Deny) {
            ++c.fe->counters.denied;
            http_error(c, o.status > 0 ? o.status : 502, 'P', 'H', "http-response deny");
            return;
        }
        if (o.kind == RuleOutcome::Kind::Return) {
            // The server's response is replaced by this one.
            ++c.fe->counters.intercepted;
            int code = o.status > 0 ? o.status : 200;
            t.have_res = false;
            http_local_reply(c, code, return_response(o, code, t.req_info.method == HttpMethod::Head), 'L', 'H', true);
            return;
        }
    }
    for (const ProxyConf* p : order)
        if (p && has_after_response_rules(p->rules))
            (void)apply_http_after_response_rules(p->rules, t.res, t.info);

    // As HAProxy: the client side follows the frontend's option; the server connection is
    // closed when either proxy says so.
    bool tunnel = h.tunnel;
    t.client_keep_alive = !tunnel && t.req_info.keep_alive && fe->http_conn_mode != HttpConnMode::Close &&
                          h.framing != BodyFraming::UntilClose && !stopping_;
    t.server_keep_alive = !tunnel && h.keep_alive && h.framing != BodyFraming::UntilClose &&
                          fe->http_conn_mode == HttpConnMode::KeepAlive &&
                          be->http_conn_mode == HttpConnMode::KeepAlive;
    t.status = t.res.status;  // (set-status may have changed it)
    t.info.status = t.res.status;

    c.fe->counters.count_status(t.res.status);
    c.be->counters.count_status(t.res.status);
    if (c.server >= 0) {
        Counters& sc = c.be->servers[static_cast<size_t>(c.server)].counters;
        sc.count_status(t.res.status);
        sc.count_request(std::chrono::duration_cast<std::chrono::seconds>(now_.time_since_epoch()).count());
    }

    std::string& out = t.rs.head_out;
    out.append("HTTP/1.1 ");  // proxyd speaks HTTP/1.1 whatever the server did
    out.append(std::to_string(t.res.status));
    out.push_back(' ');
    out.append(t.res.reason);
    out.append("\r\n");
    for (const auto& f : t.res.fields)
        if (!hop_by_hop(f.name))
            append_field(&out, f.name, f.value);
    append_framing(&out, h, t.res);
    if (tunnel && h.status == 101) {
        append_field(&out, "Connection", "upgrade");
        for (const auto& f : t.res.fields)
            if (ascii_iequals(f.name, "upgrade"))
                append_field(&out, f.name, f.value);
    } else if (!t.client_keep_alive) {
        append_field(&out, "Connection", "close");
    } else if (t.req.version == 10) {
        append_field(&out, "Connection", "keep-alive");
    }
    out.append("\r\n");

    t.rs.framing = h.framing;
    t.rs.left = h.content_length;
    t.rs.chunks.reset();
    t.rs.in_trailers = false;
    t.rs.approved = 0;
    t.rs.done = h.framing == BodyFraming::None;
    if (tunnel) {
        // Whatever follows the head on either side is tunnel data; logged when it ends.
        t.hphase = HttpPhase::Tunnel;
        c.cli.readable = c.srv.readable = true;
        update_deadline(c);
    }
}

void Runtime::http_end_of_exchange(Conn& c) noexcept {
    HttpTxn& t = *c.http;
    t.info.t.Ta = ms_between(t.req_start, now_);
    http_log(c);
    bool request_complete = t.rq.done && t.rq.approved == 0 && !t.rq.head_pending();
    // The server connection: kept for this client (and later the pool) or closed.
    if (c.server >= 0) {
        int srv = c.server;
        release_server(c);  // (closes the server's session count too)  // frees the slot, c.server = -1, may dequeue others
        ++c.srv_uses;
        // Bytes after the response, or a close: the connection cannot carry another exchange.
        bool clean = c.s2c.empty() && !c.srv.rd_eof && !c.srv.rdhup;
        c.s2c.start = c.s2c.end = 0;
        Server& sv = c.be->servers[static_cast<size_t>(srv)];
        if (t.server_keep_alive && request_complete && clean && c.srv.fd.valid() && idle_room(sv, true)) {
            c.idle_server = srv;
            t.idle_backend = c.be;  // the backend of the kept connection (idle_server indexes it)
            ++sv.attached_idle;
            c.srv.readable = false;  // an event while idle means close (or unexpected data)
        } else if (c.srv.fd.valid()) {
            close_hard(c.srv.fd, !c.srv.rd_eof);
        }
    }
    c.phase = Phase::Idle;
    if (c.be)
        c.be->counters.close();
    c.be = nullptr;
    if (!t.client_keep_alive || !request_complete || stopping_) {
        http_drop_server(c, true);
        if (!t.req_info.keep_alive && request_complete && c.c2s.empty() && !c.cli.readable) {
            // The client asked to close and sent nothing more: no reset risk, close now
            // rather than waiting for its FIN.
            close_conn(c, "closed after the response");
            return;
        }
        ::shutdown(c.cli.fd.get(), SHUT_WR);
        c.cli.wr_shut = true;
        t.hphase = HttpPhase::Lingering;
        c.phase_start = now_;
        return;
    }
    http_next_request(c);
}

// The connection waits for its next request (which may already be in the buffer).
void Runtime::http_next_request(Conn& c) noexcept {
    HttpTxn& t = *c.http;
    t.hphase = HttpPhase::WaitRequest;
    t.req_parser.reset();
    t.have_req = t.have_res = false;
    t.local_keep = false;
    t.res_sent_any = false;
    t.status = -1;
    t.term[0] = t.term[1] = '-';
    t.info.t = StreamTimers{};
    t.idle_start = now_;
    t.req_start = Clock::time_point{};  // set by the first byte of the next request
    t.req_start_unix_us = wall_us();
    t.bytes_in0 = c.bytes_in;
    t.bytes_out0 = c.bytes_out;
    c.phase_start = now_;
}

// After a local reply sent on a connection that stays open.
void Runtime::http_local_done(Conn& c) noexcept {
    http_log(c);
    if (c.be)
        c.be->counters.close();
    c.be = nullptr;
    http_next_request(c);
    // A pipelined request may already be buffered, and no event will announce it: look at
    // the connection again once the current batch is done.
    if (!c.c2s.empty())
        repump_.push_back(c.id);
}

// Parks the client's idle server connection in its server's pool (when `reusable` and the
// backend reuses connections) or closes it.
void Runtime::http_drop_server(Conn& c, bool reusable) noexcept {
    if (!c.srv.fd.valid())
        return;
    HttpTxn& t = *c.http;
    Backend* be = c.idle_server >= 0 ? t.idle_backend : nullptr;
    if (c.idle_server >= 0 && be)
        --be->servers[static_cast<size_t>(c.idle_server)].attached_idle;
    if (reusable && c.idle_server >= 0 && be && be->conf->http_reuse != HttpReuse::Never && !stopping_ &&
        idle_room(be->servers[static_cast<size_t>(c.idle_server)])) {
        Server& s = be->servers[static_cast<size_t>(c.idle_server)];
        auto ic = std::make_unique<IdleConn>();
        ic->uses = c.srv_uses;
        ic->ep.owner = ic.get();
        ic->fd = std::move(c.srv.fd);
        ic->server = &s;
        ic->since = now_;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = &ic->ep;
        if (::epoll_ctl(epfd_.get(), EPOLL_CTL_MOD, ic->fd.get(), &ev) == 0)
            s.idle.push_back(std::move(ic));
    }
    if (c.srv.fd.valid())
        close_hard(c.srv.fd, true);  // an idle connection nobody will use
    c.idle_server = -1;
    t.idle_backend = nullptr;
}

void Runtime::on_idle_event(IdleConn& ic) noexcept {
    // An idle connection never receives anything legitimate: the server closed it.
    Server& s = *ic.server;
    auto it = std::find_if(s.idle.begin(), s.idle.end(), [&](auto& p) { return p.get() == &ic; });
    if (it == s.idle.end())
        return;
    std::unique_ptr<IdleConn> dead = std::move(*it);
    s.idle.erase(it);
    dead->fd.reset();
    idle_graveyard_.push_back(std::move(dead));
}

void Runtime::purge_idle() noexcept {
    if (now_ - last_purge_ < std::chrono::seconds(1))
        return;
    last_purge_ = now_;
    for (auto& be : backends_)
        for (auto& s : be->servers)
            std::erase_if(s.idle, [&](std::unique_ptr<IdleConn>& ic) {
                if (now_ - ic->since <= std::chrono::milliseconds(s.conf->pool_purge_delay))
                    return false;
                close_hard(ic->fd, true);
                return true;
            });
}

void Runtime::http_server_failed(Conn& c, const char* why) noexcept {
    HttpTxn& t = *c.http;
    // A reused connection the server had just closed: try once more on a new one, if the
    // request can be sent again (no body consumed).
    if (t.reused && !t.retried_reuse && !t.have_res && t.rq.framing == BodyFraming::None && c.server >= 0) {
        t.retried_reuse = true;
        t.reused = false;
        c.srv.fd.reset();
        t.rq.head_off = 0;
        // Nothing of the dead connection's answer may precede the new one.
        c.s2c.start = c.s2c.end = 0;
        t.rs.head_out.clear();
        t.rs.head_off = 0;
        t.res_parser.reset();
        t.res_parser.set_request_method(t.req_info.method);
        connect_server(c);
        return;
    }
    if (c.be) {
        ++c.be->counters.resp_errors;
        ++c.be->counters.srv_aborts;
        if (c.server >= 0)
            ++c.be->servers[static_cast<size_t>(c.server)].counters.resp_errors;
    }
    if (t.res_sent_any) {
        t.term[0] = 'S';
        t.term[1] = 'D';
        http_log(c);
        close_conn(c, why);
        return;
    }
    http_error(c, 502, 'S', 'H', why);
}

namespace {
// The head of a response proxyd built, without its Connection fields (the connection stays
// open), plus "Connection: keep-alive" for an HTTP/1.0 client.
std::string keep_alive_reply(std::string_view bytes, bool http10) {
    size_t end = bytes.find("\r\n\r\n");
    if (end == std::string_view::npos)
        return std::string(bytes);
    std::string out;
    out.reserve(bytes.size() + 24);
    size_t pos = 0;
    while (pos < end + 2) {
        size_t eol = bytes.find("\r\n", pos);
        std::string_view line = bytes.substr(pos, eol + 2 - pos);
        if (!(line.size() >= 11 && ascii_iequals(line.substr(0, 11), "connection:")))
            out.append(line);
        pos = eol + 2;
    }
    if (http10)
        out.append("Connection: keep-alive\r\n");
    out.append(bytes.substr(end + 2));
    return out;
}
}  // namespace

void Runtime::http_local_reply(Conn& c, int status, std::string_view bytes, char t0, char t1, bool may_keep) noexcept {
    HttpTxn& t = *c.http;
    if (bytes.empty()) {
        // An empty errorfile: close without answering (HAProxy's meaning).
        t.status = -1;
        t.term[0] = t0;
        t.term[1] = t1;
        http_log(c);
        close_conn(c, "empty errorfile: closing without a response");
        return;
    }
    // http-after-response rules (not for requests that could not even be parsed, as HAProxy).
    std::string changed = t.have_req ? http_after_local(c, bytes) : std::string();
    if (!changed.empty()) {
        bytes = changed;
        status = t.status;
    }
    t.status = status;
    t.info.status = status;
    t.term[0] = t0;
    t.term[1] = t1;
    c.fe->counters.count_status(status);
    if (c.be && c.be->conf != c.fe->conf)
        c.be->counters.count_status(status);
    // The server side is no longer needed.
    if (c.srv.fd.valid() && c.phase == Phase::Established)
        c.srv.fd.reset();
    else if (c.srv.fd.valid())
        http_drop_server(c, true);
    if (c.phase == Phase::Queued && c.be) {
        auto& q = c.be->queue;
        q.erase(std::remove(q.begin(), q.end(), c.id), q.end());
        c.be->counters.qcur = q.size();
    } else if (c.server >= 0) {
        release_server(c);
    }
    c.phase = Phase::Idle;
    // HAProxy keeps the client connection after its own answers (deny, redirect, return, 5xx),
    // when the request was read entirely and the client wants keep-alive; not after 400/408.
    t.local_keep = may_keep && t.have_req && t.req_info.keep_alive && !t.req_info.upgrade &&
                   c.fe->conf->http_conn_mode != HttpConnMode::Close && !stopping_ && t.rq.done &&
                   !c.cli.rd_eof;
    if (t.local_keep) {
        t.rs.head_out = keep_alive_reply(bytes, t.req.version == 10);
        // Skip the request body still buffered; pipelined requests after it stay.
        c.c2s.start += t.rq.approved;
        t.rq.approved = 0;
        if (c.c2s.start == c.c2s.end)
            c.c2s.start = c.c2s.end = 0;
    } else {
        t.rs.head_out.assign(bytes);
        // Nothing more is read from this client: drop what it sent.
        c.c2s.start = c.c2s.end = 0;
    }
    t.rs.head_off = 0;
    t.rs.approved = 0;
    t.rs.done = true;
    t.hphase = HttpPhase::LocalReply;
    c.cli.writable = true;
    c.phase_start = now_;
    c.s2c.start = c.s2c.end = 0;
    // Callers return right after: send now (the client socket is most likely writable).
    bool progress = false;
    http_send(c, c.cli, t.rs, c.s2c, false, &progress);
    if (c.cli.error) {
        close_conn(c, "client write error");
        return;
    }
    if (!t.rs.head_pending()) {
        if (t.local_keep) {
            http_local_done(c);
            // A pipelined request may be waiting in the buffer: the caller's pump goes on
            // (or the next event); make sure it is looked at.
            if (!c.c2s.empty())
                c.cli.readable = true;
        } else {
            http_log(c);
            ::shutdown(c.cli.fd.get(), SHUT_WR);
            c.cli.wr_shut = true;
            t.hphase = HttpPhase::Lingering;
        }
    }
    update_deadline(c);
}

std::string Runtime::http_after_local(Conn& c, std::string_view bytes) noexcept {
    HttpTxn& t = *c.http;
    const ProxyConf* fe = c.fe->conf;
    const ProxyConf* be = c.be ? c.be->conf : nullptr;
    const ProxyConf* order[2] = {be, be == fe ? nullptr : fe};
    bool any = false;
    for (const ProxyConf* p : order)
        any = any || (p && has_after_response_rules(p->rules));
    if (!any)
        return {};
    Http1Parser parser(Http1Kind::Response, http_opts_);
    if (parser.parse(bytes) != Http1Status::Done)
        return {};  // an errorfile that is not a parsable response: sent as is
    std::string raw(bytes.substr(0, parser.head().head_length));
    fill_head(&t.res, parser, raw, false);
    t.have_res = true;
    http_fill_info(c);
    for (const ProxyConf* p : order)
        if (p && has_after_response_rules(p->rules))
            (void)apply_http_after_response_rules(p->rules, t.res, t.info);
    std::string out;
    t.res.serialize_response(&out, true);
    out.append(bytes.substr(parser.head().head_length));
    t.status = t.res.status;
    t.info.status = t.res.status;
    t.have_res = false;  // the views point into `raw`, gone on return
    return out;
}

void Runtime::http_error(Conn& c, int status, char t0, char t1, const char* why) noexcept {
    log_debug("conn #%llu: answering %d: %s", static_cast<unsigned long long>(c.id), status, why);
    if (c.http->res_sent_any) {
        c.http->term[0] = t0;
        c.http->term[1] = t1;
        http_log(c);
        close_conn(c, why);
        return;
    }
    bool may_keep = status != 400 && status != 408 && status != 414 && status != 431 && status != 501 &&
                    status != 505;
    http_local_reply(c, status, http_error_page(status, c.be ? c.be->conf : nullptr, c.fe->conf), t0, t1,
                     may_keep);
}

void Runtime::http_log(Conn& c) noexcept {
    HttpTxn& t = *c.http;
    http_fill_info(c);
    StreamInfo& i = t.info;
    i.term[0] = t.term[0];
    i.term[1] = t.term[1];
    i.term[2] = i.term[3] = '-';
    i.bytes_in = c.bytes_in - t.bytes_in0;
    i.bytes_out = c.bytes_out - t.bytes_out0;
    i.status = t.status;
    i.actconn = cur_conns_;
    i.feconn = c.fe->cur_conns;
    i.beconn = c.be ? static_cast<int>(c.be->counters.cur) : 0;
    i.srv_conn = c.be && c.server >= 0 ? c.be->slots[static_cast<size_t>(c.server)].cur_conns : 0;
    i.backend_queue = c.be ? static_cast<int>(c.be->queue.size()) : 0;
    if (i.t.Ta < 0)
        i.t.Ta = ms_between(t.req_start, now_);
    log_stream(c, i);
}

Clock::time_point Runtime::http_deadline(const Conn& c) const {
    const HttpTxn& t = *c.http;
    const Timeouts& ft = c.fe->conf->timeouts;
    const Timeouts& bt = c.be ? c.be->conf->timeouts : ft;
    switch (t.hphase) {
    case HttpPhase::WaitRequest: {
        bool idle = t.requests > 0 && t.req_start < t.idle_start;  // no byte of the next request yet
        auto hr = ft.http_request ? ft.http_request : ft.client;
        auto ka = ft.http_keep_alive ? ft.http_keep_alive : hr;
        if (idle)
            return ka ? t.idle_start + ms(*ka) : kNever;
        return hr ? t.req_start + ms(*hr) : kNever;
    }
    case HttpPhase::Exchange: {
        if (c.phase == Phase::Queued) {
            auto q = bt.queue ? bt.queue : bt.connect;
            return q ? c.phase_start + ms(*q) : kNever;
        }
        if (c.phase == Phase::Connecting) {
            if (!c.srv.fd.valid())
                return c.retry_at;  // turn-around before a retry
            return bt.connect ? c.phase_start + ms(*bt.connect) : kNever;
        }
        auto d = kNever;
        if (bt.server && (!t.have_res || !t.rs.done))
            d = std::min(d, c.srv.last_io + ms(*bt.server));
        bool client_involved = !t.rq.done || (t.have_res && (t.rs.head_pending() || t.rs.approved > 0));
        if (ft.client && client_involved)
            d = std::min(d, c.cli.last_io + ms(*ft.client));
        return d;
    }
    case HttpPhase::Tunnel: {
        auto tunnel = bt.tunnel ? bt.tunnel : ft.tunnel;
        if (tunnel)
            return std::max(c.cli.last_io, c.srv.last_io) + ms(*tunnel);
        auto d = kNever;
        if (ft.client)
            d = std::min(d, c.cli.last_io + ms(*ft.client));
        if (bt.server)
            d = std::min(d, c.srv.last_io + ms(*bt.server));
        return d;
    }
    case HttpPhase::LocalReply:
        return ft.client ? c.phase_start + ms(*ft.client) : kNever;
    case HttpPhase::Lingering: {
        auto d = c.phase_start + kLingerMax;
        if (ft.client_fin)
            d = c.phase_start + ms(*ft.client_fin);
        return d;
    }
    }
    return kNever;
}

void Runtime::http_expire(Conn& c) noexcept {
    HttpTxn& t = *c.http;
    switch (t.hphase) {
    case HttpPhase::WaitRequest:
        if (t.requests > 0 && t.req_start < t.idle_start) {
            close_conn(c, "keep-alive timeout");  // silent, as HAProxy
            return;
        }
        ++c.fe->counters.req_errors;
        http_error(c, 408, 'c', 'R', "timeout http-request");
        return;
    case HttpPhase::Exchange: {
        if (c.phase == Phase::Queued) {
            http_error(c, 503, 's', 'Q', "timeout queue");
            return;
        }
        if (c.phase == Phase::Connecting) {
            if (!c.srv.fd.valid())
                retry_connect(c);
            else
                connect_failed(c, "timeout connect");
            return;
        }
        const Timeouts& ft = c.fe->conf->timeouts;
        const Timeouts& bt = c.be->conf->timeouts;
        bool srv_expired = bt.server && c.srv.last_io + ms(*bt.server) <= now_ && (!t.have_res || !t.rs.done);
        if (srv_expired) {
            if (!t.have_res) {
                ++c.be->counters.srv_aborts;
                http_error(c, 504, 's', 'H', "timeout server");
            } else {
                t.term[0] = 's';
                t.term[1] = 'D';
                http_log(c);
                close_conn(c, "timeout server");
            }
            return;
        }
        (void)ft;
        ++c.fe->counters.cli_aborts;
        if (!t.rq.done && !t.have_res) {
            http_error(c, 408, 'c', 'D', "timeout client during the request body");
            return;
        }
        t.term[0] = 'c';
        t.term[1] = 'D';
        http_log(c);
        close_conn(c, "timeout client");
        return;
    }
    case HttpPhase::Tunnel:
        t.term[0] = 'c';
        t.term[1] = 'D';
        http_log(c);
        close_conn(c, "timeout tunnel");
        return;
    case HttpPhase::LocalReply: close_conn(c, "timeout client while answering"); return;
    case HttpPhase::Lingering: close_conn(c, "closed after the response"); return;
    }
}

}  // namespace proxyd::worker
