#include "common/address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <charconv>
#include <cstring>

namespace proxyd::common {

uint16_t SockAddr::port() const {
    if (family == AddrFamily::Inet4)
        return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
    if (family == AddrFamily::Inet6)
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
    return 0;
}

void SockAddr::set_port(uint16_t p) {
    if (family == AddrFamily::Inet4)
        reinterpret_cast<sockaddr_in*>(&ss)->sin_port = htons(p);
    else if (family == AddrFamily::Inet6)
        reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port = htons(p);
}

std::string sockaddr_to_string(const sockaddr* sa, socklen_t len) {
    char buf[INET6_ADDRSTRLEN] = "";
    if (sa->sa_family == AF_INET) {
        auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
        return std::string(buf) + ":" + std::to_string(ntohs(in->sin_port));
    }
    if (sa->sa_family == AF_INET6) {
        auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
        return "[" + std::string(buf) + "]:" + std::to_string(ntohs(in6->sin6_port));
    }
    if (sa->sa_family == AF_UNIX) {
        auto* un = reinterpret_cast<const sockaddr_un*>(sa);
        size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
        if (n == 0)
            return "unix@";
        if (un->sun_path[0] == '\0')
            return "abns@" + std::string(un->sun_path + 1, n - 1);
        return "unix@" + std::string(un->sun_path, strnlen(un->sun_path, n));
    }
    return "?";
}

std::string SockAddr::to_string() const {
    switch (family) {
    case AddrFamily::Inet4:
    case AddrFamily::Inet6: return sockaddr_to_string(sa(), len);
    case AddrFamily::Unix: return "unix@" + path;
    case AddrFamily::Abstract: return "abns@" + path;
    case AddrFamily::Fd: return "fd@" + std::to_string(inherited_fd);
    }
    return "?";
}

namespace {

bool parse_port(std::string_view s, uint16_t* out, std::string* err) {
    if (s.empty()) {
        *err = "missing port";
        return false;
    }
    if (s.find('-') != std::string_view::npos) {
        *err = "port ranges are not supported yet";
        return false;
    }
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v > 65535) {
        *err = "invalid port '" + std::string(s) + "'";
        return false;
    }
    *out = static_cast<uint16_t>(v);
    return true;
}

std::optional<SockAddr> make_unix(std::string_view path, bool abstract, std::string* err) {
    SockAddr a;
    a.family = abstract ? AddrFamily::Abstract : AddrFamily::Unix;
    a.path = std::string(path);
    auto* un = reinterpret_cast<sockaddr_un*>(&a.ss);
    un->sun_family = AF_UNIX;
    // Leave room for the ".<pid>.tmp" suffix of atomic creation.
    size_t max = sizeof(un->sun_path) - (abstract ? 1 : 24);
    if (path.empty() || path.size() > max || path.find('\0') != std::string_view::npos) {
        *err = path.empty() ? "empty socket path" : "socket path '" + std::string(path) + "' is too long";
        return std::nullopt;
    }
    size_t off = abstract ? 1 : 0;
    std::memcpy(un->sun_path + off, path.data(), path.size());
    a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + off + path.size() + (abstract ? 0 : 1));
    return a;
}

}  // namespace

std::optional<SockAddr> parse_address(std::string_view text, AddrUse use, std::string* err) {
    std::string_view t = text;
    int force_family = 0;
    auto starts = [&](std::string_view p) {
        if (t.substr(0, p.size()) == p) {
            t.remove_prefix(p.size());
            return true;
        }
        return false;
    };
    if (starts("unix@"))
        return make_unix(t, false, err);
    if (starts("abns@"))
        return make_unix(t, true, err);
    if (starts("fd@")) {
        if (use != AddrUse::Bind) {
            *err = "'fd@' is only valid for listening addresses";
            return std::nullopt;
        }
        int fd = -1;
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), fd);
        if (ec != std::errc() || p != t.data() + t.size() || fd < 0) {
            *err = "invalid file descriptor in '" + std::string(text) + "'";
            return std::nullopt;
        }
        SockAddr a;
        a.family = AddrFamily::Fd;
        a.inherited_fd = fd;
        return a;
    }
    if (starts("ipv4@"))
        force_family = AF_INET;
    else if (starts("ipv6@"))
        force_family = AF_INET6;
    else if (!t.empty() && t[0] == '/')
        return make_unix(t, false, err);
    else if (auto at = t.find('@'); at != std::string_view::npos) {
        *err = "address prefix '" + std::string(t.substr(0, at + 1)) + "' is not supported yet";
        return std::nullopt;
    }

    std::string_view host, port;
    if (!t.empty() && t[0] == '[') {
        auto close = t.find(']');
        if (close == std::string_view::npos || close + 1 >= t.size() || t[close + 1] != ':') {
            *err = "invalid address '" + std::string(text) + "': expected '[ipv6]:port'";
            return std::nullopt;
        }
        host = t.substr(1, close - 1);
        port = t.substr(close + 2);
        if (!force_family)
            force_family = AF_INET6;
    } else {
        auto colon = t.rfind(':');
        if (colon == std::string_view::npos) {
            *err = "missing port in '" + std::string(text) + "'";
            return std::nullopt;
        }
        host = t.substr(0, colon);
        port = t.substr(colon + 1);
    }
    uint16_t portnum = 0;
    if (!parse_port(port, &portnum, err)) {
        *err += " in '" + std::string(text) + "'";
        return std::nullopt;
    }

    SockAddr a;
    if (host.empty() || host == "*" || host == "::") {
        if (use == AddrUse::Server) {
            *err = "missing host in '" + std::string(text) + "'";
            return std::nullopt;
        }
        bool v6 = force_family == AF_INET6 || host == "::";
        if (v6) {
            auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
            in6->sin6_family = AF_INET6;
            in6->sin6_addr = in6addr_any;
            a.family = AddrFamily::Inet6;
            a.len = sizeof(sockaddr_in6);
        } else {
            auto* in = reinterpret_cast<sockaddr_in*>(&a.ss);
            in->sin_family = AF_INET;
            in->sin_addr.s_addr = htonl(INADDR_ANY);
            a.family = AddrFamily::Inet4;
            a.len = sizeof(sockaddr_in);
        }
        a.set_port(portnum);
        return a;
    }

    std::string h(host);
    addrinfo hints{};
    hints.ai_family = force_family ? force_family : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(h.c_str(), nullptr, &hints, &res);
    if (rc != 0 && use == AddrUse::Server) {
        hints.ai_flags = AI_ADDRCONFIG;
        rc = getaddrinfo(h.c_str(), nullptr, &hints, &res);
    }
    if (rc != 0 || !res) {
        *err = use == AddrUse::Bind ? "invalid address '" + h + "' (listeners need a numeric address)"
                                    : "could not resolve address '" + h + "': " + gai_strerror(rc);
        return std::nullopt;
    }
    std::memcpy(&a.ss, res->ai_addr, res->ai_addrlen);
    a.len = res->ai_addrlen;
    a.family = res->ai_family == AF_INET6 ? AddrFamily::Inet6 : AddrFamily::Inet4;
    freeaddrinfo(res);
    a.set_port(portnum);
    return a;
}

}  // namespace proxyd::common
