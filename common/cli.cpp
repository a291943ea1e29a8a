#include "common/cli.h"

#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>

#include <charconv>

namespace proxyd::common {

const char* cli_level_name(CliLevel l) {
    switch (l) {
    case CliLevel::User: return "user";
    case CliLevel::Operator: return "operator";
    case CliLevel::Admin: return "admin";
    }
    return "?";
}

std::optional<CliLevel> parse_cli_level(std::string_view s) {
    if (s == "user")
        return CliLevel::User;
    if (s == "operator")
        return CliLevel::Operator;
    if (s == "admin")
        return CliLevel::Admin;
    return std::nullopt;
}

namespace {
std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}
}  // namespace

std::vector<std::string> split_commands(std::string_view line) {
    std::vector<std::string> out;
    std::string cur;
    auto flush = [&]() {
        auto t = trim(cur);
        if (!t.empty())
            out.emplace_back(t);
        cur.clear();
    };
    for (size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (c == '\\' && i + 1 < line.size()) {
            cur.push_back(c);
            cur.push_back(line[++i]);
        } else if (c == ';' || c == '\n') {
            flush();
        } else {
            cur.push_back(c);
        }
    }
    flush();
    return out;
}

std::vector<std::string> split_words(std::string_view cmd) {
    std::vector<std::string> out;
    std::string cur;
    bool in_word = false;
    for (size_t i = 0; i < cmd.size(); ++i) {
        char c = cmd[i];
        if (c == '\\' && i + 1 < cmd.size()) {
            cur.push_back(cmd[++i]);
            in_word = true;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (in_word)
                out.push_back(std::move(cur));
            cur.clear();
            in_word = false;
        } else {
            cur.push_back(c);
            in_word = true;
        }
    }
    if (in_word)
        out.push_back(std::move(cur));
    return out;
}

PrefixedCommand parse_prefix(std::string_view cmd) {
    PrefixedCommand p;
    cmd = trim(cmd);
    if (cmd.empty() || cmd[0] != '@') {
        p.rest = std::string(cmd);
        return p;
    }
    size_t sp = cmd.find_first_of(" \t");
    std::string_view pre = cmd.substr(0, sp);
    p.prefix = std::string(pre);
    p.rest = sp == std::string_view::npos ? "" : std::string(trim(cmd.substr(sp)));
    std::string_view v = pre.substr(1);
    auto num = [](std::string_view s, uint32_t* out) {
        if (s.empty())
            return false;
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
        return ec == std::errc() && ptr == s.data() + s.size();
    };
    uint32_t n = 0;
    if (v.empty() || v == "master" || v == "0") {
        p.target.kind = CliTarget::Kind::Master;
    } else if (v == "*") {
        p.target.kind = CliTarget::Kind::All;
    } else if (v[0] == '!' && num(v.substr(1), &n) && n > 0 && n < 0x7fffffff) {
        p.target.kind = CliTarget::Kind::Pid;
        p.target.pid = static_cast<pid_t>(n);
    } else if (num(v, &n) && n >= 1 && n <= 4096) {
        p.target.kind = CliTarget::Kind::Relative;
        p.target.relative = n;
    } else {
        p.bad_prefix = true;
    }
    return p;
}

std::optional<MasterSocketSpec> parse_master_socket_spec(std::string_view spec, std::string* err) {
    MasterSocketSpec s;
    s.text = std::string(spec);
    std::vector<std::string> parts;
    std::string cur;
    for (char c : spec) {
        if (c == ',') {
            parts.push_back(cur);
            cur.clear();
        } else {
            cur.push_back(c);
        }
    }
    parts.push_back(cur);
    if (parts[0].empty()) {
        *err = "missing address";
        return std::nullopt;
    }
    std::string addr = parts[0];
    // HAProxy accepts a bare path; so does parse_address ("/..."); a relative path too.
    if (addr.find('@') == std::string::npos && addr[0] != '/')
        addr = "unix@" + addr;
    auto a = parse_address(addr, AddrUse::Bind, err);
    if (!a)
        return std::nullopt;
    s.addr = *a;
    bool allow_remote = false;
    for (size_t i = 1; i < parts.size(); ++i) {
        const std::string& k = parts[i];
        auto value = [&](const char* what) -> const std::string* {
            if (i + 1 >= parts.size() || parts[i + 1].empty()) {
                *err = "option '" + k + "' expects " + what;
                return nullptr;
            }
            return &parts[++i];
        };
        auto number = [&](const std::string& v, int base, unsigned long* out) {
            auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), *out, base);
            return ec == std::errc() && p == v.data() + v.size();
        };
        unsigned long n = 0;
        if (k == "mode") {
            auto v = value("an octal mode");
            if (!v)
                return std::nullopt;
            if (!number(*v, 8, &n) || n > 07777) {
                *err = "invalid mode '" + *v + "' (expects an octal number such as 600)";
                return std::nullopt;
            }
            s.mode = static_cast<mode_t>(n);
        } else if (k == "uid" || k == "gid") {
            auto v = value("a number");
            if (!v)
                return std::nullopt;
            if (!number(*v, 10, &n) || n > 0xfffffffeUL) {
                *err = "invalid " + k + " '" + *v + "'";
                return std::nullopt;
            }
            if (k == "uid")
                s.uid = static_cast<uid_t>(n);
            else
                s.gid = static_cast<gid_t>(n);
        } else if (k == "user") {
            auto v = value("a user name");
            if (!v)
                return std::nullopt;
            passwd* pw = ::getpwnam(v->c_str());
            if (!pw) {
                *err = "unknown user '" + *v + "'";
                return std::nullopt;
            }
            s.uid = pw->pw_uid;
        } else if (k == "group") {
            auto v = value("a group name");
            if (!v)
                return std::nullopt;
            group* gr = ::getgrnam(v->c_str());
            if (!gr) {
                *err = "unknown group '" + *v + "'";
                return std::nullopt;
            }
            s.gid = gr->gr_gid;
        } else if (k == "level") {
            auto v = value("user, operator or admin");
            if (!v)
                return std::nullopt;
            auto l = parse_cli_level(*v);
            if (!l) {
                *err = "invalid level '" + *v + "' (expects user, operator or admin)";
                return std::nullopt;
            }
            s.level = *l;
        } else if (k == "allow-remote") {
            allow_remote = true;
        } else {
            *err = "unknown option '" + k + "'";
            return std::nullopt;
        }
    }
    bool unix_like = s.addr.family == AddrFamily::Unix || s.addr.family == AddrFamily::Abstract;
    if ((s.mode || s.uid || s.gid) && s.addr.family != AddrFamily::Unix) {
        *err = "mode/uid/gid only apply to UNIX socket paths";
        return std::nullopt;
    }
    if (s.addr.is_inet() && !allow_remote) {
        bool loop = false;
        if (s.addr.family == AddrFamily::Inet4)
            loop = (ntohl(reinterpret_cast<const sockaddr_in*>(&s.addr.ss)->sin_addr.s_addr) >> 24) == 127;
        else
            loop = IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(&s.addr.ss)->sin6_addr);
        if (!loop) {
            *err = "refusing a master CLI on non-loopback address '" + s.addr.to_string() +
                   "' (it is an unauthenticated admin interface); add ',allow-remote' to insist";
            return std::nullopt;
        }
    }
    (void)unix_like;
    return s;
}

}  // namespace proxyd::common
