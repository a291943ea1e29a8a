// bench/bench_tool.cpp - the loopback peers of bench/http.sh (not part of proxyd, not a test).
//
// Built by bench/http.sh with `g++ -O2 -std=c++20 -pthread`. Three roles:
//
//   bench_tool http-server PORT [BODY_BYTES]
//       A minimal HTTP/1.1 origin on 127.0.0.1:PORT that answers every request at once with a
//       fixed 200 response of BODY_BYTES (default 100) bytes: one epoll loop, edge-triggered,
//       no allocation per request. Keep-alive unless the request says "Connection: close"
//       (then it answers with "Connection: close" and closes after the response). Requests are
//       recognised by their empty line only; bodies are not supported (GET-only load). Anything
//       that does not start with a method-like token still gets the 200 (so a TCP-mode proxy
//       in front of it is distinguishable from an HTTP-mode one, which answers 400 itself).
//
//   bench_tool sink PORT
//       A TCP peer for the throughput test. Per connection, reads a 9-byte header: 'U' or 'D'
//       and a big-endian uint64 N. 'U' (upload): reads N bytes and discards them, then writes
//       8 bytes (the count it read) and closes. 'D' (download): writes N bytes, then waits
//       for the client to close. One thread per connection.
//
//   bench_tool send HOST PORT BYTES up|down
//       Connects to HOST:PORT (the proxy), does one upload or download of BYTES through it
//       and prints "bytes=<n> seconds=<s> mbps=<MB/s, 1 MB = 10^6 bytes>". Exit 1 on a short
//       transfer or an error. 30 s socket timeouts.
//
// Written for speed, not elegance: 256 KiB read/write buffers, no per-transfer checks
// beyond the byte count.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "bench_tool: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) die("bind");
    if (listen(fd, 4096) < 0) die("listen");
    return fd;
}

// ------------------------------------------------------------------------------ http-server
struct HttpConn {
    int fd = -1;
    std::string in;       // unparsed request bytes
    std::string out;      // response bytes not yet written
    bool close_after = false;
};

bool has_connection_close(std::string_view head) {
    // Case-insensitive search for a "connection:" header whose value contains "close".
    for (size_t pos = 0; pos < head.size();) {
        size_t eol = head.find("\r\n", pos);
        if (eol == std::string_view::npos) eol = head.size();
        std::string_view line = head.substr(pos, eol - pos);
        if (line.size() > 11 && strncasecmp(line.data(), "connection:", 11) == 0) {
            std::string v(line.substr(11));
            for (auto& c : v) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
            if (v.find("close") != std::string::npos) return true;
        }
        pos = eol + 2;
    }
    return false;
}

int run_http_server(int port, size_t body_bytes) {
    const std::string body(body_bytes, 'a');
    const std::string resp_ka = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                                std::to_string(body_bytes) + "\r\n\r\n" + body;
    const std::string resp_close = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                                   std::to_string(body_bytes) + "\r\nConnection: close\r\n\r\n" + body;
    int lfd = listen_on(port);
    fcntl(lfd, F_SETFL, O_NONBLOCK);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // nullptr = the listener
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    std::vector<epoll_event> evs(256);
    char buf[65536];

    auto close_conn = [&](HttpConn* c) {
        close(c->fd);  // also removes it from the epoll set
        delete c;
    };
    // Writes what is pending; returns false if the connection is gone.
    auto flush = [&](HttpConn* c) -> bool {
        while (!c->out.empty()) {
            ssize_t n = send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN) return true;  // EPOLLOUT (edge) will call again
                close_conn(c);
                return false;
            }
            c->out.erase(0, static_cast<size_t>(n));
        }
        if (c->close_after) {
            shutdown(c->fd, SHUT_WR);
            close_conn(c);
            return false;
        }
        return true;
    };

    for (;;) {
        int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; ++i) {
            if (evs[i].data.ptr == nullptr) {
                for (;;) {
                    int cfd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (cfd < 0) break;
                    int one = 1;
                    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    auto* c = new HttpConn;
                    c->fd = cfd;
                    epoll_event cev{};
                    cev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
                    cev.data.ptr = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
                }
                continue;
            }
            auto* c = static_cast<HttpConn*>(evs[i].data.ptr);
            if (!c->out.empty() && !flush(c)) continue;
            bool alive = true, eof = false;
            while (alive && c->out.empty()) {
                ssize_t r = read(c->fd, buf, sizeof buf);
                if (r == 0) { eof = true; break; }
                if (r < 0) {
                    if (errno != EAGAIN) eof = true;
                    break;
                }
                c->in.append(buf, static_cast<size_t>(r));
                // Answer every complete request head in the buffer (pipelining allowed).
                size_t start = 0;
                for (;;) {
                    size_t end = c->in.find("\r\n\r\n", start);
                    if (end == std::string::npos) break;
                    bool cl = has_connection_close(std::string_view(c->in).substr(start, end - start));
                    c->out += cl ? resp_close : resp_ka;
                    start = end + 4;
                    if (cl) { c->close_after = true; break; }
                }
                c->in.erase(0, start);
                if (!c->out.empty()) alive = flush(c);
                if (alive && static_cast<size_t>(r) < sizeof buf) break;  // drained (edge-triggered: a short read)
            }
            if (alive && eof) close_conn(c);
        }
    }
}

// ------------------------------------------------------------------------------ sink / send
bool read_full(int fd, void* p, size_t n) {
    auto* b = static_cast<char*>(p);
    while (n > 0) {
        ssize_t r = read(fd, b, n);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            return false;
        }
        b += r;
        n -= static_cast<size_t>(r);
    }
    return true;
}

bool write_full(int fd, const void* p, size_t n) {
    auto* b = static_cast<const char*>(p);
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        b += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

constexpr size_t kChunk = 256 * 1024;

uint64_t get_be64(const unsigned char* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
    return v;
}
void put_be64(unsigned char* p, uint64_t v) {
    for (int i = 7; i >= 0; --i) { p[i] = static_cast<unsigned char>(v & 0xff); v >>= 8; }
}

void sink_conn(int fd) {
    std::vector<char> buf(kChunk, 'x');
    unsigned char hdr[9];
    if (!read_full(fd, hdr, 9)) { close(fd); return; }
    uint64_t n = get_be64(hdr + 1);
    if (hdr[0] == 'U') {
        uint64_t got = 0;
        while (got < n) {
            ssize_t r = read(fd, buf.data(), std::min<uint64_t>(buf.size(), n - got));
            if (r <= 0) break;
            got += static_cast<uint64_t>(r);
        }
        unsigned char reply[8];
        put_be64(reply, got);
        write_full(fd, reply, 8);
    } else if (hdr[0] == 'D') {
        uint64_t left = n;
        while (left > 0) {
            size_t w = static_cast<size_t>(std::min<uint64_t>(buf.size(), left));
            if (!write_full(fd, buf.data(), w)) break;
            left -= w;
        }
        char c;
        while (read(fd, &c, 1) > 0) {}  // the client closes when it has everything
    }
    close(fd);
}

int run_sink(int port) {
    int lfd = listen_on(port);
    for (;;) {
        int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            die("accept");
        }
        std::thread(sink_conn, fd).detach();
    }
}

int run_send(const char* host, int port, uint64_t bytes, bool up) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    timeval tv{30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) { std::fprintf(stderr, "bench_tool: bad host\n"); return 1; }
    auto t0 = std::chrono::steady_clock::now();
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) die("connect");
    unsigned char hdr[9];
    hdr[0] = up ? 'U' : 'D';
    put_be64(hdr + 1, bytes);
    if (!write_full(fd, hdr, 9)) die("write header");
    std::vector<char> buf(kChunk, 'y');
    uint64_t done = 0;
    if (up) {
        while (done < bytes) {
            size_t w = static_cast<size_t>(std::min<uint64_t>(buf.size(), bytes - done));
            if (!write_full(fd, buf.data(), w)) die("write");
            done += w;
        }
        unsigned char reply[8];
        if (!read_full(fd, reply, 8)) die("read reply");
        done = get_be64(reply);
    } else {
        while (done < bytes) {
            ssize_t r = read(fd, buf.data(), buf.size());
            if (r <= 0) break;
            done += static_cast<uint64_t>(r);
        }
    }
    auto t1 = std::chrono::steady_clock::now();
    close(fd);
    double s = std::chrono::duration<double>(t1 - t0).count();
    std::printf("bytes=%llu seconds=%.3f mbps=%.0f\n", static_cast<unsigned long long>(done), s,
                s > 0 ? static_cast<double>(done) / s / 1e6 : 0.0);
    if (done != bytes) {
        std::fprintf(stderr, "bench_tool: short transfer: %llu of %llu bytes\n",
                     static_cast<unsigned long long>(done), static_cast<unsigned long long>(bytes));
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    signal(SIGPIPE, SIG_IGN);
    std::string_view role = argc > 1 ? argv[1] : "";
    if (role == "http-server" && (argc == 3 || argc == 4))
        return run_http_server(std::atoi(argv[2]), argc == 4 ? std::strtoull(argv[3], nullptr, 10) : 100);
    if (role == "sink" && argc == 3) return run_sink(std::atoi(argv[2]));
    if (role == "send" && argc == 6 && (std::string_view(argv[5]) == "up" || std::string_view(argv[5]) == "down"))
        return run_send(argv[2], std::atoi(argv[3]), std::strtoull(argv[4], nullptr, 10),
                        std::string_view(argv[5]) == "up");
    std::fprintf(stderr,
                 "usage: bench_tool http-server PORT [BODY_BYTES] | sink PORT | send HOST PORT BYTES up|down\n");
    return 2;
}
