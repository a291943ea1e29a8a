// The worker side of the CLI: the runtime seen through WorkerView, and CliRequest handling.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "common/control.h"
#include "common/log.h"
#include "worker/runtime.h"
#include "worker/logger.h"

namespace proxyd::worker {

using namespace proxyd::common;

namespace {
int64_t steady_sec(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
const char* phase_name(Phase p) {
    switch (p) {
    case Phase::Queued: return "queued";
    case Phase::Connecting: return "connecting";
    case Phase::Established: return "established";
    case Phase::Closed: return "closed";
    case Phase::Idle: return "idle";
    }
    return "?";
}
}  // namespace

ProcessInfo Runtime::info() const {
    ProcessInfo i;
    auto now = Clock::now();
    i.pid = static_cast<int>(::getpid());
    i.generation = generation_;
    i.index = index_;
    i.worker_count = static_cast<uint32_t>(cfg_->worker_count());
    i.start_time_sec = start_unix_;
    i.uptime_sec = std::chrono::duration_cast<std::chrono::seconds>(now - started_).count();
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    i.ulimit_n = static_cast<int>(std::min<rlim_t>(rl.rlim_cur, 1 << 30));
    i.maxsock = i.ulimit_n;
    i.maxconn = global_maxconn_;
    i.hard_maxconn = global_maxconn_;
    i.cur_conns = static_cast<uint64_t>(cur_conns_);
    i.cum_conns = cum_conns_;
    i.cum_req = cum_req_;  // HTTP requests
    i.dropped_logs = process_logger().dropped();
    int64_t sec = steady_sec(now);
    i.conn_rate = conn_rate_.rate(sec);
    i.max_conn_rate = max_conn_rate_;
    i.sess_rate = i.conn_rate;
    i.max_sess_rate = max_conn_rate_;
    i.stopping = stopping_;
    i.run_queue = 0;
    i.idle_pct = 100;
    char host[256] = "";
    ::gethostname(host, sizeof host - 1);
    i.node = host;
    i.jobs = conns_.size() + listeners_.size();
    i.listeners = listeners_.size();
    i.total_bytes_out = total_bytes_out_;
    return i;
}

std::vector<ProxyView> Runtime::proxies() {
    std::vector<ProxyView> out;
    for (auto& p : cfg_->proxies) {
        ProxyView v;
        v.conf = &p;
        v.is_frontend = p.is_frontend;
        v.is_backend = p.is_backend;
        for (auto& fe : frontends_)
            if (fe->conf == &p) {
                v.fe = &fe->counters;
                v.fe_maxconn = fe->maxconn;
                bool any = false;
                for (Listener* l : fe->listeners)
                    any = any || l->registered;
                v.fe_paused = !any;
            }
        for (auto& be : backends_)
            if (be->conf == &p) {
                v.be = &be->counters;
                for (size_t i = 0; i < be->servers.size(); ++i) {
                    ServerView sv;
                    sv.conf = be->servers[i].conf;
                    sv.counters = &be->servers[i].counters;
                    sv.admin = &be->servers[i].admin;
                    sv.weight = &be->servers[i].weight;
                    sv.cur_conns = be->slots[i].cur_conns;
                    v.servers.push_back(sv);
                }
            }
        out.push_back(std::move(v));
    }
    return out;
}

std::vector<SessionView> Runtime::sessions() const {
    std::vector<SessionView> out;
    auto now = Clock::now();
    for (auto& [id, c] : conns_) {
        SessionView s;
        s.id = id;
        s.frontend = c->fe->conf->name;
        s.backend = c->be ? c->be->conf->name : "";
        s.server = c->be && c->server >= 0 ? c->be->servers[static_cast<size_t>(c->server)].conf->name : "";
        s.src = c->src;
        s.phase = phase_name(c->phase);
        s.age_sec = std::chrono::duration_cast<std::chrono::seconds>(now - c->accepted).count();
        s.bytes_in = c->bytes_in;
        s.bytes_out = c->bytes_out;
        out.push_back(std::move(s));
    }
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.id < b.id; });
    return out;
}

void Runtime::server_changed(const std::string& backend, const std::string& server) {
    for (auto& be : backends_) {
        if (be->conf->name != backend)
            continue;
        for (size_t i = 0; i < be->servers.size(); ++i) {
            Server& s = be->servers[i];
            if (s.conf->name != server)
                continue;
            // DRAIN and MAINT both stop new connections; established ones continue.
            be->slots[i].disabled = s.admin != AdminState::Ready;
            be->slots[i].weight = s.weight;
            s.counters.last_change = static_cast<int64_t>(::time(nullptr));
            log_notice("server '%s/%s' is now %s with weight %d", backend.c_str(), server.c_str(),
                       s.admin == AdminState::Ready ? "READY" : s.admin == AdminState::Drain ? "DRAIN" : "MAINT",
                       s.weight);
        }
        be->lb->rebuild();
        dequeue(*be);
    }
}

void Runtime::on_cli_request(const CliRequestMsg& m) noexcept {
    std::string reply = run_worker_command(*this, m.command, static_cast<CliLevel>(m.level));
    if (m.id == 0 || !ctl_.valid())
        return;  // replayed state: nobody waits for the answer
    size_t off = 0;
    do {
        size_t n = std::min(reply.size() - off, kCliMaxChunk);
        CliReplyMsg r{m.id, off + n >= reply.size(), reply.substr(off, n)};
        if (!send_message(ctl_.get(), r))
            return;
        off += n;
    } while (off < reply.size());
}

}  // namespace proxyd::worker
