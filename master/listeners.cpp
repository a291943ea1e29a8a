#include "master/listeners.h"

#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/net.h"

namespace proxyd::master {

using namespace proxyd::common;

namespace {
int backlog_for(const ProxyConf& p, const BindConf& b, const Config& cfg) {
    if (b.backlog > 0)
        return b.backlog;
    int mc = p.maxconn > 0 ? p.maxconn : cfg.global.maxconn;
    return mc > 0 ? mc : 1024;
}
// Every datagram log target of `cfg` (global ones and the proxies' own), in order.
std::vector<const LogTarget*> log_targets(const Config& cfg) {
    std::vector<const LogTarget*> out;
    for (auto& t : cfg.global.log.targets)
        if (t.kind == LogTarget::Kind::Dgram)
            out.push_back(&t);
    for (auto& p : cfg.proxies)
        for (auto& e : p.log.entries)
            if (e.target.kind == LogTarget::Kind::Dgram)
                out.push_back(&e.target);
    return out;
}
}  // namespace

std::set<std::string> ListenerRegistry::keys_of(const Config& cfg) {
    std::set<std::string> keys;
    for (auto& p : cfg.proxies)
        for (auto& b : p.binds)
            keys.insert(b.key());
    for (auto* t : log_targets(cfg))
        keys.insert(t->key());
    return keys;
}

void ListenerRegistry::open_log_sockets(const Config& cfg) {
    std::set<std::string> done;
    for (const LogTarget* t : log_targets(cfg)) {
        std::string key = t->key();
        if (!done.insert(key).second)
            continue;
        const SockAddr& a = t->addr;
        UniqueFd fd(::socket(a.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (!fd.valid() || ::connect(fd.get(), a.sa(), a.len) < 0) {
            Errno e = last_errno();
            log_warning("[%s:%d] : cannot open log socket '%s': %s, ignoring", t->file.c_str(), t->line,
                        t->spec.c_str(), e.message().c_str());
            logs_by_key_.erase(key);
            continue;
        }
        log_debug("opened log socket '%s'", t->spec.c_str());
        logs_by_key_[key] = std::move(fd);
    }
}

bool ListenerRegistry::acquire(const Config& cfg, std::vector<std::string>* errors) {
    std::vector<std::string> bound_now;
    bool ok = true;
    for (auto& p : cfg.proxies) {
        for (auto& b : p.binds) {
            std::string key = b.key();
            int backlog = backlog_for(p, b, cfg);
            if (auto it = by_key_.find(key); it != by_key_.end()) {
                if (b.addr.family != AddrFamily::Fd)
                    (void)relisten(it->second.fd.get(), backlog);
                continue;
            }
            std::string what;
            ListenOptions lo;
            lo.backlog = backlog;
            lo.reuseport = !cfg.global.noreuseport;
            auto fd = open_listener(b, lo, &what);
            if (!fd) {
                errors->push_back(strprintf("Binding [%s:%d] for proxy '%s': cannot %s '%s': %s", b.loc.file.c_str(),
                                            b.loc.line, p.name.c_str(), what.c_str(), b.spec.c_str(),
                                            fd.error().message().c_str()));
                ok = false;
                continue;
            }
            log_debug("bound listener '%s' for proxy '%s'", b.spec.c_str(), p.name.c_str());
            bound_now.push_back(key);
            by_key_.emplace(key, Entry{std::move(fd.value()), b});
        }
    }
    if (!ok)
        for (auto& k : bound_now) {
            auto it = by_key_.find(k);
            if (it->second.conf.addr.family == AddrFamily::Unix)
                ::unlink(it->second.conf.addr.path.c_str());
            by_key_.erase(it);
        }
    if (ok)
        open_log_sockets(cfg);
    return ok;
}

std::vector<std::pair<std::string, int>> ListenerRegistry::fds_for(const Config& cfg) const {
    std::vector<std::pair<std::string, int>> out;
    std::set<std::string> seen;
    for (auto& p : cfg.proxies)
        for (auto& b : p.binds) {
            std::string key = b.key();
            auto it = by_key_.find(key);
            if (it != by_key_.end() && seen.insert(key).second)
                out.emplace_back(key, it->second.fd.get());
        }
    for (const LogTarget* t : log_targets(cfg)) {
        std::string key = t->key();
        auto it = logs_by_key_.find(key);
        if (it != logs_by_key_.end() && seen.insert(key).second)
            out.emplace_back(key, it->second.get());
    }
    return out;
}

void ListenerRegistry::retain(const std::set<std::string>& keep) {
    std::set<std::string> kept_paths;
    for (auto& [k, e] : by_key_)
        if (keep.count(k) && e.conf.addr.family == AddrFamily::Unix)
            kept_paths.insert(e.conf.addr.path);
    for (auto it = by_key_.begin(); it != by_key_.end();) {
        if (keep.count(it->first)) {
            ++it;
            continue;
        }
        log_debug("closing listener '%s'", it->second.conf.spec.c_str());
        if (it->second.conf.addr.family == AddrFamily::Unix && !kept_paths.count(it->second.conf.addr.path))
            ::unlink(it->second.conf.addr.path.c_str());
        it = by_key_.erase(it);
    }
    for (auto it = logs_by_key_.begin(); it != logs_by_key_.end();)
        it = keep.count(it->first) ? std::next(it) : logs_by_key_.erase(it);
}

void ListenerRegistry::close_all() { retain({}); }

}  // namespace proxyd::master
