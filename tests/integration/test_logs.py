#!/usr/bin/env python3
"""Logs: one syslog datagram per TCP connection (option tcplog, log global) at a test-owned UDP
socket; rfc5424 to a UNIX datagram socket the master opens and passes to the workers (and
reopens at reload); a missing /dev/log is not an error; option dontlognull."""
import os
import re
import socket
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

# <134> = local0.info; "Mmm dd hh:mm:ss proxyd[pid]: " then HAProxy's tcplog line.
RE_TCPLOG = re.compile(
    r"^<134>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d proxyd\[(\d+)\]: "
    r"127\.0\.0\.1:(\d+) \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\] fe fe_be/s1 "
    r"(-?\d+)/(-?\d+)/(\d+) (\d+) (..) (\d+)/(\d+)/(\d+)/(\d+)/(\+?\d+) (\d+)/(\d+)\n$")


class Collector:
    """A datagram socket (UDP on loopback, or UNIX at `path`) that receives log lines."""

    def __init__(self, path=None):
        self.path = path
        if path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.bind(path)
            os.chmod(path, 0o666)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]

    def lines(self, n, timeout=5.0, what="log lines"):
        out = []
        self.sock.settimeout(timeout)
        while len(out) < n:
            try:
                out.append(self.sock.recv(65536).decode("utf-8", "replace"))
            except socket.timeout:
                raise AssertionError("expected %d %s, got %d: %r (is Logger::log_stream called when a "
                                     "stream ends?)" % (n, what, len(out), out))
        return out

    def nothing(self, wait=0.5):
        self.sock.settimeout(wait)
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            return
        raise AssertionError("unexpected log line %r" % d)

    def close(self):
        self.sock.close()
        if self.path:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass


def tcplog_config(port, target, extra_global=(), extra_fe=()):
    be = h.echo_backend()
    defaults = h.DEFAULTS + "    log global\n    option tcplog\n"
    cfg = h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 " + be.addr], extra_fe),
                        global_lines=["log %s local0" % target] + list(extra_global), defaults=defaults)
    return cfg, be


def check_tcplog_udp():
    col = Collector()
    port = h.free_port()
    cfg, be = tcplog_config(port, "127.0.0.1:%d" % col.port)
    p = h.Proxyd(cfg)
    p.start()
    for i in range(3):
        h.assert_echo(port, payload=b"hello %d\n" % i)
    lines = col.lines(3)
    pids = {w.pid for w in p.workers()}
    for line in lines:
        m = RE_TCPLOG.match(line)
        assert m, "not a tcplog line: %r" % line
        assert int(m.group(1)) in pids, "tag pid %s is not a worker's (%s)" % (m.group(1), pids)
        assert m.group(6) == "8", "%%B should be the 8 bytes echoed: %r" % line
        assert m.group(7) == "--", "normal termination expected: %r" % line
    print("   3 connections, 3 lines, e.g. %r" % lines[0].rstrip("\n"))
    p.stop()
    col.close()


def check_unix_rfc5424_and_reload():
    port = h.free_port()
    p = h.Proxyd()
    path = p.path("log.sock")
    col = Collector(path)
    cfg, be = tcplog_config(port, "%s len 120 format rfc5424" % path, extra_global=["log-tag px"])
    p.write_config(cfg)
    p.start()
    h.assert_echo(port)
    line = col.lines(1)[0]
    assert re.match(r"^<134>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d - px \d+ - - 127\.0\.0\.1:\d+ ",
                    line), "not an rfc5424 line: %r" % line
    assert len(line) <= 121 and line.endswith("\n"), "len 120 not applied: %r" % line
    # The syslog daemon restarts: a new socket at the same path. A reload opens it again.
    col.close()
    col = Collector(path)
    assert p.reload() == "success", p.log_tail()
    h.wait_until(lambda: all(w.gen == 2 for w in p.workers()), 10, "generation 2 alone")
    h.assert_echo(port)
    line = col.lines(1, what="log line after the reload")[0]
    assert " px " in line, line
    print("   rfc5424 over %s, reopened by the reload: %r" % (os.path.basename(path), line.rstrip("\n")))
    p.stop()
    col.close()


def check_missing_unix_socket():
    port = h.free_port()
    cfg, be = tcplog_config(port, "/nonexistent-dir/log")
    p = h.Proxyd(cfg)
    rc, out = h.run_proxyd(["-c", "-f", p.cfg_path])
    assert rc == 0, "-c with an unreachable log socket: %d %s" % (rc, out)
    p.start()
    h.assert_echo(port)
    assert "cannot open log socket '/nonexistent-dir/log'" in p.log(), p.log_tail()
    print("   missing socket: warning, traffic flows")
    p.stop()


def check_dev_log_config():
    port = h.free_port()
    cfg, be = tcplog_config(port, "/dev/log")
    p = h.Proxyd(cfg)
    rc, out = h.run_proxyd(["-c", "-f", p.cfg_path])
    assert rc == 0, "proxyd -c with 'log /dev/log local0': exit %d\n%s" % (rc, out)
    print("   -c accepts 'log /dev/log local0'")


def check_dontlognull():
    col = Collector()
    port = h.free_port()
    cfg, be = tcplog_config(port, "127.0.0.1:%d" % col.port, extra_fe=["option dontlognull"])
    p = h.Proxyd(cfg)
    p.start()
    s = h.connect(port)
    s.close()
    col.nothing(1.0)
    h.assert_echo(port)
    col.lines(1)
    print("   empty connection not logged, the next one is")
    p.stop()
    col.close()


RE_HTTPLOG = re.compile(
    r"^<134>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d proxyd\[\d+\]: "
    r"127\.0\.0\.1:\d+ \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\] web web_be/s1 "
    r"\d+/\d+/\d+/\d+/\d+ 200 \d+ - - ---- \d+/\d+/\d+/\d+/0 0/0 \"GET /a\?b=1 HTTP/1\.1\"\n$")


def check_httplog():
    def handler(conn, rec):
        while b"\r\n\r\n" not in rec:
            d = conn.recv(4096)
            if not d:
                return
            rec += d
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        conn.close()
    be = h.Backend(handler, "http")
    col = Collector()
    port = h.free_port()
    defaults = h.DEFAULTS.replace("mode tcp", "mode http") + "    log global\n    option httplog\n"
    cfg = h.make_config(h.tcp_proxy("web", "127.0.0.1:%d" % port, ["s1 " + be.addr]),
                        global_lines=["log 127.0.0.1:%d local0" % col.port], defaults=defaults)
    p = h.Proxyd(cfg)
    p.start()
    s = h.connect(port)
    s.sendall(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    got = h.recv_all(s)
    s.close()
    assert got.startswith(b"HTTP/1.1 200"), got
    line = col.lines(1)[0]
    assert RE_HTTPLOG.match(line), "not an httplog line: %r" % line
    print("   %r" % line.rstrip("\n"))
    p.stop()
    col.close()


def main():
    h.run_checks("test_logs", [
        ("tcplog over UDP, one line per connection", check_tcplog_udp),
        ("rfc5424 to a UNIX socket, reopened at reload", check_unix_rfc5424_and_reload),
        ("unreachable UNIX log socket is a warning", check_missing_unix_socket),
        ("-c with log /dev/log", check_dev_log_config),
        ("option dontlognull", check_dontlognull),
        ("option httplog", check_httplog),
    ])


if __name__ == "__main__":
    main()
