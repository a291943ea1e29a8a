#!/usr/bin/env python3
"""TCP mode: byte-exact proxying, half-close, weighted round robin, backup/disabled servers,
IPv6 and UNIX listeners, server maxconn queueing."""
import collections
import os
import socket
import stat
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def check_byte_exact_1mib():
    be = h.echo_backend()
    port = h.free_port()
    p = h.Proxyd(h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 " + be.addr])))
    p.start()
    data = os.urandom(1 << 20)
    s = h.connect(port, timeout=15)
    errors = []

    def send():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            errors.append(e)
    t = threading.Thread(target=send)
    t.start()
    got = h.recv_all(s)
    t.join(15)
    s.close()
    assert not errors, "sending 1 MiB failed: %r" % errors
    assert len(be.received) == 1, "backend saw %d connections" % len(be.received)
    assert bytes(be.received[0]) == data, "client->server: backend got %d bytes, differing from " \
        "the 1 MiB sent" % len(be.received[0])
    assert got == data, "server->client: client got %d bytes back, differing from the 1 MiB " \
        "echoed" % len(got)
    print("   1048576 bytes each way, identical")
    p.stop()


def check_bulk_ping_pong():
    """Request/response over one long connection, 64 KiB answers, no close in between (what a
    keep-alive HTTP client does): every answer must arrive in full. Catches a data path that
    stops reading a socket that still holds data (it hung the 64 KiB keep-alive benchmark)."""
    answer = bytes(range(256)) * 256  # 64 KiB
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    bport = lsock.getsockname()[1]

    def serve():
        try:
            c, _ = lsock.accept()
        except OSError:
            return
        with c:
            # Many small segments (as sendfile from a page cache produces): they fill a pipe's
            # 16 slots long before 64 KiB.
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            f = c.makefile("rb")
            for line in f:
                if not line:
                    break
                for off in range(0, len(answer), 1024):
                    c.sendall(answer[off:off + 1024])
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    port = h.free_port()
    p = h.Proxyd(h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 127.0.0.1:%d" % bport])))
    p.start()
    s = h.connect(port, timeout=5)
    try:
        for i in range(50):
            s.sendall(b"GET %d\n" % i)
            got = b""
            while len(got) < len(answer):
                chunk = s.recv(1 << 16)
                assert chunk, "connection closed after %d bytes of answer %d" % (len(got), i)
                got += chunk
            assert got == answer, "answer %d differs" % i
    except socket.timeout:
        raise AssertionError("answer %d stalled after %d of %d bytes" % (i, len(got), len(answer)))
    finally:
        s.close()
        lsock.close()
    print("   50 x 64 KiB answers on one connection, all complete")
    p.stop()


def check_half_close():
    be = h.halfclose_backend("hc")
    port = h.free_port()
    p = h.Proxyd(h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 " + be.addr])))
    p.start()
    for size in (0, 1, 100000):
        data = os.urandom(size)
        s = h.connect(port)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = h.recv_all(s)  # reads the reply, then EOF
        s.close()
        want = h.halfclose_reply("hc", data)
        assert got == want, "half-close with %d bytes: reply %r, expected %r" % (size, got, want)
    print("   server saw EOF and its reply reached the client (0, 1, 100000 bytes)")
    p.stop()


def check_weighted_roundrobin():
    bes = [h.name_backend(n) for n in ("a", "b", "c")]
    weights = {"a": 1, "b": 2, "c": 1}
    port = h.free_port()
    servers = ["%s %s weight %d" % (b.name, b.addr, weights[b.name]) for b in bes]
    p = h.Proxyd(h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, servers, ["balance roundrobin"]),
                               nbproc=1))
    p.start()
    seq = [h.banner(port).decode().strip() for _ in range(40)]
    counts = collections.Counter(seq)
    print("   40 connections: %s; sequence %s" % (dict(sorted(counts.items())), "".join(seq[:12])))
    assert counts == {"a": 10, "b": 20, "c": 10}, \
        "weights 1,2,1 over 40 connections: got %s, expected a=10 b=20 c=10" % dict(counts)
    p.stop()


def check_roundrobin_across_workers():
    """With several workers, round-robin is global to the generation (shared ticket): sequential
    connections visit the servers in order whichever worker accepts them."""
    bes = [h.name_backend(n) for n in ("a", "b", "c", "d")]
    port = h.free_port()
    servers = ["%s %s" % (b.name, b.addr) for b in bes]
    p = h.Proxyd(h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, servers, ["balance roundrobin"]),
                               nbproc=2))
    p.start()
    p.wait_workers(2)
    seq = "".join(h.banner(port).decode().strip() for _ in range(16))
    print("   16 connections over 2 workers: %s" % seq)
    assert seq == "abcd" * 4, "expected abcdabcd..., got %s" % seq
    p.stop()


def check_backup_and_disabled():
    act, bak = h.name_backend("active"), h.name_backend("backup")
    port = h.free_port()
    p = h.Proxyd(h.make_config(h.tcp_proxy(
        "fe", "127.0.0.1:%d" % port, ["active %s" % act.addr, "backup %s backup" % bak.addr])))
    p.start()
    seq = [h.banner(port).decode().strip() for _ in range(10)]
    assert seq == ["active"] * 10, "with the active server up, backup must not be used: %s" % seq
    p.stop()

    port2 = h.free_port()
    p2 = h.Proxyd(h.make_config(h.tcp_proxy(
        "fe", "127.0.0.1:%d" % port2, ["active %s disabled" % act.addr, "backup %s backup" % bak.addr])))
    p2.start()
    seq = [h.banner(port2).decode().strip() for _ in range(10)]
    assert seq == ["backup"] * 10, "active server disabled: all must go to the backup: %s" % seq
    assert act.connections == 10, "the disabled server received connections (%d, expected the " \
        "10 from the first run only)" % act.connections
    p2.stop()


def check_ipv6():
    if not h.has_ipv6():
        raise h.Skip("no IPv6 loopback")
    be = h.echo_backend()
    port = h.free_port()
    p = h.Proxyd(h.make_config(h.tcp_proxy("fe6", "[::1]:%d" % port, ["s1 " + be.addr])))
    p.start()
    h.assert_echo(port, host="::1")
    p.stop()


def check_unix_listener():
    be = h.echo_backend()
    p = h.Proxyd()
    path = p.path("fe.sock")
    p.write_config(h.make_config(h.tcp_proxy("feu", "unix@%s mode 600" % path, ["s1 " + be.addr])))
    p.start()
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode), "%s is not a socket" % path
    assert stat.S_IMODE(st.st_mode) == 0o600, "%s has mode %o, expected 600" % (path, stat.S_IMODE(st.st_mode))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(b"over unix\n")
    s.shutdown(socket.SHUT_WR)
    got = h.recv_all(s)
    s.close()
    assert got == b"over unix\n", "echo over %s: got %r" % (path, got)
    print("   %s mode %o, echo ok" % (path, stat.S_IMODE(st.st_mode)))
    p.stop()


def concurrent_line_clients(port, n):
    """n clients at once, each sends "client i" and reads until EOF; {i: reply or OSError}."""
    results = {}

    def client(i):
        try:
            s = h.connect(port, timeout=15)
            s.sendall(b"client %d\n" % i)
            results[i] = h.recv_all(s)
            s.close()
        except OSError as e:
            results[i] = e
    ts = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    return results


def check_server_maxconn_queue():
    be = h.line_backend("slow", delay=0.5)
    port = h.free_port()
    p = h.Proxyd(h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 %s maxconn 1" % be.addr])))
    p.start()
    results = concurrent_line_clients(port, 3)
    for i in range(3):
        assert results.get(i) == b"slow client %d\n" % i, "client %d: %r (expected to be queued, " \
            "then served)" % (i, results.get(i))
    assert be.max_busy == 1, "server maxconn 1, but the server had %d requests in service at " \
        "once" % be.max_busy
    print("   3 clients served, at most %d request at a time on the server (%d connections)"
          % (be.max_busy, be.connections))
    p.stop()


def check_frontend_and_global_maxconn():
    """Frontend maxconn 1 (then global maxconn 1): the worker stops accepting while at its
    limit; the other connections wait in the kernel backlog and are served afterwards, not
    refused."""
    for kind in ("frontend", "global"):
        be = h.line_backend("slow", delay=0.4)
        port = h.free_port()
        extra = ["maxconn 1"] if kind == "frontend" else []
        glob = ["maxconn 1"] if kind == "global" else []
        p = h.Proxyd(h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 %s" % be.addr], extra),
                                   nbproc=1, global_lines=glob))
        p.start()
        results = concurrent_line_clients(port, 4)
        for i in range(4):
            assert results.get(i) == b"slow client %d\n" % i, "%s maxconn 1, client %d: %r (expected " \
                "to wait, then be served)" % (kind, i, results.get(i))
        assert be.max_busy == 1, "%s maxconn 1, but the server had %d requests at once" % (kind, be.max_busy)
        print("   %s maxconn 1: 4 clients served one at a time" % kind)
        p.stop()


def main():
    h.run_checks("test_tcp_proxy", [
        ("1 MiB byte-exact both ways", check_byte_exact_1mib),
        ("half-close", check_half_close),
        ("64 KiB ping-pong on one connection", check_bulk_ping_pong),
        ("frontend and global maxconn wait, not refuse", check_frontend_and_global_maxconn),
        ("weighted roundrobin 1,2,1", check_weighted_roundrobin),
        ("roundrobin across 2 workers", check_roundrobin_across_workers),
        ("backup only when active disabled", check_backup_and_disabled),
        ("IPv6 listener [::1]", check_ipv6),
        ("UNIX socket listener mode 600", check_unix_listener),
        ("server maxconn 1 queues", check_server_maxconn_queue),
    ])


if __name__ == "__main__":
    main()
