// proxyctl: a client for proxyd's master CLI.
//   proxyctl [-S SOCKET] [--json] [-t SECONDS] COMMAND...   one-shot command
//   proxyctl [-S SOCKET] reload | hard-reload               exit 0 on Success=1, 1 on Success=0
//   proxyctl [-S SOCKET]                                    interactive prompt (on a terminal)
// Exit status: 0 success, 1 command failed (reload Success=0, "Unknown command", ...),
// 2 the master cannot be reached, 64 usage error.
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <algorithm>
#include <string>
#include <vector>

#include "config.h"
#include "common/address.h"
#include "common/unique_fd.h"

using proxyd::common::UniqueFd;

namespace {

struct Args {
    std::string socket;
    bool json = false;
    int timeout = 0;  // seconds; 0 = default per command
    std::vector<std::string> command;
};

void usage() {
    std::fprintf(stderr,
                 "Usage: proxyctl [-S SOCKET] [--json] [-t SECONDS] [COMMAND...]\n"
                 "  SOCKET defaults to $PROXYD_MASTER_SOCKET, else %s\n"
                 "  without COMMAND on a terminal: interactive prompt with history\n"
                 "  examples: proxyctl show proc; proxyctl @1 show info; proxyctl reload\n",
                 PROXYD_DEFAULT_MASTER_SOCKET);
}

UniqueFd connect_master(const std::string& spec, std::string* err) {
    std::string a = spec;
    if (a.find('@') == std::string::npos)
        a = "unix@" + a;
    auto addr = proxyd::common::parse_address(a, proxyd::common::AddrUse::Server, err);
    if (!addr) {
        *err = "invalid socket '" + spec + "': " + *err;
        return UniqueFd();
    }
    int domain = addr->family == proxyd::common::AddrFamily::Inet4   ? AF_INET
                 : addr->family == proxyd::common::AddrFamily::Inet6 ? AF_INET6
                                                                      : AF_UNIX;
    UniqueFd fd(::socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid() || ::connect(fd.get(), addr->sa(), addr->len) < 0) {
        *err = "cannot connect to the master CLI at '" + spec + "': " + std::strerror(errno);
        return UniqueFd();
    }
    return fd;
}

// Sends one line, half-closes, reads the whole answer. Returns false on timeout/I/O error.
bool exchange(int fd, const std::string& line, int timeout_s, std::string* out) {
    std::string msg = line + "\n";
    size_t off = 0;
    while (off < msg.size()) {
        ssize_t n = ::send(fd, msg.data() + off, msg.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        off += static_cast<size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);
    char buf[65536];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, timeout_s * 1000);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return false;
        if (n == 0)
            return true;
        out->append(buf, static_cast<size_t>(n));
    }
}

std::string with_json(const std::string& cmd) {
    // "show proc|info|stat" (optionally prefixed) take a json argument.
    for (const char* w : {"show proc", "show info", "show stat"}) {
        auto pos = cmd.find(w);
        if (pos != std::string::npos && pos + std::strlen(w) == cmd.size())
            return cmd + " json";
    }
    return cmd;
}

int one_shot(const Args& a) {
    std::string cmd;
    for (auto& w : a.command)
        cmd += (cmd.empty() ? "" : " ") + w;
    bool reload = cmd == "reload" || cmd == "hard-reload" || cmd == "@master reload" || cmd == "@master hard-reload";
    if (a.json)
        cmd = with_json(cmd);
    std::string err;
    UniqueFd fd = connect_master(a.socket, &err);
    if (!fd.valid()) {
        std::fprintf(stderr, "proxyctl: %s\n", err.c_str());
        return 2;
    }
    std::string out;
    int timeout = a.timeout > 0 ? a.timeout : reload ? 120 : 30;
    if (!exchange(fd.get(), cmd, timeout, &out)) {
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fprintf(stderr, "proxyctl: no complete answer from the master within %d s\n", timeout);
        return 2;
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    if (reload) {
        if (out.rfind("Success=1", 0) == 0)
            return 0;
        if (out.rfind("Success=0", 0) == 0)
            return 1;
        std::fprintf(stderr, "proxyctl: unexpected answer to reload\n");
        return 2;
    }
    if (out.rfind("Unknown command", 0) == 0 || out.rfind("Can't find the target", 0) == 0 ||
        out.rfind("Permission denied", 0) == 0)
        return 1;
    return 0;
}

// --- interactive mode: a small line editor (no extra library) -------------------------------

class RawTerminal {
public:
    RawTerminal() {
        if (::tcgetattr(0, &saved_) == 0) {
            termios raw = saved_;
            raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
            raw.c_cc[VMIN] = 1;
            raw.c_cc[VTIME] = 0;
            ok_ = ::tcsetattr(0, TCSANOW, &raw) == 0;  // not TCSAFLUSH: keep type-ahead
        }
    }
    ~RawTerminal() {
        if (ok_)
            ::tcsetattr(0, TCSANOW, &saved_);
    }

private:
    termios saved_{};
    bool ok_ = false;
};

// Returns false on end of input (Ctrl-D on an empty line).
bool read_line(const std::string& prompt, std::vector<std::string>& history, std::string* line) {
    RawTerminal raw;
    std::string buf;
    size_t cur = 0;
    size_t hist = history.size();
    auto redraw = [&]() {
        std::string s = "\r\x1b[K" + prompt + buf;
        s += "\r\x1b[" + std::to_string(prompt.size() + cur) + "C";
        if (prompt.size() + cur == 0)
            s = "\r\x1b[K" + prompt + buf + "\r";
        ssize_t r = ::write(1, s.data(), s.size());
        (void)r;
    };
    redraw();
    for (;;) {
        char c;
        ssize_t n = ::read(0, &c, 1);
        if (n <= 0)
            return false;
        if (c == '\n' || c == '\r') {
            ssize_t r = ::write(1, "\n", 1);
            (void)r;
            *line = buf;
            return true;
        } else if (c == 4) {  // Ctrl-D
            if (buf.empty()) {
                ssize_t r = ::write(1, "\n", 1);
                (void)r;
                return false;
            }
        } else if (c == 127 || c == 8) {
            if (cur > 0)
                buf.erase(--cur, 1);
        } else if (c == 1) {
            cur = 0;
        } else if (c == 5) {
            cur = buf.size();
        } else if (c == 21) {  // Ctrl-U
            buf.erase(0, cur);
            cur = 0;
        } else if (c == 27) {
            char seq[2];
            if (::read(0, &seq[0], 1) <= 0 || ::read(0, &seq[1], 1) <= 0)
                continue;
            if (seq[0] != '[')
                continue;
            if (seq[1] == 'A' && hist > 0) {
                buf = history[--hist];
                cur = buf.size();
            } else if (seq[1] == 'B') {
                if (hist + 1 < history.size()) {
                    buf = history[++hist];
                } else {
                    hist = history.size();
                    buf.clear();
                }
                cur = buf.size();
            } else if (seq[1] == 'C' && cur < buf.size()) {
                ++cur;
            } else if (seq[1] == 'D' && cur > 0) {
                --cur;
            }
        } else if (static_cast<unsigned char>(c) >= 32) {
            buf.insert(cur++, 1, c);
        }
        redraw();
    }
}

int interactive(const Args& a) {
    std::string hist_path = std::string(std::getenv("HOME") ? std::getenv("HOME") : "/tmp") + "/.proxyctl_history";
    std::vector<std::string> history;
    {
        std::ifstream f(hist_path);
        for (std::string l; std::getline(f, l);)
            if (!l.empty())
                history.push_back(l);
    }
    std::string err;
    {
        UniqueFd probe = connect_master(a.socket, &err);
        if (!probe.valid()) {
            std::fprintf(stderr, "proxyctl: %s\n", err.c_str());
            return 2;
        }
    }
    std::printf("proxyctl %s: connected to %s. 'help' lists commands, Ctrl-D quits.\n", PROXYD_VERSION,
                a.socket.c_str());
    std::fflush(stdout);
    // Each command goes on its own connection, so a stuck command never wedges the prompt.
    // Session state (sticky '@' target, lowered level) is kept here and re-sent every time.
    std::string sticky, level_prefix;
    std::string line;
    while (read_line((sticky.empty() ? std::string("master") : sticky) + "> ", history, &line)) {
        size_t b = line.find_first_not_of(" \t");
        if (b == std::string::npos)
            continue;
        line = line.substr(b);
        if (history.empty() || history.back() != line) {
            history.push_back(line);
            std::ofstream(hist_path, std::ios::app) << line << "\n";
        }
        if (line == "quit" || line == "exit")
            break;
        if (line[0] == '@' && line.find(' ') == std::string::npos) {
            sticky = (line == "@" || line == "@master" || line == "@0") ? "" : line;
            continue;
        }
        if (line == "operator" || line == "user") {
            level_prefix = line + "; ";
            continue;
        }
        std::string cmd = line;
        if (a.json)
            cmd = with_json(cmd);
        if (!sticky.empty() && cmd[0] != '@')
            cmd = sticky + " " + cmd;
        UniqueFd fd = connect_master(a.socket, &err);
        if (!fd.valid()) {
            std::fprintf(stderr, "proxyctl: %s\n", err.c_str());
            continue;
        }
        std::string out;
        bool reload = line == "reload" || line == "hard-reload";
        if (!exchange(fd.get(), level_prefix + cmd, reload ? 120 : 30, &out))
            out += "(no complete answer within the timeout)\n";
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fflush(stdout);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Args a;
    const char* env = std::getenv("PROXYD_MASTER_SOCKET");
    a.socket = env && *env ? env : PROXYD_DEFAULT_MASTER_SOCKET;
    int i = 1;
    for (; i < argc; ++i) {
        std::string s = argv[i];
        if (s == "-S" || s == "--socket") {
            if (++i >= argc) {
                usage();
                return 64;
            }
            a.socket = argv[i];
        } else if (s == "--json" || s == "-j") {
            a.json = true;
        } else if (s == "-t" || s == "--timeout") {
            if (++i >= argc || std::atoi(argv[i]) <= 0) {
                usage();
                return 64;
            }
            a.timeout = std::atoi(argv[i]);
        } else if (s == "-h" || s == "--help") {
            usage();
            return 0;
        } else if (s == "--") {
            ++i;
            break;
        } else if (!s.empty() && s[0] == '-') {
            std::fprintf(stderr, "proxyctl: unknown option '%s'\n", s.c_str());
            usage();
            return 64;
        } else {
            break;
        }
    }
    for (; i < argc; ++i)
        a.command.push_back(argv[i]);
    if (!a.command.empty())
        return one_shot(a);
    if (::isatty(0) && ::isatty(1))
        return interactive(a);
    // Not a terminal: run each input line as a one-shot command.
    int rc = 0;
    for (std::string l; std::getline(std::cin, l);) {
        if (l.empty())
            continue;
        Args one = a;
        one.command = {l};
        rc = std::max(rc, one_shot(one));
    }
    return rc;
}
