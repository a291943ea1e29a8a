#include "master/master.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/control.h"
#include "common/log.h"
#include "common/net.h"
#include "master/notify.h"
#include "master/pidfile.h"

extern char** environ;

namespace proxyd::master {

using namespace proxyd::common;

namespace {
constexpr auto kKillGrace = std::chrono::milliseconds(1000);

int64_t ms_until(Clock::time_point t, Clock::time_point now) {
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(t - now).count();
    return d < 0 ? 0 : d + 1;
}
}  // namespace

std::chrono::milliseconds respawn_delay(unsigned crashes) {
    // 0 s for the first crash, then 1, 2, 4, 8, 16, 30, 30, ... seconds.
    if (crashes <= 1)
        return std::chrono::milliseconds(0);
    unsigned shift = std::min(crashes - 2, 5u);
    return std::chrono::milliseconds(std::min(1000u << shift, 30000u));
}

std::pair<int, std::string> describe_wait_status(int status) {
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char* s = strsignal(sig);
        return {128 + sig, s ? s : "Signal"};
    }
    return {WEXITSTATUS(status), "Exit"};
}

Master::Master(Options opts, std::string self_exe) : opts_(std::move(opts)), self_exe_(std::move(self_exe)) {
    start_time_ = Clock::now();
    for (char** e = environ; e && *e; ++e)
        if (std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0)
            child_env_.emplace_back(*e);
    set_log_sink([this](LogLevel, const std::string& line) {
        if (capturing_ && load_log_.size() < 1000)
            load_log_.push_back(line);
    });
}

Master::~Master() { set_log_sink(nullptr); }

void Master::notify(const std::string& msg) { sd_notify_send(msg); }

std::string Master::status_line() const {
    size_t n = 0;
    for (auto& [pid, w] : workers_)
        if (w.gen == current_gen_ && w.state == WState::Ready)
            ++n;
    return strprintf("Ready: generation %u, %zu workers, %u reloads (%u failed).", current_gen_, n, reloads_,
                     failed_reloads_);
}

void Master::daemon_report(bool ok, const std::string& msg) {
    if (daemon_pipe_ < 0)
        return;
    std::string line = (ok ? "READY\n" : "ERROR " + msg + "\n");
    ssize_t r = ::write(daemon_pipe_, line.data(), line.size());
    (void)r;
    ::close(daemon_pipe_);
    daemon_pipe_ = -1;
    if (ok) {
        // Detach from the terminal only once serving: until now errors still reached it.
        int nul = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (nul >= 0) {
            ::dup2(nul, 0);
            ::dup2(nul, 1);
            ::dup2(nul, 2);
            ::close(nul);
        }
        log_settings().to_stderr = false;
    }
}

void Master::adjust_fd_limit(const Config& cfg) {
    // Each worker needs two fds per connection plus its listeners and a margin.
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t want = rl.rlim_max;
    if (cfg.global.maxconn > 0)
        want = static_cast<rlim_t>(cfg.global.maxconn) * 2 + ListenerRegistry::keys_of(cfg).size() + 64;
    if (want > rl.rlim_max) {
        rlimit up{want, want};
        if (::setrlimit(RLIMIT_NOFILE, &up) == 0)
            return;
        log_warning("maxconn %d needs %llu file descriptors but the hard limit is %llu; workers will cap "
                    "maxconn, ignoring",
                    cfg.global.maxconn, static_cast<unsigned long long>(want),
                    static_cast<unsigned long long>(rl.rlim_max));
        want = rl.rlim_max;
    }
    if (want > rl.rlim_cur) {
        rl.rlim_cur = want;
        (void)::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

std::shared_ptr<const Config> load_configuration(const std::vector<std::string>& paths,
                                                 std::vector<ConfigSource>* sources, bool warnings) {
    std::vector<std::string> errs;
    if (!read_config_paths(paths, sources, &errs)) {
        for (auto& e : errs)
            log_alert("config : %s", e.c_str());
        log_alert("config : Fatal errors found in configuration.");
        return nullptr;
    }
    ParseResult pr = parse_config(*sources);
    if (warnings)
        for (auto& w : pr.warnings)
            log_warning("config : parsing [%s:%d] : %s", w.loc.file.c_str(), w.loc.line, w.message.c_str());
    for (auto& e : pr.errors)
        log_alert("config : parsing [%s:%d] : %s", e.loc.file.c_str(), e.loc.line, e.message.c_str());
    if (!pr.config) {
        log_alert("config : Fatal errors found in configuration.");
        return nullptr;
    }
    return std::make_shared<const Config>(std::move(*pr.config));
}

bool Master::load_config(std::shared_ptr<const Config>* cfg, std::vector<ConfigSource>* sources) {
    *cfg = load_configuration(opts_.config_paths, sources);
    return *cfg != nullptr;
}

void Master::start_load(bool first) {
    load_log_.clear();
    capturing_ = true;
    uint32_t id = next_gen_;
    if (!first) {
        ++reloads_;  // every attempt, as HAProxy counts them; failures are also in failed_reloads_
        log_notice("Reloading proxyd (generation %u)", id);
        struct timespec ts{};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        notify(strprintf("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading configuration (generation %u).",
                         static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL +
                             static_cast<unsigned long long>(ts.tv_nsec / 1000),
                         id));
    }
    std::shared_ptr<const Config> cfg;
    std::vector<ConfigSource> sources;
    if (!load_config(&cfg, &sources)) {
        fail_load("configuration error");
        return;
    }
    adjust_fd_limit(*cfg);
    if (::geteuid() == 0 && !cfg->global.uid)
        log_warning("no 'user' or 'uid' in the global section: workers run as 'nobody'");
    std::vector<std::string> errs;
    if (!listeners_.acquire(*cfg, &errs) || !cli_stats_acquire(*cfg, &errs)) {
        for (auto& e : errs)
            log_alert("%s", e.c_str());
        fail_load("cannot bind listeners");
        return;
    }
    auto bundle = write_config_bundle(sources);
    if (!bundle) {
        log_errno(bundle.error(), "cannot create the configuration bundle");
        fail_load("internal error");
        return;
    }
    UniqueFd shared(::memfd_create("proxyd-shared", MFD_CLOEXEC));
    size_t nbe = 0;
    for (auto& p : cfg->proxies)
        nbe += p.is_backend ? 1 : 0;
    if (!shared.valid() || ::ftruncate(shared.get(), static_cast<off_t>(std::max<size_t>(nbe, 1) * 64)) < 0) {
        log_errno(last_errno(), "cannot create the generation's shared memory");
        fail_load("internal error");
        return;
    }
    ++next_gen_;
    Generation& g = gens_[id];
    g.id = id;
    g.cfg = cfg;
    g.bundle = std::move(bundle.value());
    g.shared = std::move(shared);
    g.ready_deadline = Clock::now() + std::chrono::milliseconds(cfg->global.mworker_start_timeout);
    pending_gen_ = id;
    for (int i = 1; i <= cfg->worker_count(); ++i)
        if (!spawn_worker(g, static_cast<uint32_t>(i))) {
            fail_load("cannot start workers");
            return;
        }
}

bool Master::spawn_worker(Generation& g, uint32_t index) {
    auto pair = control_socketpair();
    if (!pair) {
        log_errno(pair.error(), "cannot create a control socketpair");
        return false;
    }
    UniqueFd mine = std::move(pair->first);
    UniqueFd theirs = std::move(pair->second);

    std::vector<std::string> args = {self_exe_, "__worker", std::to_string(theirs.get()), std::to_string(g.id),
                                     std::to_string(index)};
    if (opts_.debug)
        args.push_back("-d");
    if (opts_.quiet)
        args.push_back("-q");
    if (!opts_.master_worker_flag && !(g.cfg && g.cfg->global.master_worker)) {
        // Started as a plain HAProxy would be (no -W): log lines carry the pid the user knows,
        // the master's, as a single-process HAProxy's do.
        args.push_back("--log-pid");
        args.push_back(std::to_string(::getpid()));
    }
    std::vector<char*> argv, envp;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : child_env_)
        envp.push_back(e.data());
    envp.push_back(nullptr);

    pid_t pid = ::fork();
    if (pid < 0) {
        log_errno(last_errno(), "cannot fork a worker");
        return false;
    }
    if (pid == 0) {
        // Child: only async-signal-safe calls until exec.
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, nullptr);
        signal(SIGPIPE, SIG_DFL);
        int fl = fcntl(theirs.get(), F_GETFD);
        fcntl(theirs.get(), F_SETFD, fl & ~FD_CLOEXEC);
        execve("/proc/self/exe", argv.data(), envp.data());
        _exit(127);
    }
    theirs.reset();
    Worker w;
    w.pid = pid;
    w.gen = g.id;
    w.index = index;
    w.started = Clock::now();
    InitMsg init{g.id, index, static_cast<uint32_t>(g.cfg->worker_count()), reloads_};
    int ifds[2] = {g.bundle.get(), g.shared.get()};
    bool ok = static_cast<bool>(send_message(mine.get(), init, ifds));
    auto lfds = listeners_.fds_for(*g.cfg);
    size_t i = 0;
    do {
        ListenersMsg lm;
        std::vector<int> fds;
        for (; i < lfds.size() && fds.size() < kControlMaxFds; ++i) {
            lm.keys.push_back(lfds[i].first);
            fds.push_back(lfds[i].second);
        }
        lm.last = i == lfds.size();
        ok = ok && send_message(mine.get(), lm, fds);
    } while (ok && i < lfds.size());
    if (ok)
        replay_state(mine.get());
    (void)set_nonblock(mine.get(), true);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kTagWorker | static_cast<uint64_t>(pid);
    ::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, mine.get(), &ev);
    w.ctl = std::move(mine);
    auto& ref = workers_[pid] = std::move(w);
    log_notice("New worker (%d) forked", pid);
    if (!ok) {
        log_alert("cannot send its configuration to worker (%d)", pid);
        kill_worker(ref, SIGKILL);
        return false;
    }
    return true;
}

void Master::kill_worker(Worker& w, int sig) {
    ::kill(w.pid, sig);  // our unreaped child: the pid cannot have been reused
    if (sig != SIGKILL && !w.kill_deadline)
        w.kill_deadline = Clock::now() + kKillGrace;
}

void Master::commit_load() {
    Generation& g = gens_[pending_gen_];
    uint32_t old = current_gen_;
    current_gen_ = pending_gen_;
    pending_gen_ = 0;
    crashes_.clear();
    const Config& cfg = *g.cfg;
    if (old != 0) {
        for (auto& [pid, w] : workers_) {
            if (w.gen == current_gen_ || w.failed)
                continue;
            ++w.reloads;
            if (w.state != WState::Stopping && hard_reload_) {
                w.state = WState::Stopping;
                (void)send_message(w.ctl.get(), HardStopMsg{});
                kill_worker(w, SIGTERM);
            } else if (w.state != WState::Stopping) {
                w.state = WState::Stopping;
                if (!send_message(w.ctl.get(), SoftStopMsg{}))
                    ::kill(w.pid, SIGUSR1);
                if (cfg.global.hard_stop_after)
                    w.hard_deadline = Clock::now() + std::chrono::milliseconds(*cfg.global.hard_stop_after);
            }
            if (cfg.global.mworker_max_reloads >= 0 &&
                w.reloads > static_cast<uint32_t>(cfg.global.mworker_max_reloads) && !w.kill_deadline) {
                log_warning("Former worker (%d) has survived %u reloads, more than mworker-max-reloads (%d): "
                            "sending SIGTERM",
                            pid, w.reloads, cfg.global.mworker_max_reloads);
                kill_worker(w, SIGTERM);
            }
        }
        // Old generations stay until their last worker exits; drop the config copy now.
        respawns_.erase(std::remove_if(respawns_.begin(), respawns_.end(),
                                       [&](const Respawn& r) { return r.gen != current_gen_; }),
                        respawns_.end());
    }
    log_notice("Loading success.");
    capturing_ = false;
    cli_reload_done(true);
    if (!first_ready_) {
        first_ready_ = true;
        std::string pf = !opts_.pidfile.empty() ? opts_.pidfile : cfg.global.pidfile;
        if (!pf.empty())
            if (auto r = write_pidfile(pf, ::getpid()); !r)
                log_errno(r.error(), "cannot write pidfile '%s'", pf.c_str());
        for (pid_t p : opts_.soft_stop_pids)
            ::kill(p, SIGUSR1);
        for (pid_t p : opts_.hard_stop_pids)
            ::kill(p, SIGTERM);
        notify(strprintf("READY=1\nMAINPID=%d\nSTATUS=%s", ::getpid(), status_line().c_str()));
        daemon_report(true, "");
        for (auto& [id, sess] : sessions_)
            if (sess.waiting_workers && !sess.dead) {
                sess.waiting_workers = false;
                cli_advance(sess);
                cli_flush(sess);
            }
    } else {
        notify("READY=1\nSTATUS=" + status_line());
    }
    retain_listeners();
    for (auto it = gens_.begin(); it != gens_.end();) {
        uint32_t id = it->first;
        ++it;
        drop_generation_if_empty(id);
    }
    if (reload_queued_ && stop_ == Stop::None) {
        reload_queued_ = false;
        start_load(false);
    }
}

void Master::fail_load(const std::string& why) {
    bool first = !first_ready_;
    if (pending_gen_) {
        auto& g = gens_[pending_gen_];
        g.failed = true;
        for (auto& [pid, w] : workers_)
            if (w.gen == pending_gen_) {
                w.failed = true;
                kill_worker(w, SIGKILL);
            }
        pending_gen_ = 0;
    }
    log_alert("Loading failure!");
    capturing_ = false;
    cli_reload_done(false);
    if (first) {
        daemon_report(false, why);
        begin_stop(Stop::Hard, exit_code_ ? exit_code_ : 1);
        return;
    }
    ++failed_reloads_;
    notify(strprintf("READY=1\nSTATUS=Reload failed (%s); still serving generation %u.", why.c_str(),
                     current_gen_));
    retain_listeners();
    if (reload_queued_ && stop_ == Stop::None) {
        reload_queued_ = false;
        start_load(false);
    }
}

void Master::retain_listeners() {
    cli_stats_retain();
    std::set<std::string> keep;
    for (auto& [id, g] : gens_) {
        bool live = id == current_gen_ || id == pending_gen_;
        for (auto& [pid, w] : workers_)
            if (w.gen == id)
                live = true;
        if (live && !g.failed) {
            auto k = ListenerRegistry::keys_of(*g.cfg);
            keep.insert(k.begin(), k.end());
        }
    }
    listeners_.retain(keep);
}

void Master::drop_generation_if_empty(uint32_t gen) {
    if (gen == current_gen_ || gen == pending_gen_)
        return;
    for (auto& [pid, w] : workers_)
        if (w.gen == gen)
            return;
    if (gens_.erase(gen))
        retain_listeners();
}

void Master::begin_stop(Stop how, int code) {
    if (how == Stop::Soft && stop_ != Stop::None)
        return;
    if (how == Stop::Hard && stop_ == Stop::Hard)
        return;
    if (stop_ == Stop::None)
        notify("STOPPING=1\nSTATUS=Stopping.");
    stop_ = how;
    exit_code_ = code;
    respawns_.clear();
    for (auto& [pid, w] : workers_) {
        if (how == Stop::Soft) {
            if (w.state == WState::Starting) {
                kill_worker(w, SIGTERM);
            } else if (w.state != WState::Stopping) {
                w.state = WState::Stopping;
                if (!send_message(w.ctl.get(), SoftStopMsg{}))
                    ::kill(w.pid, SIGUSR1);
            }
            if (current_gen_ && gens_.count(current_gen_) && !w.hard_deadline)
                if (auto hsa = gens_[current_gen_].cfg->global.hard_stop_after)
                    w.hard_deadline = Clock::now() + std::chrono::milliseconds(*hsa);
        } else {
            w.state = WState::Stopping;
            (void)send_message(w.ctl.get(), HardStopMsg{});
            kill_worker(w, SIGTERM);
        }
    }
}

void Master::on_signal() {
    for (;;) {
        signalfd_siginfo si{};
        ssize_t n = ::read(sigfd_.get(), &si, sizeof si);
        if (n != sizeof si)
            return;
        switch (si.ssi_signo) {
        case SIGCHLD: reap(); break;
        case SIGUSR2:
        case SIGHUP:
            if (stop_ != Stop::None)
                break;
            if (pending_gen_) {
                // Coalesce: one more reload after the one in flight, never two in parallel.
                reload_queued_ = true;
                log_notice("reload requested while another is in progress: queued");
            } else {
                start_load(false);
            }
            break;
        case SIGUSR1:
            log_notice("soft stop requested: workers finish their connections, then exit");
            begin_stop(Stop::Soft, 0);
            break;
        case SIGTTOU:
        case SIGTTIN:
            // As HAProxy: pause (TTOU) or resume (TTIN) the listeners of every worker.
            log_notice("%s listeners of every worker", si.ssi_signo == SIGTTOU ? "pausing" : "resuming");
            for (auto& [pid, w] : workers_)
                ::kill(pid, static_cast<int>(si.ssi_signo));
            break;
        case SIGTERM:
        case SIGINT:
            log_notice("hard stop requested (%s)", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            if (!stop_signal_)
                stop_signal_ = static_cast<int>(si.ssi_signo);
            begin_stop(Stop::Hard, 128 + static_cast<int>(si.ssi_signo));
            break;
        default: break;
        }
    }
}

void Master::on_worker_message(pid_t pid) {
    auto it = workers_.find(pid);
    if (it == workers_.end())
        return;
    Worker& w = it->second;
    for (;;) {
        RecvOutcome r = recv_message(w.ctl.get());
        switch (r.kind) {
        case RecvOutcome::Kind::WouldBlock: return;
        case RecvOutcome::Kind::Eof:
        case RecvOutcome::Kind::SysError:
            // The worker is exiting; SIGCHLD tells us how. Stop polling the socket.
            ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, w.ctl.get(), nullptr);
            w.ctl.reset();
            return;
        case RecvOutcome::Kind::ProtocolError:
            log_alert("worker (%d) sent an invalid control message (%s): killing it", pid, r.error.c_str());
            ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, w.ctl.get(), nullptr);
            w.ctl.reset();
            kill_worker(w, SIGKILL);
            return;
        case RecvOutcome::Kind::Message: break;
        }
        auto& m = r.message->msg;
        if (auto* rd = std::get_if<ReadyMsg>(&m)) {
            if (w.state != WState::Starting || static_cast<pid_t>(rd->pid) != pid) {
                log_alert("worker (%d) sent an unexpected READY: killing it", pid);
                kill_worker(w, SIGKILL);
                continue;
            }
            w.state = WState::Ready;
            log_debug("worker (%d) of generation %u is ready", pid, w.gen);
            if (w.gen == pending_gen_) {
                bool all = true;
                int n = 0;
                for (auto& [p, x] : workers_)
                    if (x.gen == pending_gen_) {
                        ++n;
                        all = all && x.state == WState::Ready;
                    }
                if (all && n == gens_[pending_gen_].cfg->worker_count())
                    commit_load();
            }
        } else if (auto* cr = std::get_if<CliReplyMsg>(&m)) {
            cli_on_reply(pid, *cr);
        } else if (auto* f = std::get_if<FatalMsg>(&m)) {
            log_alert("worker (%d): %s", pid, f->message.c_str());
            if (w.gen == pending_gen_)
                fail_load("worker failed to start: " + f->message);
        } else {
            log_alert("worker (%d) sent a message only the master may send: killing it", pid);
            kill_worker(w, SIGKILL);
        }
    }
}

void Master::reap() {
    for (;;) {
        int status = 0;
        pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        auto it = workers_.find(pid);
        if (it == workers_.end())
            continue;
        Worker w = std::move(it->second);
        workers_.erase(it);
        if (w.ctl.valid())
            ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, w.ctl.get(), nullptr);
        on_worker_exit(w, status);
    }
}

void Master::on_worker_exit(Worker& w, int status) {
    auto [code, reason] = describe_wait_status(status);
    if (stop_ != Stop::None || w.state == WState::Stopping) {
        log_notice("%s worker (%d) exited with code %d (%s)", w.gen == current_gen_ ? "Current" : "Former", w.pid,
                   code, reason.c_str());
    } else if (w.failed) {
        log_debug("worker (%d) of failed generation %u exited with code %d (%s)", w.pid, w.gen, code,
                  reason.c_str());
    } else if (w.gen == pending_gen_) {
        log_alert("Failed to load worker (%d) exited with code %d (%s)", w.pid, code, reason.c_str());
        if (!first_ready_)
            exit_code_ = code ? code : 1;
        fail_load(strprintf("worker exited with code %d", code));
    } else if (w.gen == current_gen_) {
        log_alert("Current worker (%d) exited with code %d (%s)", w.pid, code, reason.c_str());
        const Config& cfg = *gens_[current_gen_].cfg;
        if (cfg.global.exit_on_failure == ExitOnFailure::Yes) {
            log_alert("exit-on-failure: killing every processes with SIGTERM");
            begin_stop(Stop::Hard, code);
        } else {
            unsigned n = ++crashes_[w.index];
            auto d = respawn_delay(n);
            if (d.count() > 0)
                log_notice("worker %u crashed %u times in a row: respawning in %lld ms", w.index, n,
                           static_cast<long long>(d.count()));
            respawns_.push_back({current_gen_, w.index, Clock::now() + d});
        }
    } else {
        log_notice("Former worker (%d) exited with code %d (%s)", w.pid, code, reason.c_str());
    }
    drop_generation_if_empty(w.gen);
}

std::optional<Clock::time_point> Master::next_deadline() const {
    std::optional<Clock::time_point> t;
    auto take = [&](Clock::time_point x) {
        if (!t || x < *t)
            t = x;
    };
    if (pending_gen_)
        take(gens_.at(pending_gen_).ready_deadline);
    for (auto& r : respawns_)
        take(r.at);
    for (auto& [id, sess] : sessions_)
        if (sess.routed)
            take(sess.routed->deadline);
    for (auto& [pid, w] : workers_) {
        if (w.hard_deadline && !w.kill_deadline)
            take(*w.hard_deadline);
        if (w.kill_deadline)
            take(*w.kill_deadline);
    }
    return t;
}

void Master::run_timers() {
    auto now = Clock::now();
    if (pending_gen_ && gens_[pending_gen_].ready_deadline <= now) {
        log_alert("generation %u did not become ready within mworker-start-timeout (%llu ms)", pending_gen_,
                  static_cast<unsigned long long>(gens_[pending_gen_].cfg->global.mworker_start_timeout));
        fail_load("workers did not become ready in time");
    }
    for (auto& [pid, w] : workers_) {
        if (w.kill_deadline && *w.kill_deadline <= now) {
            ::kill(w.pid, SIGKILL);
            w.kill_deadline = now + std::chrono::hours(24 * 365);
        } else if (w.hard_deadline && !w.kill_deadline && *w.hard_deadline <= now) {
            log_warning("%s worker (%d) is still draining after hard-stop-after: sending SIGTERM",
                        w.gen == current_gen_ ? "Current" : "Former", w.pid);
            kill_worker(w, SIGTERM);
        }
    }
    std::vector<Respawn> due;
    for (auto it = respawns_.begin(); it != respawns_.end();) {
        if (it->at <= now) {
            due.push_back(*it);
            it = respawns_.erase(it);
        } else {
            ++it;
        }
    }
    for (auto& r : due)
        if (r.gen == current_gen_ && stop_ == Stop::None && gens_.count(r.gen))
            if (!spawn_worker(gens_[r.gen], r.index))
                respawns_.push_back({r.gen, r.index, now + respawn_delay(++crashes_[r.index] + 1)});
    cli_timers();
}

void Master::dispatch(uint64_t tag, uint32_t events) {
    uint64_t low = tag & ~kTagMask;
    switch (tag & kTagMask) {
    case kTagSignal: on_signal(); break;
    case kTagWorker: on_worker_message(static_cast<pid_t>(low)); break;
    case kTagCliListener: cli_accept(low); break;
    case kTagSession: cli_on_session(low, events); break;
    default: break;
    }
}

int Master::run(int daemon_pipe) {
    daemon_pipe_ = daemon_pipe;
    epfd_.reset(::epoll_create1(EPOLL_CLOEXEC));
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGCHLD, SIGUSR1, SIGUSR2, SIGHUP, SIGTERM, SIGINT, SIGPIPE, SIGTTOU, SIGTTIN})
        sigaddset(&mask, s);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    sigdelset(&mask, SIGPIPE);
    sigfd_.reset(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!epfd_.valid() || !sigfd_.valid()) {
        log_errno(last_errno(), "cannot set up the master event loop");
        return 1;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kTagSignal;
    ::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, sigfd_.get(), &ev);

    cli_open_listeners();
    start_load(true);
    while (!(stop_ != Stop::None && workers_.empty())) {
        auto dl = next_deadline();
        int timeout = dl ? static_cast<int>(std::min<int64_t>(ms_until(*dl, Clock::now()), 60000)) : -1;
        epoll_event evs[32];
        int n = ::epoll_wait(epfd_.get(), evs, 32, timeout);
        if (n < 0 && errno != EINTR) {
            log_errno(last_errno(), "epoll_wait");
            break;
        }
        for (int i = 0; i < n; ++i)
            dispatch(evs[i].data.u64, evs[i].events);
        run_timers();
        cli_reap_sessions();
    }
    listeners_.close_all();
    sessions_.clear();
    for (auto& [id, l] : cli_listeners_)
        if (l.spec.addr.family == AddrFamily::Unix)
            ::unlink(l.spec.addr.path.c_str());
    cli_listeners_.clear();
    std::string pf = opts_.pidfile;
    if (pf.empty() && current_gen_ && gens_.count(current_gen_))
        pf = gens_[current_gen_].cfg->global.pidfile;
    if (!pf.empty() && first_ready_)
        remove_pidfile_if_ours(pf, ::getpid());
    log_notice("All workers exited. Exiting... (%d)", exit_code_);
    return exit_code_;
}

}  // namespace proxyd::master
