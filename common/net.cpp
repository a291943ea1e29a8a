#include "common/net.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"

namespace proxyd::common {

Result<void> set_nonblock(int fd, bool on) {
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0)
        return last_errno();
    fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (::fcntl(fd, F_SETFL, fl) < 0)
        return last_errno();
    return {};
}

Result<void> set_cloexec(int fd, bool on) {
    int fl = ::fcntl(fd, F_GETFD);
    if (fl < 0)
        return last_errno();
    fl = on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
    if (::fcntl(fd, F_SETFD, fl) < 0)
        return last_errno();
    return {};
}

Result<void> relisten(int fd, int backlog) {
    if (::listen(fd, backlog) < 0)
        return last_errno();
    return {};
}

namespace {

Result<UniqueFd> adopt_fd(int fd, std::string* what) {
    int type = 0, acc = 0;
    socklen_t l = sizeof type;
    *what = "adopt";
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0)
        return last_errno();  // EBADF / ENOTSOCK
    if (type != SOCK_STREAM)
        return Errno{ESOCKTNOSUPPORT};
    l = sizeof acc;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) < 0)
        return last_errno();
    if (!acc) {
        // Bound but not listening yet (VTest binds and lets the proxy listen).
        if (::listen(fd, 1024) < 0)
            return last_errno();
    }
    // Take a CLOEXEC duplicate and keep the original number untouched: it may be named again
    // by a later reload's configuration.
    int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (d < 0)
        return last_errno();
    UniqueFd out(d);
    // Inherited sockets may be blocking (VTest's are); the master and workers never block.
    if (auto r = set_nonblock(d, true); !r)
        return r.error();
    return out;
}

}  // namespace

Result<UniqueFd> open_listener(const BindConf& b, const ListenOptions& o, std::string* what) {
    const SockAddr& a = b.addr;
    if (a.family == AddrFamily::Fd)
        return adopt_fd(a.inherited_fd, what);

    int domain = a.family == AddrFamily::Inet4 ? AF_INET : a.family == AddrFamily::Inet6 ? AF_INET6 : AF_UNIX;
    *what = "socket";
    UniqueFd fd(::socket(domain, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid())
        return last_errno();
    int one = 1;
    if (a.is_inet()) {
        *what = "setsockopt";
        if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
            return last_errno();
        if (o.reuseport && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
            return last_errno();
        if (a.family == AddrFamily::Inet6) {
            // v6only unless v4v6 is asked: "::" then does not steal IPv4 traffic from a
            // separate IPv4 wildcard bind, which is what HAProxy users write.
            int v6only = b.v4v6 ? 0 : 1;
            if (::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) < 0)
                return last_errno();
        }
        *what = "bind";
        if (::bind(fd.get(), a.sa(), a.len) < 0)
            return last_errno();
    } else if (a.family == AddrFamily::Abstract) {
        *what = "bind";
        if (::bind(fd.get(), a.sa(), a.len) < 0)
            return last_errno();
    } else {
        std::string tmp = a.path + "." + std::to_string(::getpid()) + ".tmp";
        SockAddr t;
        std::string err;
        auto ta = parse_address("unix@" + tmp, AddrUse::Bind, &err);
        if (!ta) {
            *what = "bind (path too long)";
            return Errno{ENAMETOOLONG};
        }
        ::unlink(tmp.c_str());
        *what = "bind";
        if (::bind(fd.get(), ta->sa(), ta->len) < 0)
            return last_errno();
        auto fail = [&](const char* step) {
            Errno e = last_errno();
            *what = step;
            ::unlink(tmp.c_str());
            return e;
        };
        if (b.mode && ::chmod(tmp.c_str(), *b.mode) < 0)
            return fail("chmod");
        if ((b.uid || b.gid) &&
            ::chown(tmp.c_str(), b.uid ? *b.uid : static_cast<uid_t>(-1), b.gid ? *b.gid : static_cast<gid_t>(-1)) < 0)
            return fail("chown");
        if (::listen(fd.get(), o.backlog) < 0)
            return fail("listen");
        if (::rename(tmp.c_str(), a.path.c_str()) < 0)
            return fail("rename");
        return fd;
    }
    *what = "listen";
    if (::listen(fd.get(), o.backlog) < 0)
        return last_errno();
    return fd;
}

}  // namespace proxyd::common
