#pragma once
// Socket addresses in HAProxy's syntax, and the identity of a listening socket.
#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace proxyd::common {

enum class AddrFamily { Inet4, Inet6, Unix, Abstract, Fd };

struct SockAddr {
    AddrFamily family = AddrFamily::Inet4;
    sockaddr_storage ss{};
    socklen_t len = 0;
    std::string path;       // Unix: filesystem path; Abstract: name without the leading NUL
    int inherited_fd = -1;  // Fd: the fd number of "fd@N"

    bool is_inet() const { return family == AddrFamily::Inet4 || family == AddrFamily::Inet6; }
    uint16_t port() const;
    void set_port(uint16_t p);
    const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss); }
    // "127.0.0.1:80", "[::1]:80", "unix@/run/x.sock", "abns@name", "fd@3".
    std::string to_string() const;
};

// What the address is for: listeners accept wildcards ("*", empty host), servers a host name.
enum class AddrUse { Bind, Server };

// Parses one address: "ipv4@", "ipv6@", "unix@", "abns@", "fd@N" prefixes, "/path" (UNIX),
// "[v6]:port", ":::port" (the last colon separates the port), "*:port", ":port",
// "host:port". Host names of servers are resolved with getaddrinfo (first result).
// On failure returns nullopt and sets *err to a message without location.
std::optional<SockAddr> parse_address(std::string_view text, AddrUse use, std::string* err);

// Formats a sockaddr returned by accept/getpeername.
std::string sockaddr_to_string(const sockaddr* sa, socklen_t len);

}  // namespace proxyd::common
