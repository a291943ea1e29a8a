// The master CLI (-S) and `stats socket`s: sessions, routing to workers, master commands.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "config.h"
#include "common/control.h"
#include "common/log.h"
#include "common/net.h"
#include "master/master.h"
#include "worker/cli_commands.h"

namespace proxyd::master {

using namespace proxyd::common;

namespace {
constexpr size_t kMaxSessions = 256;
constexpr size_t kMaxInput = 64 * 1024;
constexpr size_t kMaxOutput = 64 * 1024 * 1024;
constexpr auto kRouteTimeout = std::chrono::seconds(10);
const std::string kLineEnd = "\x01";  // marks the end of an input line in the command queue

std::string uptime_str(int64_t s) {
    if (s < 0)
        s = 0;
    return strprintf("%lldd%02lldh%02lldm%02llds", static_cast<long long>(s / 86400),
                     static_cast<long long>(s / 3600 % 24), static_cast<long long>(s / 60 % 60),
                     static_cast<long long>(s % 60));
}

bool starts_with_words(const std::vector<std::string>& w, std::initializer_list<const char*> words) {
    size_t i = 0;
    for (const char* x : words) {
        if (i >= w.size() || w[i] != x)
            return false;
        ++i;
    }
    return true;
}

// Commands that change a server's runtime state: applied to the whole current generation and
// remembered for the next ones, so that workers never disagree and reloads keep them.
bool is_state_command(const std::vector<std::string>& w) {
    return starts_with_words(w, {"disable", "server"}) || starts_with_words(w, {"enable", "server"}) ||
           starts_with_words(w, {"set", "server"}) || starts_with_words(w, {"set", "weight"});
}
}  // namespace

bool Master::cli_add_listener(const BindConf& b, const MasterSocketSpec& spec, bool stats, const std::string& key,
                              std::string* err) {
    ListenOptions lo;
    lo.backlog = 64;
    lo.reuseport = false;
    std::string what;
    auto fd = open_listener(b, lo, &what);
    if (!fd) {
        *err = strprintf("cannot %s '%s': %s", what.c_str(), b.spec.c_str(), fd.error().message().c_str());
        return false;
    }
    uint64_t id = next_listener_++;
    CliListener& l = cli_listeners_[id];
    l.fd = std::move(fd.value());
    l.spec = spec;
    l.stats = stats;
    l.key = key;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kTagCliListener | id;
    ::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, l.fd.get(), &ev);
    return true;
}

void Master::cli_open_listeners() {
    for (auto& text : opts_.master_sockets) {
        std::string err;
        auto spec = parse_master_socket_spec(text, &err);
        if (!spec) {
            log_alert("-S '%s': %s", text.c_str(), err.c_str());
            continue;  // validated before start; cannot happen
        }
        BindConf b;
        b.spec = text;
        b.addr = spec->addr;
        b.mode = spec->mode;
        b.uid = spec->uid;
        b.gid = spec->gid;
        if (!cli_add_listener(b, *spec, false, "", &err))
            log_alert("master CLI: %s", err.c_str());
    }
}

bool Master::cli_stats_acquire(const Config& cfg, std::vector<std::string>* errs) {
    bool ok = true;
    for (auto& sc : cfg.global.stats_sockets) {
        std::string key = sc.key();
        bool have = false;
        for (auto& [id, l] : cli_listeners_)
            have = have || (l.stats && l.key == key);
        if (have)
            continue;
        BindConf b;
        b.spec = sc.spec;
        b.addr = sc.addr;
        b.mode = sc.mode;
        b.uid = sc.uid;
        b.gid = sc.gid;
        MasterSocketSpec spec;
        spec.text = sc.spec;
        spec.addr = sc.addr;
        spec.level = sc.level;
        std::string err;
        if (!cli_add_listener(b, spec, true, key, &err)) {
            errs->push_back(strprintf("Binding [%s:%d] for 'stats socket': %s", sc.loc.file.c_str(), sc.loc.line,
                                      err.c_str()));
            ok = false;
        }
    }
    return ok;
}

void Master::cli_stats_retain() {
    // Keep the stats sockets of the current and the loading configuration; levels follow the
    // current one.
    std::map<std::string, CliLevel> keep;
    for (uint32_t g : {pending_gen_, current_gen_})
        if (g && gens_.count(g))
            for (auto& sc : gens_[g].cfg->global.stats_sockets)
                keep[sc.key()] = sc.level;
    std::set<std::string> kept_paths;
    for (auto& [id, l] : cli_listeners_)
        if (!l.stats || keep.count(l.key))
            if (l.spec.addr.family == AddrFamily::Unix)
                kept_paths.insert(l.spec.addr.path);
    for (auto it = cli_listeners_.begin(); it != cli_listeners_.end();) {
        CliListener& l = it->second;
        if (!l.stats) {
            ++it;
        } else if (auto k = keep.find(l.key); k != keep.end()) {
            l.spec.level = k->second;
            ++it;
        } else {
            if (l.spec.addr.family == AddrFamily::Unix && !kept_paths.count(l.spec.addr.path))
                ::unlink(l.spec.addr.path.c_str());
            it = cli_listeners_.erase(it);
        }
    }
}

void Master::cli_accept(uint64_t idx) {
    auto lit = cli_listeners_.find(idx);
    if (lit == cli_listeners_.end())
        return;
    CliListener& l = lit->second;
    for (;;) {
        int fd = ::accept4(l.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (sessions_.size() >= kMaxSessions) {
            static const char msg[] = "Too many master CLI sessions, try again later.\n";
            ssize_t r = ::send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)r;
            ::close(fd);
            continue;
        }
        uint64_t id = next_session_++;
        CliSession& s = sessions_[id];
        s.id = id;
        s.fd.reset(fd);
        s.level = l.spec.level;
        s.stats = l.stats;
        if (s.stats)
            s.sticky.kind = CliTarget::Kind::All;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.u64 = kTagSession | id;
        ::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev);
    }
}

void Master::cli_close(uint64_t id) {
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second.dead)
        return;
    CliSession& s = it->second;
    // A routed request in flight is simply forgotten: its replies will find no session.
    for (auto r = req_session_.begin(); r != req_session_.end();)
        r = r->second == id ? req_session_.erase(r) : std::next(r);
    std::erase(reload_waiters_, id);
    std::erase(reload_waiters_next_, id);
    // The session may be deep in the call stack (a reload it asked for may end synchronously):
    // release its socket now, free the object once the current event is handled.
    s.dead = true;
    s.fd.reset();
    s.cmds.clear();
    s.routed.reset();
    s.waiting_reload = false;
    dead_sessions_.push_back(id);
}

void Master::cli_reap_sessions() {
    for (uint64_t id : dead_sessions_)
        sessions_.erase(id);
    dead_sessions_.clear();
}

void Master::cli_on_session(uint64_t id, uint32_t events) {
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second.dead)
        return;
    CliSession& s = it->second;
    if (events & EPOLLERR) {
        cli_close(id);
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
        char buf[4096];
        for (;;) {
            ssize_t n = ::read(s.fd.get(), buf, sizeof buf);
            if (n > 0) {
                if (s.in.size() + static_cast<size_t>(n) > kMaxInput) {
                    s.out += "Input line too long.\n";
                    s.close_after_flush = true;
                    break;
                }
                s.in.append(buf, static_cast<size_t>(n));
            } else if (n == 0) {
                s.rd_eof = true;
                break;
            } else if (errno == EINTR) {
                continue;
            } else if (errno == EAGAIN) {
                break;
            } else {
                cli_close(id);
                return;
            }
        }
        size_t nl;
        while ((nl = s.in.find('\n')) != std::string::npos) {
            std::string line = s.in.substr(0, nl);
            s.in.erase(0, nl + 1);
            for (auto& c : split_commands(line))
                s.cmds.push_back(c);
            s.cmds.push_back(kLineEnd);
        }
        if (s.rd_eof && !s.in.empty()) {
            for (auto& c : split_commands(s.in))
                s.cmds.push_back(c);
            s.cmds.push_back(kLineEnd);
            s.in.clear();
        }
    }
    cli_advance(s);
    cli_flush(s);
}

void Master::cli_flush(CliSession& s) {
    if (s.dead)
        return;
    while (!s.out.empty()) {
        ssize_t n = ::send(s.fd.get(), s.out.data(), s.out.size(), MSG_NOSIGNAL);
        if (n > 0) {
            s.out.erase(0, static_cast<size_t>(n));
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            if (s.out.size() > kMaxOutput) {
                cli_close(s.id);  // a client that never reads does not make us hoard memory
                return;
            }
            return;  // EPOLLOUT (edge) resumes
        } else {
            cli_close(s.id);
            return;
        }
    }
    bool idle = s.cmds.empty() && !s.routed && !s.waiting_reload;
    if (s.close_after_flush || (s.rd_eof && idle)) {
        ::shutdown(s.fd.get(), SHUT_WR);
        cli_close(s.id);
    }
}

void Master::cli_advance(CliSession& s) {
    while (!s.dead && !s.waiting_workers && !s.routed && !s.waiting_reload && !s.close_after_flush && !s.cmds.empty()) {
        std::string c = std::move(s.cmds.front());
        s.cmds.pop_front();
        if (c == kLineEnd) {
            if (s.interactive)
                s.out += cli_prompt(s);
            continue;
        }
        cli_run(s, c);
    }
}

std::string Master::cli_prompt(const CliSession& s) const {
    if (s.stats)
        return "> ";
    switch (s.sticky.kind) {
    case CliTarget::Kind::Pid: return std::to_string(s.sticky.pid) + "> ";
    case CliTarget::Kind::Relative:
        for (auto& [pid, w] : workers_)
            if (w.gen == current_gen_ && w.index == s.sticky.relative)
                return std::to_string(pid) + "> ";
        return "[gone]> ";
    case CliTarget::Kind::All: return "*> ";
    default: return last_load_failed_ ? "master[ReloadFailed]> " : "master> ";
    }
}

void Master::cli_run(CliSession& s, const std::string& cmd) {
    PrefixedCommand p = parse_prefix(cmd);
    if (p.bad_prefix) {
        s.out += "Can't find the target PID matching the prefix '" + p.prefix + "'\n\n";
        return;
    }
    if (s.stats && p.target.kind != CliTarget::Kind::Default) {
        s.out += "Routing prefixes are only available on the master CLI (-S).\n\n";
        return;
    }
    CliTarget t = p.target.kind == CliTarget::Kind::Default ? s.sticky : p.target;
    if (p.rest.empty()) {
        // A prefix alone switches the default target for the rest of the session.
        if (t.kind == CliTarget::Kind::Relative || t.kind == CliTarget::Kind::Pid) {
            bool found = false;
            for (auto& [pid, w] : workers_)
                found = found || (t.kind == CliTarget::Kind::Pid ? pid == t.pid
                                                                 : (w.gen == current_gen_ && w.index == t.relative));
            if (!found) {
                s.out += "Can't find the target PID matching the prefix '" + p.prefix + "'\n\n";
                return;
            }
        }
        s.sticky = t.kind == CliTarget::Kind::Master ? CliTarget{} : t;
        return;
    }
    auto words = split_words(p.rest);
    // Session commands always stay in the master, whatever the target.
    if (!words.empty() && (words[0] == "prompt" || words[0] == "quit" || words[0] == "operator" ||
                           words[0] == "user" || (words[0] == "help" && t.kind != CliTarget::Kind::Pid &&
                                                  t.kind != CliTarget::Kind::Relative && !s.stats))) {
        cli_master_command(s, words, p.rest);
        return;
    }
    if (t.kind == CliTarget::Kind::Default || t.kind == CliTarget::Kind::Master) {
        if (!cli_master_command(s, words, p.rest)) {
            s.out += "Unknown command: '" + (words.empty() ? std::string() : words[0]) + "'\n";
            s.out += help_text(s);
            s.out += "\n";
        }
        return;
    }
    if (!first_ready_ && stop_ == Stop::None) {
        // Workers are still starting: as with HAProxy, whose worker CLI only accepts once ready,
        // the command waits instead of failing.
        s.cmds.push_front(cmd);
        s.waiting_workers = true;
        return;
    }
    cli_route(s, t, p.rest, p.prefix);
}

std::string Master::help_text(const CliSession& s) const {
    auto line = [](const char* c, const char* d) { return strprintf("  %-39s : %s\n", c, d); };
    std::string h = "The following commands are valid at this level:\n";
    if (s.stats) {
        h += line("help", "list the commands");
        h += line("prompt", "toggle interactive mode with prompt");
        h += line("quit", "disconnect");
        h += line("<worker command>", "sent to every current worker (try 'help' on a worker: '@1 help' on -S)");
        return h;
    }
    h += line("@<relative pid>", "send a command to the <relative pid> process of the current generation");
    h += line("@!<pid>", "send a command to the <pid> process (current or old worker)");
    h += line("@*", "send a command to every current worker (state changes, merged stats)");
    h += line("@master", "send a command to the master process");
    if (s.level >= CliLevel::Operator) {
        h += line("reload", "reload the configuration; answers Success=1|0 then the reload's logs");
        h += line("hard-reload", "reload, stopping old workers at once instead of draining them");
        h += line("show proc [json]", "show processes status");
    }
    h += line("show version", "show version of the current process");
    h += line("show startup-logs", "show the logs of the last load or reload attempt");
    h += line("show cli level", "display the level of the current CLI session");
    h += line("show cli sockets", "dump list of cli sockets");
    h += line("operator", "lower the level of the current CLI session to operator");
    h += line("user", "lower the level of the current CLI session to user");
    h += line("help", "list the commands");
    h += line("prompt", "toggle interactive mode with prompt");
    h += line("quit", "disconnect");
    return h;
}

bool Master::cli_master_command(CliSession& s, const std::vector<std::string>& w, const std::string&) {
    auto need = [&](CliLevel l) {
        if (s.level >= l)
            return true;
        s.out += "Permission denied!\n\n";
        return false;
    };
    if (w.empty())
        return true;
    if (w[0] == "help") {
        s.out += help_text(s) + "\n";
    } else if (w[0] == "prompt") {
        s.interactive = !s.interactive;
    } else if (w[0] == "quit") {
        s.close_after_flush = true;
        s.cmds.clear();
    } else if (w[0] == "operator" || w[0] == "user") {
        CliLevel want = w[0] == "operator" ? CliLevel::Operator : CliLevel::User;
        if (want > s.level)
            s.out += "Permission denied!\n\n";
        else
            s.level = want;
    } else if (s.stats) {
        return false;
    } else if (starts_with_words(w, {"show", "proc"})) {
        if (!need(CliLevel::Operator))
            return true;
        if (w.size() > 2 && w[2] != "json") {
            s.out += "'show proc' only supports 'json' as argument\n\n";
            return true;
        }
        s.out += show_proc(w.size() > 2) + "\n";
    } else if (starts_with_words(w, {"show", "version"})) {
        s.out += std::string(PROXYD_VERSION) + "\n\n";
    } else if (starts_with_words(w, {"show", "startup-logs"})) {
        for (auto& l : startup_log_)
            s.out += l + "\n";
        s.out += "\n";
    } else if (starts_with_words(w, {"show", "cli", "level"})) {
        s.out += std::string(cli_level_name(s.level)) + "\n\n";
    } else if (starts_with_words(w, {"show", "cli", "sockets"})) {
        s.out += "# socket lvl processes\n";
        for (auto& [lid, l] : cli_listeners_)
            s.out += l.spec.addr.to_string() + " " + cli_level_name(l.spec.level) + " " +
                     (l.stats ? "workers" : "master") + "\n";
        s.out += "\n";
    } else if (w[0] == "reload" || w[0] == "hard-reload") {
        if (!need(CliLevel::Operator))
            return true;
        bool hard = w[0] == "hard-reload";
        if (stop_ != Stop::None) {
            s.out += "Success=0\n--\nproxyd is stopping.\n";
            s.close_after_flush = true;
            return true;
        }
        s.waiting_reload = true;
        s.cmds.clear();  // `reload` is always the last command of its connection
        if (pending_gen_) {
            reload_queued_ = true;
            hard_reload_queued_ = hard_reload_queued_ || hard;
            reload_waiters_next_.push_back(s.id);
        } else {
            reload_waiters_.push_back(s.id);
            hard_reload_ = hard;
            start_load(false);
        }
    } else {
        return false;
    }
    return true;
}

void Master::cli_reload_done(bool ok) {
    startup_log_ = load_log_;
    last_load_failed_ = !ok;
    std::string reply = std::string(ok ? "Success=1" : "Success=0") + "\n--\n";
    for (auto& l : load_log_)
        reply += l + "\n";
    auto waiters = std::move(reload_waiters_);
    reload_waiters_ = std::move(reload_waiters_next_);
    reload_waiters_next_.clear();
    hard_reload_ = hard_reload_queued_;
    hard_reload_queued_ = false;
    for (uint64_t id : waiters) {
        auto it = sessions_.find(id);
        if (it == sessions_.end() || it->second.dead)
            continue;
        it->second.waiting_reload = false;
        it->second.out += reply;
        it->second.close_after_flush = true;
        cli_flush(it->second);
    }
}

void Master::cli_route(CliSession& s, const CliTarget& t, const std::string& cmd, const std::string& prefix) {
    auto words = split_words(cmd);
    std::vector<pid_t> targets;
    bool current_target = false;
    for (auto& [pid, w] : workers_) {
        if (!w.ctl.valid())
            continue;
        bool match = (t.kind == CliTarget::Kind::All && w.gen == current_gen_) ||
                     (t.kind == CliTarget::Kind::Relative && w.gen == current_gen_ && w.index == t.relative) ||
                     (t.kind == CliTarget::Kind::Pid && pid == t.pid);
        if (match) {
            targets.push_back(pid);
            current_target = current_target || w.gen == current_gen_;
        }
    }
    if (targets.empty()) {
        s.out += "Can't find the target PID matching the prefix '" +
                 (prefix.empty() ? std::string(t.kind == CliTarget::Kind::All ? "@*" : "@") : prefix) + "'\n\n";
        return;
    }
    bool state = is_state_command(words);
    if (state && current_target && s.level == CliLevel::Admin) {
        targets.clear();
        for (auto& [pid, w] : workers_)
            if (w.gen == current_gen_ && w.ctl.valid())
                targets.push_back(pid);
    }
    std::sort(targets.begin(), targets.end(), [&](pid_t a, pid_t b) {
        auto& wa = workers_.at(a);
        auto& wb = workers_.at(b);
        return std::tie(wa.gen, wa.index) < std::tie(wb.gen, wb.index);
    });
    RoutedCommand r;
    r.command = cmd;
    r.order = targets;
    r.merge = t.kind == CliTarget::Kind::All && targets.size() > 1 && words.size() == 2 && words[0] == "show" &&
              (words[1] == "info" || words[1] == "stat");
    // The master keeps the workers' server states identical, so these answer the same in every
    // worker: show one answer, not N copies a script would have to de-duplicate.
    r.first_only = t.kind == CliTarget::Kind::All && targets.size() > 1 && !words.empty() &&
                   (words[0] == "help" || starts_with_words(words, {"show", "servers", "state"}));
    r.deadline = Clock::now() + kRouteTimeout;
    uint32_t id = next_req_++;
    if (next_req_ == 0)
        next_req_ = 1;
    CliRequestMsg m{id, static_cast<uint8_t>(s.level), cmd.size() > kCliMaxCommand ? cmd.substr(0, kCliMaxCommand) : cmd};
    for (pid_t pid : targets) {
        if (send_message(workers_.at(pid).ctl.get(), m))
            r.waiting.insert(pid);
        else
            r.replies[pid] = "(could not reach the worker)\n";
    }
    req_session_[id] = s.id;
    s.routed = std::move(r);
    if (s.routed->waiting.empty())
        cli_finish_routed(s);
}

void Master::cli_on_reply(pid_t pid, const CliReplyMsg& m) {
    auto it = req_session_.find(m.id);
    if (it == req_session_.end())
        return;
    auto sit = sessions_.find(it->second);
    if (sit == sessions_.end() || sit->second.dead || !sit->second.routed || !sit->second.routed->waiting.count(pid))
        return;
    CliSession& s = sit->second;
    std::string& acc = s.routed->replies[pid];
    if (acc.size() + m.text.size() <= kMaxOutput)
        acc += m.text;
    if (m.last)
        s.routed->waiting.erase(pid);
    if (s.routed->waiting.empty()) {
        req_session_.erase(it);
        cli_finish_routed(s);
        cli_advance(s);
        cli_flush(s);
    }
}

void Master::cli_finish_routed(CliSession& s) {
    RoutedCommand r = std::move(*s.routed);
    s.routed.reset();
    for (auto it = req_session_.begin(); it != req_session_.end();)
        it = it->second == s.id ? req_session_.erase(it) : std::next(it);
    auto words = split_words(r.command);
    bool all_empty = true;
    for (pid_t p : r.order)
        all_empty = all_empty && r.replies[p].empty();
    if (is_state_command(words) && all_empty && r.order.size() >= 1) {
        bool current = false;
        for (pid_t p : r.order)
            if (auto w = workers_.find(p); w != workers_.end() && w->second.gen == current_gen_)
                current = true;
        if (current) {
            std::erase(state_commands_, r.command);
            state_commands_.push_back(r.command);
        }
    }
    std::string reply;
    bool json = !words.empty() && words.back() == "json";
    bool identical = true;
    for (pid_t p : r.order)
        identical = identical && r.replies[p] == r.replies[r.order[0]];
    if (r.order.size() == 1 || r.first_only || (identical && !r.merge)) {
        reply = r.replies[r.order[0]];
    } else if (r.merge) {
        std::vector<std::string> reps;
        for (pid_t p : r.order)
            reps.push_back(r.replies[p]);
        bool stat = words.size() >= 2 && words[1] == "stat";
        reply = stat ? worker::merge_show_stat(reps) : worker::merge_show_info(reps);
    } else if (json) {
        // One JSON document. HAProxy's json forms are arrays of fields, each tagged with its
        // processNum (the worker index here): concatenate them, as HAProxy's nbproc era did.
        std::vector<std::string> bodies;
        bool arrays = true;
        for (pid_t p : r.order) {
            std::string body = r.replies[p];
            while (!body.empty() && (body.back() == '\n' || body.back() == ' '))
                body.pop_back();
            arrays = arrays && body.size() >= 2 && body.front() == '[' && body.back() == ']';
            bodies.push_back(std::move(body));
        }
        if (arrays) {
            reply = "[";
            bool first = true;
            for (auto& b : bodies) {
                std::string inner = b.substr(1, b.size() - 2);
                if (inner.find_first_not_of(" \n") == std::string::npos)
                    continue;
                reply += (first ? "" : ",") + inner;
                first = false;
            }
            reply += "]\n";
        } else {
            reply = "{\"workers\":[";
            for (size_t i = 0; i < r.order.size(); ++i) {
                auto w = workers_.find(r.order[i]);
                std::string esc;
                for (char ch : bodies[i]) {
                    if (ch == '"' || ch == '\\')
                        esc += '\\';
                    if (ch == '\n')
                        esc += "\\n";
                    else if (static_cast<unsigned char>(ch) >= 0x20)
                        esc += ch;
                }
                reply += strprintf("%s{\"index\":%u,\"pid\":%d,\"reply\":\"%s\"}", i ? "," : "",
                                   w != workers_.end() ? w->second.index : 0, r.order[i], esc.c_str());
            }
            reply += "]}\n";
        }
    } else if (!all_empty) {
        for (pid_t p : r.order) {
            auto w = workers_.find(p);
            reply += strprintf("# worker %u (pid %d)\n", w != workers_.end() ? w->second.index : 0, p);
            reply += r.replies[p];
            if (!reply.empty() && reply.back() != '\n')
                reply += "\n";
        }
    }
    if (!reply.empty() && reply.back() != '\n')
        reply += "\n";
    // Every answer ends with one empty line (HAProxy's end-of-response marker); some worker
    // replies (show stat) already carry it.
    if (reply.size() < 2 || reply.compare(reply.size() - 2, 2, "\n\n") != 0)
        reply += "\n";
    s.out += reply;
}

void Master::cli_timers() {
    auto now = Clock::now();
    std::vector<uint64_t> done;
    for (auto& [id, s] : sessions_) {
        if (s.dead || !s.routed)
            continue;
        for (auto it = s.routed->waiting.begin(); it != s.routed->waiting.end();) {
            auto w = workers_.find(*it);
            if (w == workers_.end() || !w->second.ctl.valid()) {
                s.routed->replies[*it] += "(the worker exited before replying)\n";
                it = s.routed->waiting.erase(it);
            } else if (s.routed->deadline <= now) {
                s.routed->replies[*it] += "(no reply from the worker within 10 s)\n";
                it = s.routed->waiting.erase(it);
            } else {
                ++it;
            }
        }
        if (s.routed->waiting.empty())
            done.push_back(id);
    }
    for (uint64_t id : done) {
        auto it = sessions_.find(id);
        if (it == sessions_.end() || it->second.dead)
            continue;
        cli_finish_routed(it->second);
        cli_advance(it->second);
        cli_flush(it->second);
    }
}

std::string Master::show_proc(bool json) const {
    auto now = Clock::now();
    auto up = [&](Clock::time_point t) {
        return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(now - t).count());
    };
    std::vector<const Worker*> cur, old, loading;
    for (auto& [pid, w] : workers_) {
        if (w.failed)
            continue;
        if (w.gen == current_gen_)
            cur.push_back(&w);
        else if (w.gen == pending_gen_)
            loading.push_back(&w);
        else
            old.push_back(&w);
    }
    auto by_index = [](const Worker* a, const Worker* b) { return a->index < b->index; };
    std::sort(cur.begin(), cur.end(), by_index);
    std::sort(loading.begin(), loading.end(), by_index);
    std::sort(old.begin(), old.end(), [](const Worker* a, const Worker* b) {
        return std::tie(a->reloads, a->index) < std::tie(b->reloads, b->index);
    });
    if (json) {
        auto obj = [&](const Worker* w) {
            return strprintf("{\"pid\":%d,\"index\":%u,\"generation\":%u,\"reloads\":%u,\"uptime_sec\":%lld,"
                             "\"version\":\"%s\",\"state\":\"%s\"}",
                             w->pid, w->index, w->gen, w->reloads, static_cast<long long>(up(w->started)),
                             PROXYD_VERSION,
                             w->state == WState::Ready ? "ready" : w->state == WState::Starting ? "starting"
                                                                                                 : "stopping");
        };
        auto arr = [&](const std::vector<const Worker*>& v) {
            std::string a = "[";
            for (size_t i = 0; i < v.size(); ++i)
                a += (i ? "," : "") + obj(v[i]);
            return a + "]";
        };
        return strprintf("{\"master\":{\"pid\":%d,\"reloads\":%u,\"failed_reloads\":%u,\"uptime_sec\":%lld,"
                         "\"version\":\"%s\",\"generation\":%u},\"workers\":%s,\"loading_workers\":%s,"
                         "\"old_workers\":%s}\n",
                         ::getpid(), reloads_, failed_reloads_, static_cast<long long>(up(start_time_)),
                         PROXYD_VERSION, current_gen_, arr(cur).c_str(), arr(loading).c_str(), arr(old).c_str());
    }
    std::string o = strprintf("#%-14s %-15s %-15s %-15s %-15s\n", "<PID>", "<type>", "<reloads>", "<uptime>",
                              "<version>");
    o += strprintf("%-15d %-15s %-15s %-15s %-15s\n", ::getpid(), "master",
                   strprintf("%u [failed: %u]", reloads_, failed_reloads_).c_str(), uptime_str(up(start_time_)).c_str(),
                   PROXYD_VERSION);
    o += "# workers\n";
    for (auto* w : cur)
        o += strprintf("%-15d %-15s %-15u %-15s %-15s\n", w->pid, "worker", w->reloads,
                       uptime_str(up(w->started)).c_str(), PROXYD_VERSION);
    if (!old.empty()) {
        o += "# old workers\n";
        for (auto* w : old)
            o += strprintf("%-15d %-15s %-15u %-15s %-15s\n", w->pid, "worker", w->reloads,
                           uptime_str(up(w->started)).c_str(), PROXYD_VERSION);
    }
    return o;
}

void Master::replay_state(int ctl_fd) {
    for (auto& c : state_commands_)
        (void)send_message(ctl_fd, CliRequestMsg{0, static_cast<uint8_t>(CliLevel::Admin), c});
}

}  // namespace proxyd::master
