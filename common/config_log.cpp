// Logging keywords: `log` (global and proxies), `log-tag`, `log-send-hostname`, `log-format`,
// `option httplog|tcplog|dontlognull|log-separate-errors|dontlog-normal`. Syntax and messages
// follow HAProxy 2.6 (src/log.c parse_logsrv, src/cfgparse-listen.c).
#include <unistd.h>

#include <charconv>
#include <climits>

#include "common/config_parse.h"
#include "common/log.h"
#include "common/logformat.h"

namespace proxyd::common {

std::string LogTarget::key() const {
    if (kind == Kind::Fd)
        return "log:fd@" + std::to_string(fd);
    return "log:" + addr.to_string();
}

namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// The address part of a `log` line: stdout/stderr/fd@N, a UDP address (default port 514) or a
// UNIX datagram socket.
bool parse_log_address(const std::string& spec, LogTarget* t, std::string* err) {
    std::string_view s = spec;
    if (s == "stdout" || s == "stderr" || starts_with(s, "fd@")) {
        int fd = s == "stdout" ? 1 : s == "stderr" ? 2 : -1;
        if (fd < 0) {
            auto v = s.substr(3);
            auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), fd);
            if (ec != std::errc() || p != v.data() + v.size())
                fd = -1;
        }
        if (fd != 1 && fd != 2) {
            *err = "only 'stdout', 'stderr', 'fd@1' and 'fd@2' are supported as file descriptors";
            return false;
        }
        t->kind = LogTarget::Kind::Fd;
        t->fd = fd;
        return true;
    }
    if (starts_with(s, "ring@") || starts_with(s, "tcp@") || starts_with(s, "tcp4@") || starts_with(s, "tcp6@")) {
        *err = "log rings and TCP log servers ('" + spec.substr(0, spec.find('@') + 1) + "') are not supported";
        return false;
    }
    std::string a;
    if (starts_with(s, "udp@"))
        a = std::string(s.substr(4));
    else if (starts_with(s, "udp4@"))
        a = "ipv4@" + std::string(s.substr(5));
    else if (starts_with(s, "udp6@"))
        a = "ipv6@" + std::string(s.substr(5));
    else
        a = spec;
    bool is_unix = starts_with(a, "/") || starts_with(a, "unix@") || starts_with(a, "abns@");
    if (!is_unix) {
        std::string_view h = a;
        if (starts_with(h, "ipv4@") || starts_with(h, "ipv6@"))
            h.remove_prefix(5);
        bool has_port = !h.empty() && h[0] == '[' ? h.find("]:") != std::string_view::npos
                                                  : h.find(':') != std::string_view::npos;
        if (!has_port)
            a += ":514";
    }
    auto addr = parse_address(a, AddrUse::Server, err);
    if (!addr)
        return false;
    t->kind = LogTarget::Kind::Dgram;
    t->addr = std::move(*addr);
    return true;
}

// `log ADDR [len N] [format F] FACILITY [LEVEL [MINLEVEL]]`; w[0] is "log".
bool parse_log_target(const Line& l, bool in_global, LogTarget* t, std::string* err) {
    const auto& w = l.w;
    if (w.size() < 3 || w[1].empty() || w[2].empty()) {
        *err = std::string("expects <address> and <facility> ") + (in_global ? "" : "or global ") + "as arguments";
        return false;
    }
    t->file = l.loc.file;
    t->line = l.loc.line;
    t->spec = w[1];
    size_t cur = 2;
    auto arg = [&](size_t i) -> const std::string& {
        static const std::string empty;
        return i < w.size() ? w[i] : empty;
    };
    if (arg(cur) == "len") {
        long long v = 0;
        const std::string& n = arg(cur + 1);
        auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
        if (ec != std::errc() || p != n.data() + n.size() || v < 80 || v > 65535) {
            *err = "invalid log length '" + n + "', must be between 80 and 65535";
            return false;
        }
        t->maxlen = static_cast<size_t>(v);
        cur += 2;
    }
    if (arg(cur) == "format") {
        auto f = parse_syslog_format(arg(cur + 1));
        if (!f) {
            *err = "unknown log format '" + arg(cur + 1) + "'";
            return false;
        }
        t->format = *f;
        cur += 2;
    }
    if (arg(cur) == "sample") {
        *err = "log sampling ('sample') is not supported";
        return false;
    }
    t->facility = syslog_facility(arg(cur));
    if (t->facility < 0) {
        *err = "unknown log facility '" + arg(cur) + "'";
        return false;
    }
    ++cur;
    if (!arg(cur).empty()) {
        t->level = syslog_level(arg(cur));
        if (t->level < 0) {
            *err = "unknown optional log level '" + arg(cur) + "'";
            return false;
        }
        ++cur;
    }
    if (!arg(cur).empty()) {
        t->minlevel = syslog_level(arg(cur));
        if (t->minlevel < 0) {
            *err = "unknown optional minimum log level '" + arg(cur) + "'";
            return false;
        }
        ++cur;
    }
    if (!arg(cur).empty()) {
        *err = "cannot handle unexpected argument '" + arg(cur) + "'";
        return false;
    }
    return parse_log_address(w[1], t, err);
}

const char* format_name(ProxyLogConf::Format f) {
    switch (f) {
    case ProxyLogConf::Format::Tcp: return "option tcplog";
    case ProxyLogConf::Format::Http: return "option httplog";
    case ProxyLogConf::Format::HttpClf: return "option httplog clf";
    case ProxyLogConf::Format::Custom: return "log-format";
    case ProxyLogConf::Format::None: break;
    }
    return "";
}

// Sets the proxy's log format, with HAProxy's warnings.
void set_format(ProxyKw& k, const Line& l, ProxyLogConf::Format f, std::string custom, const char* what) {
    ProxyLogConf& lc = k.conf.log;
    if (k.is_defaults && lc.format != ProxyLogConf::Format::None)
        k.diag.warning(l.loc, strprintf("'%s' overrides previous '%s' in 'defaults' section.", what,
                                        format_name(lc.format)));
    lc.format = f;
    lc.format_string = std::move(custom);
    lc.format_file = l.loc.file;
    lc.format_line = l.loc.line;
    if (!k.is_defaults && !k.conf.is_frontend)
        k.diag.warning(l.loc, strprintf("backend '%s' : '%s' directive is ignored in backends.", k.conf.name.c_str(),
                                        what));
}

bool only_args(ProxyKw& k, const Line& l, size_t max) {
    if (l.w.size() <= max + 1)
        return true;
    k.diag.error(l.loc, strprintf("'%s %s' : unexpected extra argument '%s'", l.w[0].c_str(), l.w[1].c_str(),
                                  l.w[max + 1].c_str()));
    return false;
}

}  // namespace

bool log_proxy_keyword(ProxyKw& k, const Line& l) {
    const std::string& kw = l.w[0];
    ProxyLogConf& lc = k.conf.log;
    bool negated = kw == "no";
    if (negated && l.w.size() >= 2 && l.w[1] == "log") {
        if (l.w.size() > 2)
            k.diag.error(l.loc, "'no log' does not expect arguments");
        else
            lc.entries.clear();
        return true;
    }
    if (kw == "log") {
        if (l.w.size() == 2 && l.w[1] == "global") {
            ProxyLogConf::Entry e;
            e.global_ref = true;
            e.file = l.loc.file;
            e.line = l.loc.line;
            lc.entries.push_back(std::move(e));
            return true;
        }
        ProxyLogConf::Entry e;
        std::string err;
        if (!parse_log_target(l, false, &e.target, &err)) {
            k.diag.error(l.loc, "'log' : " + err);
            return true;
        }
        lc.entries.push_back(std::move(e));
        return true;
    }
    if (kw == "log-format") {
        if (l.w.size() < 2 || l.w[1].empty()) {
            k.diag.error(l.loc, "'log-format' expects an argument.");
            return true;
        }
        if (l.w.size() > 2) {
            k.diag.error(l.loc, "'log-format' expects only one argument, don't forget to escape spaces!");
            return true;
        }
        set_format(k, l, ProxyLogConf::Format::Custom, l.w[1], "log-format");
        return true;
    }
    if (kw == "log-tag") {
        if (l.w.size() < 2 || l.w[1].empty()) {
            k.diag.error(l.loc, "'log-tag' expects a tag for use in syslog.");
            return true;
        }
        if (l.w.size() > 2) {
            k.diag.error(l.loc, strprintf("'log-tag': unexpected extra argument '%s'", l.w[2].c_str()));
            return true;
        }
        lc.tag = l.w[1];
        return true;
    }
    if ((kw == "option" && l.w.size() >= 2) || (negated && l.w.size() >= 3 && l.w[1] == "option")) {
        size_t at = negated ? 2 : 1;
        const std::string& o = l.w[at];
        if (o == "httplog") {
            if (negated) {
                if (only_args(k, l, at))
                    lc.format = ProxyLogConf::Format::None;
                return true;
            }
            bool clf = l.w.size() > at + 1 && l.w[at + 1] == "clf";
            if (l.w.size() > at + 1 && !clf) {
                k.diag.error(l.loc, "'option httplog' only supports option 'clf'.");
                return true;
            }
            if (only_args(k, l, at + (clf ? 1 : 0)))
                set_format(k, l, clf ? ProxyLogConf::Format::HttpClf : ProxyLogConf::Format::Http, {},
                           clf ? "option httplog clf" : "option httplog");
            return true;
        }
        if (o == "tcplog") {
            if (!only_args(k, l, at))
                return true;
            if (negated)
                lc.format = ProxyLogConf::Format::None;
            else
                set_format(k, l, ProxyLogConf::Format::Tcp, {}, "option tcplog");
            return true;
        }
        bool* flag = o == "dontlognull"           ? &lc.dontlognull
                     : o == "log-separate-errors" ? &lc.log_separate_errors
                     : o == "dontlog-normal"      ? &lc.dontlog_normal
                                                  : nullptr;
        if (!flag)
            return false;
        if (only_args(k, l, at))
            *flag = !negated;
        return true;
    }
    return false;
}

bool log_global_keyword(Diagnostics& d, GlobalConf& g, const Line& l) {
    const std::string& kw = l.w[0];
    if (kw == "log") {
        if (l.w.size() == 2 && l.w[1] == "global") {
            d.error(l.loc, "'log' : 'global' is not supported for a global syslog server");
            return true;
        }
        LogTarget t;
        std::string err;
        if (!parse_log_target(l, true, &t, &err))
            d.error(l.loc, "'log' : " + err);
        else
            g.log.targets.push_back(std::move(t));
        return true;
    }
    if (kw == "log-tag") {
        if (l.w.size() < 2 || l.w[1].empty())
            d.error(l.loc, "'log-tag' expects a tag for use in syslog.");
        else if (l.w.size() > 2)
            d.error(l.loc, strprintf("'log-tag': unexpected extra argument '%s'", l.w[2].c_str()));
        else
            g.log.tag = l.w[1];
        return true;
    }
    if (kw == "log-send-hostname") {
        if (l.w.size() > 2) {
            d.error(l.loc, strprintf("'log-send-hostname': unexpected extra argument '%s'", l.w[2].c_str()));
            return true;
        }
        if (l.w.size() == 2 && !l.w[1].empty()) {
            g.log.send_hostname = l.w[1];
        } else {
            char host[HOST_NAME_MAX + 1] = {};
            if (::gethostname(host, sizeof host - 1) == 0 && host[0])
                g.log.send_hostname = host;
            else
                g.log.send_hostname = "localhost";
        }
        return true;
    }
    return false;
}

std::span<const char* const> log_proxy_keywords() {
    static constexpr const char* kKeywords[] = {"log", "log-format", "log-tag"};
    return kKeywords;
}

void log_validate(Diagnostics& d, const GlobalConf& g, std::span<ProxyConf* const> proxies) {
    for (ProxyConf* p : proxies) {
        ProxyLogConf& lc = p->log;
        // Expand `log global` (once, however many times it is written).
        std::vector<ProxyLogConf::Entry> expanded;
        bool global_done = false;
        for (auto& e : lc.entries) {
            if (!e.global_ref) {
                expanded.push_back(std::move(e));
                continue;
            }
            if (global_done)
                continue;
            global_done = true;
            for (const LogTarget& t : g.log.targets) {
                ProxyLogConf::Entry x;
                x.target = t;
                expanded.push_back(std::move(x));
            }
        }
        lc.entries = std::move(expanded);

        lc.compiled = nullptr;
        if (!p->is_frontend || lc.format == ProxyLogConf::Format::None)
            continue;
        bool http = p->mode == ProxyMode::Http;
        SourceLoc at{lc.format_file, lc.format_line};
        if (!http && (lc.format == ProxyLogConf::Format::Http || lc.format == ProxyLogConf::Format::HttpClf)) {
            d.warning(at, strprintf("'option httplog' not usable with %s '%s' (needs 'mode http'). Falling back to "
                                    "'option tcplog'.",
                                    p->is_backend ? "proxy" : "frontend", p->name.c_str()));
            lc.format = ProxyLogConf::Format::Tcp;
        }
        std::string_view fmt = lc.format == ProxyLogConf::Format::Tcp       ? kTcpLogFormat
                               : lc.format == ProxyLogConf::Format::Http    ? kHttpLogFormat
                               : lc.format == ProxyLogConf::Format::HttpClf ? kClfHttpLogFormat
                                                                            : std::string_view(lc.format_string);
        std::string err;
        lc.compiled = LogFormat::compile(fmt, http, &err);
        if (!lc.compiled)
            d.error(at, "failed to parse log-format : " + err + ".");
    }
}

}  // namespace proxyd::common
