#include "worker/logger.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>

#include "common/log.h"
#include "common/logformat.h"
#include "common/net.h"
#include "common/syslog.h"

namespace proxyd::worker {

using namespace proxyd::common;

struct Logger::Sink {
    UniqueFd owned;
    int fd = -1;
    bool is_socket = true;
    bool warned = false;
};

struct Logger::Route {
    const LogTarget* target = nullptr;
    Sink* sink = nullptr;
};

namespace {

int64_t now_unix_us() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

}  // namespace

Logger::Logger() : Logger(nullptr) {}

namespace {
int g_log_pid = 0;
}  // namespace

void set_log_pid(int pid) { g_log_pid = pid; }

Logger::Logger(std::shared_ptr<const Config> cfg) : cfg_(std::move(cfg)) {
    // Load the time zone now: after chroot /etc/localtime may be out of reach.
    ::tzset();
    char host[HOST_NAME_MAX + 1] = {};
    if (::gethostname(host, sizeof host - 1) == 0)
        hostname_ = host;
    pid_num_ = g_log_pid > 0 ? g_log_pid : static_cast<int>(::getpid());
    pid_ = std::to_string(pid_num_);
    if (!cfg_)
        return;
    // stdout/stderr targets need no socket from the master: they are this process's fds.
    auto add_fd_sinks = [&](const std::vector<LogTarget>& ts) {
        for (auto& t : ts) {
            if (t.kind != LogTarget::Kind::Fd || sinks_.count(t.key()))
                continue;
            auto s = std::make_unique<Sink>();
            s->fd = t.fd;
            struct stat st{};
            s->is_socket = ::fstat(t.fd, &st) == 0 && S_ISSOCK(st.st_mode);
            sinks_.emplace(t.key(), std::move(s));
        }
    };
    add_fd_sinks(cfg_->global.log.targets);
    for (auto& p : cfg_->proxies) {
        std::vector<LogTarget> ts;
        for (auto& e : p.log.entries)
            ts.push_back(e.target);
        add_fd_sinks(ts);
    }
}

Logger::~Logger() = default;

void Logger::add_socket(const std::string& key, UniqueFd fd) {
    (void)set_nonblock(fd.get(), true);
    // The socket only sends: make the receive buffer as small as the kernel allows.
    int zero = 0;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &zero, sizeof zero);
    auto s = std::make_unique<Sink>();
    s->fd = fd.get();
    s->owned = std::move(fd);
    sinks_[key] = std::move(s);
}

const std::vector<Logger::Route>* Logger::routes_of(const ProxyConf* px) {
    auto add = [&](const LogTarget& t, std::vector<Route>* out) {
        if (auto it = sinks_.find(t.key()); it != sinks_.end())
            out->push_back(Route{&t, it->second.get()});
    };
    if (!px) {
        if (!global_built_ && cfg_)
            for (auto& t : cfg_->global.log.targets)
                add(t, &global_routes_);
        global_built_ = true;
        return &global_routes_;
    }
    if (auto it = routes_.find(px); it != routes_.end())
        return &it->second;
    std::vector<Route> r;
    for (auto& e : px->log.entries)
        add(e.target, &r);
    return &routes_.emplace(px, std::move(r)).first->second;
}

void Logger::send(const std::vector<Route>& routes, std::string_view tag, int level, std::string_view msg) noexcept {
    int64_t now = now_unix_us();
    std::string_view host = cfg_ ? std::string_view(cfg_->global.log.send_hostname) : std::string_view();
    SyslogMeta meta{host, tag, pid_};
    for (const Route& r : routes) {
        const LogTarget& t = *r.target;
        if (level > t.level)
            continue;
        build_syslog_datagram(&dgram_, t.format, t.facility, level < t.minlevel ? t.minlevel : level, meta, now, msg,
                              t.maxlen);
        ssize_t n = r.sink->is_socket ? ::send(r.sink->fd, dgram_.data(), dgram_.size(), MSG_DONTWAIT | MSG_NOSIGNAL)
                                      : ::write(r.sink->fd, dgram_.data(), dgram_.size());
        if (n >= 0) {
            ++sent_;
            continue;
        }
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
            ++dropped_;
        } else if (e != ECONNREFUSED && !r.sink->warned) {
            // ECONNREFUSED: an ICMP error for an earlier UDP datagram (nobody listening yet).
            r.sink->warned = true;
            log_warning("cannot send logs to '%s': %s", t.spec.c_str(), std::strerror(e));
        }
    }
}

void Logger::log_stream(const ProxyConf& fe, const StreamInfo& s) noexcept {
    const ProxyLogConf& lc = fe.log;
    if (lc.entries.empty())
        return;
    const std::vector<Route>& routes = *routes_of(&fe);
    if (routes.empty())
        return;
    const LogFormat* f = lc.compiled.get();
    bool http = fe.mode == ProxyMode::Http;
    // HAProxy emits its "Connect from" line at accept, whatever happens next.
    if (f && lc.dontlognull && s.bytes_in == 0 && !s.req)
        return;
    bool err = s.redispatched || (s.term[0] != '-' && s.term[0] != 'L') || (s.term[0] == '-' && s.retries > 0) ||
               (http && s.status >= 500);
    if (f && lc.dontlog_normal && !err)
        return;
    int level = err && lc.log_separate_errors ? kLogErr : kLogInfo;
    line_.clear();
    if (f) {
        LogEnv env{hostname_, pid_num_, 0};
        if (f->uses_log_count())
            env.log_count = log_counts_[&fe]++;
        f->render(s, env, &line_);
    } else {
        render_connect_line(s, http, &line_);
    }
    std::string_view tag = !lc.tag.empty() ? std::string_view(lc.tag)
                           : cfg_         ? std::string_view(cfg_->global.log.tag)
                                          : std::string_view("proxyd");
    send(routes, tag, level, line_);
}

void Logger::log_message(const ProxyConf* px, int level, std::string_view msg) noexcept {
    const std::vector<Route>& routes = *routes_of(px && !px->log.entries.empty() ? px : nullptr);
    std::string_view tag = px && !px->log.tag.empty() ? std::string_view(px->log.tag)
                           : cfg_                     ? std::string_view(cfg_->global.log.tag)
                                                      : std::string_view("proxyd");
    send(routes, tag, level, msg);
}

namespace {
std::unique_ptr<Logger>& logger_slot() {
    static std::unique_ptr<Logger> l = std::make_unique<Logger>();
    return l;
}
}  // namespace

Logger& process_logger() { return *logger_slot(); }
void set_process_logger(std::unique_ptr<Logger> l) { logger_slot() = std::move(l); }

}  // namespace proxyd::worker
