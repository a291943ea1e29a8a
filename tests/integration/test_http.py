#!/usr/bin/env python3
"""mode http, end to end: proxying and keep-alive (both sides), connection modes, bodies
(Content-Length, chunked, 100-continue, HEAD/204/304), Upgrade tunnels, malformed requests,
timeouts and server failures with their status codes, error pages, routing and HTTP rules,
forwardfor, balance uri/source/leastconn, and show stat counters.

Every check also runs on HAProxy 2.6, which is the reference; the expected values were
validated there first:
    PROXYD_BIN=build/proxyd python3 tests/integration/test_http.py
    HTTP_TEST_TARGET=haproxy python3 tests/integration/test_http.py   # /usr/sbin/haproxy
    HTTP_TEST_TARGET=haproxy HAPROXY_BIN=/path/haproxy python3 ...
Where proxyd deliberately differs (it is stricter on malformed requests: bare LF, obs-fold,
Content-Length with Transfer-Encoding, a missing Host, HTTP/2.0 on an HTTP/1 connection, too
many headers), the expected status is written per target in EXPECT, with the reason.
Every wait is bounded (IO_TIMEOUT per response); the whole script stays under ~90 s even when
every check fails.
"""
import csv
import hashlib
import os
import re
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import http_backend  # noqa: E402
from http_backend import HttpBackend, pattern  # noqa: E402

TARGET = os.environ.get("HTTP_TEST_TARGET", "proxyd")
if TARGET not in ("proxyd", "haproxy"):
    sys.exit("HTTP_TEST_TARGET must be 'proxyd' or 'haproxy', not %r" % TARGET)
if TARGET == "haproxy":
    # Proxyd.argv() reads harness.PROXYD_BIN when it starts a process: same fixture, other
    # binary (HAProxy takes the same -W -f -p -S arguments).
    h.PROXYD_BIN = os.environ.get("HAPROXY_BIN", "/usr/sbin/haproxy")

IO_TIMEOUT = 3.0          # seconds for one response (or one expected close) to arrive
SCRIPT_BUDGET = 70.0      # once spent, the remaining checks fail at once instead of waiting
CASE_LOOP_CAP = 12.0      # a check looping over cases stops after this many seconds
_t_start = time.monotonic()

# Expected values that differ between the targets, with the reason. A check reads
# EXPECT[key][TARGET].
EXPECT = {
    # RFC 9112 §2.2 allows a recipient to accept a bare LF line end; HAProxy does, proxyd
    # refuses it (request smuggling through front ends that disagree on line ends).
    "bare_lf": {"haproxy": 200, "proxyd": 400},
    # obs-fold (RFC 9112 §5.2): HAProxy 2.6 replaces the fold by spaces and forwards; proxyd
    # rejects it (allowed by the RFC: "reject ... with 400").
    "obs_fold": {"haproxy": 200, "proxyd": 400},
    # Content-Length with Transfer-Encoding (RFC 9112 §6.3): HAProxy drops Content-Length and
    # forwards the chunked body; proxyd refuses (the RFC's "ought to be handled as an error").
    "cl_te": {"haproxy": 200, "proxyd": 400},
    # HTTP/1.1 request without Host (RFC 9112 §3.2 MUST be 400): HAProxy 2.6 forwards it.
    "no_host": {"haproxy": 200, "proxyd": 400},
    # More header lines than tune.http.maxhdr: HAProxy answers 400, proxyd 431 (RFC 6585).
    "too_many_headers": {"haproxy": 400, "proxyd": 431},
    # "HTTP/2.0" in an HTTP/1 request line: HAProxy 2.6 accepts it and forwards the request
    # as HTTP/1.1 (200); proxyd answers 505 HTTP Version Not Supported (RFC 9110 §15.6.6).
    "http20_version": {"haproxy": 200, "proxyd": 505},
    # A head (start line + fields) of 15.5 KB with tune.bufsize 16384: HAProxy 2.6 keeps
    # tune.maxrewrite (1024) of the buffer free for rewrites and answers 400; proxyd only
    # requires the head to fit in tune.bufsize (200).
    "head_15k": {"haproxy": 400, "proxyd": 200},
    # A head of 17 KB > tune.bufsize: HAProxy 400, proxyd 431 (RFC 6585).
    "head_17k": {"haproxy": 400, "proxyd": 431},
    # errorfile 400 for a request the HTTP/1 parser refuses: HAProxy 2.6 answers with its
    # built-in page anyway (observed; its H1 layer does not look at errorfiles); proxyd uses
    # the configured page.
    "errorfile_400": {"haproxy": "built-in", "proxyd": "errorfile"},
    # A request line longer than tune.bufsize: HAProxy 2.6 answers 400 (its parser just finds
    # the buffer full); proxyd 414 URI Too Long (RFC 9112 §3).
    "uri_too_long": {"haproxy": 400, "proxyd": 414},
}


def expect(key):
    return EXPECT[key][TARGET]


# ---------------------------------------------------------------------------------------
# HTTP client: raw sockets, bounded reads.

class Response:
    def __init__(self):
        self.version = self.reason = ""
        self.status = 0
        self.headers = []       # [(name, value)]
        self.head = b""         # raw head, up to the empty line
        self.body = b""         # de-chunked
        self.chunked = False
        self.until_close = False

    def header(self, name):
        """First value of header `name` (case-insensitive), or None."""
        v = self.all(name)
        return v[0] if v else None

    def all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def __repr__(self):
        return "%d %s %r" % (self.status, self.reason, self.head[:300] + self.body[:200])


class Client:
    """One client connection; responses are parsed from a buffer that survives keep-alive."""

    def __init__(self, port, src=None, timeout=IO_TIMEOUT):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if src:
            self.sock.bind((src, 0))
        try:
            self.sock.connect(("127.0.0.1", port))
        except BaseException:
            self.sock.close()
            raise
        self.buf = bytearray()
        self.timeout = timeout
        self._deadline = None
        self.received = 0        # bytes read from the socket in total

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def _fill(self, what):
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no %s within %.1fs; received so far: %r"
                                 % (what, self.timeout, bytes(self.buf[:400])))
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError("no %s within %.1fs; received so far: %r"
                                 % (what, self.timeout, bytes(self.buf[:400])))
        except ConnectionResetError:
            raise AssertionError("connection reset by the proxy while waiting for %s; received "
                                 "so far: %r" % (what, bytes(self.buf[:400])))
        if not d:
            raise EOFError
        self.received += len(d)
        self.buf += d

    def _take_until(self, sep, what):
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[:i + len(sep)])
                del self.buf[:i + len(sep)]
                return out
            try:
                self._fill(what)
            except EOFError:
                raise AssertionError("connection closed by the proxy while waiting for %s; "
                                     "received: %r" % (what, bytes(self.buf[:400])))

    def _take(self, n, what):
        while len(self.buf) < n:
            try:
                self._fill(what)
            except EOFError:
                raise AssertionError("connection closed after %d of %d bytes of %s"
                                     % (len(self.buf), n, what))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def recv_exact(self, n, what, timeout=None):
        """n raw bytes (a tunnel), bounded."""
        self.timeout = timeout or IO_TIMEOUT
        self._deadline = time.monotonic() + self.timeout
        return self._take(n, what)

    def response(self, head_request=False, timeout=None):
        """The next response (an interim 1xx too). head_request: the request was HEAD."""
        self.timeout = timeout or IO_TIMEOUT
        self._deadline = time.monotonic() + self.timeout
        r = Response()
        r.head = self._take_until(b"\r\n\r\n", "response head")
        lines = r.head[:-4].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        assert len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit(), \
            "bad status line %r" % lines[0]
        r.version, r.status = parts[0], int(parts[1])
        r.reason = parts[2] if len(parts) > 2 else ""
        for l in lines[1:]:
            n, _, v = l.partition(":")
            r.headers.append((n, v.strip()))
        if head_request or r.status < 200 or r.status in (204, 304):
            return r
        te = ",".join(r.all("Transfer-Encoding")).lower()
        if "chunked" in te:
            r.chunked = True
            body = bytearray()
            while True:
                line = self._take_until(b"\r\n", "chunk size line")
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self._take_until(b"\r\n", "trailer") != b"\r\n":
                        pass
                    break
                body += self._take(size, "chunk data")
                assert self._take(2, "chunk CRLF") == b"\r\n", "chunk data not followed by CRLF"
            r.body = bytes(body)
        elif r.header("Content-Length") is not None:
            r.body = self._take(int(r.header("Content-Length")), "response body")
        else:
            r.until_close = True
            r.body = self.read_to_eof("close-delimited body")
        return r

    def read_to_eof(self, what="EOF", timeout=None):
        """Everything until the proxy closes (a reset counts as a close)."""
        self.timeout = timeout or IO_TIMEOUT
        self._deadline = time.monotonic() + self.timeout
        while True:
            try:
                self._fill(what)
            except EOFError:
                break
            except AssertionError as e:
                if "reset" in str(e):
                    break
                raise
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def closed_within(self, timeout):
        """True if the proxy closes the connection within timeout s with nothing more sent
        (extra bytes fail the check)."""
        try:
            rest = self.read_to_eof("close", timeout)
        except AssertionError:
            return False
        assert rest == b"", "unexpected bytes before the close: %r" % rest[:300]
        return True


def request(method="GET", path="/", headers=(), body=None, version="HTTP/1.1", host="test.local"):
    """Raw request bytes; Content-Length is added for a body unless a framing header is given."""
    lines = ["%s %s %s" % (method, path, version)]
    if host is not None:
        lines.append("Host: " + host)
    lines += list(headers)
    framed = any(x.lower().startswith(("content-length:", "transfer-encoding:")) for x in headers)
    if body is not None and not framed:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def fetch(port, raw, head_request=False, src=None, timeout=None):
    """New connection, one request, one final response; the connection is then closed."""
    c = Client(port, src=src)
    try:
        c.send(raw)
        r = c.response(head_request, timeout)
        while 100 <= r.status < 200 and r.status != 101:
            r = c.response(head_request, timeout)
        return r
    finally:
        c.close()


def get(port, path="/", headers=(), **kw):
    return fetch(port, request("GET", path, headers), **kw)


def chunk_encode(data, size):
    out = bytearray()
    for off in range(0, len(data), size):
        piece = data[off:off + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return bytes(out + b"0\r\n\r\n")


# ---------------------------------------------------------------------------------------
# The proxy under test.

def http_config(port, frontend=(), backends=None, global_lines=(), defaults=(), procs=1):
    """global + defaults (mode http, short timeouts) + frontend fe on 127.0.0.1:port + the
    backends {name: [lines]}; the first backend is the default one unless the frontend
    names a default_backend. Valid for proxyd and HAProxy alike, except the global
    process-count line (`procs` workers: nbproc for proxyd, nbthread for HAProxy 2.6, which
    removed nbproc)."""
    g = [("nbthread %d" if TARGET == "haproxy" else "nbproc %d") % procs] + list(global_lines)
    out = "global\n" + "".join("    %s\n" % l for l in g)
    d = ["mode http", "timeout connect 2s", "timeout client 10s", "timeout server 10s",
         "timeout queue 5s", "timeout http-request 5s"]
    # A later line of the same timeout overrides (both parsers keep the last one).
    out += "\ndefaults\n" + "".join("    %s\n" % l for l in d + list(defaults))
    backends = backends or {}
    out += "\nfrontend fe\n    bind 127.0.0.1:%d\n" % port
    out += "".join("    %s\n" % l for l in frontend)
    if backends and not any(l.startswith("default_backend") for l in frontend):
        out += "    default_backend %s\n" % next(iter(backends))
    for name, lines in backends.items():
        out += "\nbackend %s\n" % name + "".join("    %s\n" % l for l in lines)
    return out


def start(frontend=(), backends=None, global_lines=(), defaults=(), extra_args=(), procs=1):
    """Starts the target with http_config(); returns (instance, port)."""
    budget_check()
    port = h.free_port()
    p = h.Proxyd(http_config(port, frontend, backends, global_lines, defaults, procs), extra_args=extra_args)
    p.start()
    return p, port


def one_backend(be, frontend=(), backend_lines=(), server_opts="", **kw):
    """The target in front of one HttpBackend (server s1 in backend be)."""
    return start(frontend, {"be": list(backend_lines) + ["server s1 %s%s" % (be.addr, server_opts)]}, **kw)


def stop(p):
    """Stops the target. HAProxy's master logs an [ALERT] for the worker it terminates
    ("exited with code 143") and its exit code is not proxyd's: only other alerts count."""
    if TARGET == "haproxy":
        p.stop(expect_code=None, allow_alerts=True)
        alerts = [l for l in p.log().splitlines()
                  if "[ALERT]" in l and "exited with code 143" not in l]
        assert not alerts, "[ALERT] in the log:\n" + "\n".join(alerts)
    else:
        p.stop()


def capped(items, problems, cap=CASE_LOOP_CAP):
    """Yields items until the check has spent `cap` seconds (cases that time out add up);
    the cases left are then reported as not run, in `problems`."""
    t0 = time.monotonic()
    items = list(items)
    for i, it in enumerate(items):
        if time.monotonic() - t0 > cap:
            problems.append("%d case(s) not run: the check spent its %.0f s" % (len(items) - i, cap))
            return
        yield it


def budget_check():
    if time.monotonic() - _t_start > SCRIPT_BUDGET:
        raise AssertionError("not run: the script's %.0f s budget is spent (earlier checks "
                             "waited for their timeouts)" % SCRIPT_BUDGET)


def assert_status(r, status, what):
    assert r.status == status, "%s: status %d, expected %d; response %r" % (what, r.status, status, r)


def head_lines(raw):
    return raw.decode("latin-1").split("\r\n")


# ---------------------------------------------------------------------------------------
# Proxying and connection management.

def check_simple_get():
    be = HttpBackend("s1")
    p, port = one_backend(be)
    r = get(port, "/size/5000", ["X-Test: hello"])
    assert_status(r, 200, "GET /size/5000")
    assert r.body == pattern(5000), "body: %d bytes, differing from the 5000 the server sent" % len(r.body)
    assert r.header("X-Server") == "s1" and r.header("X-Req") == "1", \
        "server headers lost: %r" % r.headers
    req = be.last()
    assert req.method == "GET" and req.target == "/size/5000", "server saw %r" % req
    assert req.header("X-Test") == ["hello"] and req.header("Host") == ["test.local"], \
        "request headers at the server: %r" % req.headers
    r = get(port, "/echo")
    assert r.body.startswith(b"GET /echo HTTP/1.1\r\n"), "echoed request line: %r" % r.body[:100]
    print("   5000-byte body intact; server saw %r" % req.headers)
    stop(p)


def check_client_keepalive():
    be = HttpBackend("s1")
    p, port = one_backend(be)
    c = Client(port)
    seen = []
    for i in range(5):
        c.send(request("GET", "/size/%d" % (100 + i)))
        r = c.response()
        assert_status(r, 200, "request %d on one client connection" % (i + 1))
        assert r.body == pattern(100 + i), "request %d: body differs" % (i + 1)
        seen.append((r.header("X-Conn"), r.header("X-Req")))
    c.close()
    print("   5 requests on one client connection; (server conn, req#): %s" % seen)
    assert [x[1] for x in seen] == ["1", "2", "3", "4", "5"] and len({x[0] for x in seen}) == 1, \
        "keep-alive on both sides expected (one server connection, requests 1..5): %s" % seen
    stop(p)


def check_server_reuse_always():
    """http-reuse always: an idle server connection is shared by the next client connection,
    even for its first request (unlike 'safe')."""
    be = HttpBackend("s1")
    p, port = one_backend(be, backend_lines=["http-reuse always"])
    conns = []
    for i in range(5):
        c = Client(port)
        c.send(request("GET", "/r%d" % i))
        r = c.response()
        assert_status(r, 200, "client connection %d" % (i + 1))
        conns.append(r.header("X-Conn"))
        c.close()
        time.sleep(0.05)
    print("   5 sequential client connections -> server connections %s" % conns)
    assert be.connections == 1, "http-reuse always: the server saw %d connections for 5 " \
        "sequential client connections (expected 1): %s" % (be.connections, conns)
    stop(p)


def check_server_reuse_safe():
    """http-reuse safe (the default): the first request of a client connection never goes
    over a connection another client used, so sequential clients mean new connections."""
    be = HttpBackend("s1")
    p, port = one_backend(be, backend_lines=["http-reuse safe"])
    conns = []
    for i in range(3):
        c = Client(port)
        c.send(request("GET", "/r%d" % i))
        r = c.response()
        assert_status(r, 200, "client connection %d" % (i + 1))
        conns.append(r.header("X-Conn"))
        c.close()
        time.sleep(0.05)
    print("   3 sequential client connections -> server connections %s" % conns)
    assert len(set(conns)) == 3, "http-reuse safe: first requests of 3 client connections " \
        "shared server connections %s" % conns
    stop(p)


def check_server_reuse_modes():
    """Sequential client connections, one request each: which http-reuse modes share the
    idle server connection (HAProxy 2.6: only 'always'; 'aggressive' reuses only connections
    that were already reused once, so never one that served a single request)."""
    want = {"never": ["1", "2", "3"], "safe": ["1", "2", "3"], "aggressive": ["1", "2", "3"],
            "always": ["1", "1", "1"]}
    problems = []
    for mode, exp in capped(want.items(), problems):
        be = HttpBackend("s1")
        p, port = one_backend(be, backend_lines=["http-reuse " + mode])
        seq = []
        for i in range(3):
            c = Client(port)
            c.send(request("GET", "/r%d" % i))
            r = c.response()
            seq.append(r.header("X-Conn"))
            c.close()
            time.sleep(0.05)
        if seq != exp:
            problems.append("http-reuse %s: server connections %s, expected %s" % (mode, seq, exp))
        stop(p)
    assert not problems, "\n   ".join(problems)
    print("   never/safe/aggressive: new connection per client; always: shared")


def check_client_abort_then_reuse():
    """A client closes in the middle of a 4 MiB response: the server connection must not be
    reused with the rest of that body in it; the next clients get clean responses."""
    be = HttpBackend("s1")
    p, port = one_backend(be, backend_lines=["http-reuse always"])
    c = Client(port)
    c.send(request("GET", "/size/%d" % (4 << 20)))
    c.recv_exact(1000, "the start of the response")
    c.close()
    time.sleep(0.2)
    for i in range(3):
        r = get(port, "/size/%d" % (100 + i))
        assert_status(r, 200, "request %d after another client aborted" % (i + 1))
        assert r.body == pattern(100 + i), "request %d after the abort got a wrong body %r" % (i + 1, r.body[:60])
    print("   3 clean responses after an aborted 4 MiB download (%d server connections)" % be.connections)
    stop(p)


def check_byte_by_byte_request():
    """A request (head and chunked body) sent one byte per segment."""
    be = HttpBackend("s1")
    p, port = one_backend(be)
    c = Client(port)
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    raw = request("POST", "/bb?x=1", ["X-A: b", "Transfer-Encoding: chunked"], chunk_encode(b"hello world", 4))
    for i in range(len(raw)):
        c.send(raw[i:i + 1])
        time.sleep(0.002)
    r = c.response()
    c.close()
    assert_status(r, 200, "request sent byte by byte")
    req = be.last()
    assert req.body == b"hello world" and req.target == "/bb?x=1" and req.header("X-A") == ["b"], \
        "server saw %r %r body %r" % (req.target, req.headers, req.body)
    print("   %d bytes, one per segment: forwarded intact" % len(raw))
    stop(p)


def check_client_half_close():
    """A client that half-closes after its request still gets the response (also a slow one)."""
    be = HttpBackend("s1")
    p, port = one_backend(be)
    for path, n in (("/size/100", 100), ("/delay/300", None)):
        c = Client(port)
        c.send(request("GET", path))
        c.sock.shutdown(socket.SHUT_WR)
        r = c.response()
        c.close()
        assert_status(r, 200, "GET %s then half-close" % path)
        if n:
            assert r.body == pattern(n), "body after half-close: %r" % r.body[:60]
    print("   responses delivered after the client's FIN")
    stop(p)


def check_concurrent_keepalive_clients():
    """20 clients at once, 15 requests each on keep-alive connections, mixed sizes and
    framings, 2 workers (threads for HAProxy): every response belongs to its request (no
    cross-talk between streams)."""
    be = HttpBackend("s1")
    p, port = one_backend(be, procs=2)
    errors = []

    def client(k):
        try:
            c = Client(port, timeout=10)
            for i in range(15):
                n = (k * 7919 + i * 104729) % 70000
                if i % 3 == 0:
                    c.send(request("GET", "/chunked/%d?chunk=%d&id=%d-%d" % (n, 1 + n % 5000, k, i)))
                elif i % 3 == 1:
                    c.send(request("POST", "/size/%d?id=%d-%d" % (n, k, i), body=os.urandom(n % 3000)))
                else:
                    c.send(request("GET", "/id-%d-%d" % (k, i)))
                r = c.response(timeout=10)
                if r.status != 200:
                    errors.append("client %d request %d: status %d" % (k, i, r.status))
                    return
                if i % 3 == 2:
                    ok = r.body.startswith(b"GET /id-%d-%d HTTP/1.1" % (k, i))
                else:
                    ok = r.body == pattern(n)
                if not ok:
                    errors.append("client %d request %d: wrong body %r" % (k, i, r.body[:60]))
                    return
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("client %d: %s" % (k, e))
    ts = [threading.Thread(target=client, args=(k,)) for k in range(20)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    dt = time.monotonic() - t0
    assert not errors, "%d of 20 clients failed:\n   %s" % (len(errors), "\n   ".join(errors[:8]))
    print("   300 requests by 20 concurrent keep-alive clients in %.2f s, all matched; %d server "
          "connections" % (dt, be.connections))
    stop(p)


def check_http_server_close():
    be = HttpBackend("s1")
    p, port = one_backend(be, frontend=["option http-server-close"])
    c = Client(port)
    conns = []
    for i in range(3):
        c.send(request("GET", "/sc%d" % i))
        r = c.response()
        assert_status(r, 200, "request %d on one client connection" % (i + 1))
        conns.append(r.header("X-Conn"))
        req = be.last()
        assert "close" in ",".join(req.header("Connection")).lower(), \
            "server-side request should say Connection: close: %r" % req.headers
    c.close()
    print("   3 requests on one client connection -> server connections %s" % conns)
    assert conns == ["1", "2", "3"] and be.connections == 3, \
        "option http-server-close: expected one server connection per request, got %s" % conns
    stop(p)


def check_httpclose():
    be = HttpBackend("s1")
    p, port = one_backend(be, frontend=["option httpclose"])
    c = Client(port)
    c.send(request("GET", "/hc"))
    r = c.response()
    assert_status(r, 200, "GET with option httpclose")
    conn_hdr = ",".join(r.all("Connection")).lower()
    assert "close" in conn_hdr, "response lacks Connection: close: %r" % r.head
    assert c.closed_within(IO_TIMEOUT), "the proxy did not close the client connection " \
        "after the response (option httpclose)"
    c.close()
    print("   response says Connection: %s, then the proxy closed" % conn_hdr)
    stop(p)


def check_http10_close():
    be = HttpBackend("s1")
    p, port = one_backend(be)
    c = Client(port)
    c.send(request("GET", "/size/300", version="HTTP/1.0"))
    r = c.response()
    assert_status(r, 200, "HTTP/1.0 GET")
    assert r.body == pattern(300), "HTTP/1.0 body: %d bytes, differs" % len(r.body)
    if not r.until_close:
        assert c.closed_within(IO_TIMEOUT), "HTTP/1.0 client without keep-alive: the proxy did " \
            "not close after the response (%r)" % r.head
    c.close()
    print("   HTTP/1.0 answered (%s, %s), then closed" % (r.version, "close-delimited" if r.until_close
                                                        else "Content-Length"))
    stop(p)


def check_pipelining():
    """Three requests in one write: three responses, in order, nothing lost or merged."""
    be = HttpBackend("s1")
    p, port = one_backend(be)
    c = Client(port)
    c.send(request("GET", "/size/10") + request("POST", "/p", body=b"abc") + request("GET", "/size/20"))
    got = []
    for want in (pattern(10), None, pattern(20)):
        r = c.response()
        assert_status(r, 200, "pipelined request %d" % (len(got) + 1))
        if want is not None:
            assert r.body == want, "pipelined response %d: body %r" % (len(got) + 1, r.body[:80])
        got.append(r.header("X-Req"))
    c.close()
    assert be.requests[1].body == b"abc", "pipelined POST body at the server: %r" % be.requests[1].body
    print("   3 pipelined requests answered in order (server request numbers %s)" % got)
    stop(p)


def check_client_connection_close():
    """A request with Connection: close (keep-alive mode): the answer says close, then the
    proxy closes."""
    be = HttpBackend("s1")
    p, port = one_backend(be)
    c = Client(port)
    c.send(request("GET", "/cc", ["Connection: close"]))
    r = c.response()
    assert_status(r, 200, "GET with Connection: close")
    assert "close" in ",".join(r.all("Connection")).lower(), "response lacks Connection: close: %r" % r.head
    assert c.closed_within(IO_TIMEOUT), "the proxy did not close after answering a request " \
        "with Connection: close"
    c.close()
    stop(p)


def check_http10_keepalive():
    """HTTP/1.0 with Connection: keep-alive: the answer says keep-alive and the connection
    serves a second request."""
    be = HttpBackend("s1")
    p, port = one_backend(be)
    c = Client(port)
    for i in range(2):
        c.send(request("GET", "/k%d" % i, ["Connection: keep-alive"], version="HTTP/1.0"))
        r = c.response()
        assert_status(r, 200, "HTTP/1.0 keep-alive request %d" % (i + 1))
        assert "keep-alive" in ",".join(r.all("Connection")).lower(), \
            "HTTP/1.0 keep-alive: response %d lacks Connection: keep-alive: %r" % (i + 1, r.head)
        assert not r.until_close, "HTTP/1.0 keep-alive: response %d is close-delimited" % (i + 1)
    c.close()
    print("   two HTTP/1.0 keep-alive requests on one connection")
    stop(p)


def check_close_delimited_response():
    """The server ends its body by closing (no Content-Length, not chunked): the client gets
    every byte, then either a close or a re-framed body."""
    be = HttpBackend("s1")
    p, port = one_backend(be)
    c = Client(port)
    c.send(request("GET", "/close/200000"))
    r = c.response(timeout=5)
    assert_status(r, 200, "close-delimited response")
    assert r.body == pattern(200000), "close-delimited body: %d bytes, expected 200000 identical" % len(r.body)
    how = "until close"
    if not r.until_close:
        how = "re-framed (%s)" % ("chunked" if r.chunked else "Content-Length")
        c.send(request("GET", "/size/5"))
        assert c.response().body == pattern(5), "request after a re-framed response"
    c.close()
    print("   200000 bytes, %s" % how)
    stop(p)


def check_server_idle_close():
    """The server closes its keep-alive connection while idle: the next request on the same
    client connection must be served (over a new server connection), not answered 502."""
    be = HttpBackend("s1")
    p, port = one_backend(be)
    c = Client(port)
    c.send(request("GET", "/idle-close/100"))
    assert_status(c.response(), 200, "first request")
    time.sleep(0.5)
    for i in range(2):
        c.send(request("GET", "/after-close%d" % i))
        r = c.response()
        assert_status(r, 200, "request %d after the server closed its idle connection" % (i + 1))
    c.close()
    print("   served after the server's idle close (%d server connections)" % be.connections)
    assert be.connections == 2, "expected 2 server connections, the server saw %d" % be.connections
    stop(p)


def check_keepalive_timeout():
    """timeout http-keep-alive 1s: an idle client connection is closed after ~1 s, silently."""
    be = HttpBackend("s1")
    p, port = one_backend(be, defaults=["timeout http-keep-alive 1s"])
    c = Client(port)
    c.send(request("GET", "/"))
    assert_status(c.response(), 200, "request")
    t0 = time.monotonic()
    closed = c.closed_within(4)  # extra bytes (a 408) fail here
    dt = time.monotonic() - t0
    c.close()
    assert closed, "idle keep-alive connection still open after 4 s (timeout http-keep-alive 1s)"
    assert 0.7 <= dt <= 3.0, "idle keep-alive connection closed after %.1f s, expected ~1 s" % dt
    print("   idle connection closed after %.2f s, nothing sent" % dt)
    stop(p)


def check_roundrobin_per_request():
    """balance roundrobin applies to each request, also on one keep-alive client connection
    (HAProxy without option prefer-last-server)."""
    bes = [HttpBackend(n) for n in ("a", "b")]
    p, port = start(backends={"be": ["balance roundrobin"] +
                              ["server %s %s" % (b.name, b.addr) for b in bes]})
    c = Client(port)
    seq = []
    for i in range(4):
        c.send(request("GET", "/rr%d" % i))
        r = c.response()
        assert_status(r, 200, "request %d" % (i + 1))
        seq.append(r.header("X-Server"))
    c.close()
    print("   4 requests on one connection went to %s" % seq)
    assert sorted(seq) == ["a", "a", "b", "b"] and seq[0] != seq[1], \
        "roundrobin per request on a keep-alive connection: %s, expected alternating" % seq
    stop(p)


def check_early_hints():
    be = HttpBackend("s1")
    p, port = one_backend(be)
    c = Client(port)
    c.send(request("GET", "/early-hints"))
    r = c.response()
    assert_status(r, 103, "interim 103 Early Hints relayed")
    assert r.header("Link") == "</style.css>; rel=preload", "103 Link field: %r" % r.head
    assert_status(c.response(), 200, "final response after the 103")
    c.close()
    stop(p)


# Server responses: (key, raw response, {target: expected}, why they differ). Expected: the
# status the client gets, or "200 cut" (the head, then the connection closes before the
# announced body is complete). A request is GET /raw/<key>; the server closes after it.
RESPONSE_CASES = [
    ("Content-Length with Transfer-Encoding",
     b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
     {"haproxy": 200, "proxyd": 502}, "HAProxy drops Content-Length and relays the chunked body"),
    ("two different Content-Length", b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
     {"haproxy": 502, "proxyd": 502}, ""),
    ("bare LF", b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", {"haproxy": 200, "proxyd": 502},
     "proxyd refuses bare LF from servers too"),
    ("status 600", b"HTTP/1.1 600 High\r\nContent-Length: 2\r\n\r\nok", {"haproxy": 600, "proxyd": 502},
     "RFC 9110 §15: codes are 100..599"),
    ("HTTP/1.0 close-delimited", b"HTTP/1.0 200 OK\r\n\r\nclose-delimited", {"haproxy": 200, "proxyd": 200}, ""),
    ("not HTTP", b"hello\r\n\r\n", {"haproxy": 502, "proxyd": 502}, ""),
    ("status line without reason", b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", {"haproxy": 200, "proxyd": 200}, ""),
    ("head larger than tune.bufsize",
     b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 17000 + b"\r\nContent-Length: 2\r\n\r\nok",
     {"haproxy": 502, "proxyd": 502}, ""),
    ("Transfer-Encoding: gzip (not chunked)", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nrawbytes",
     {"haproxy": 502, "proxyd": 200}, "RFC 9112 §6.3: the body then runs until the close"),
    ("space before ':'", b"HTTP/1.1 200 OK\r\nX-A : b\r\nContent-Length: 2\r\n\r\nok",
     {"haproxy": 502, "proxyd": 502}, ""),
    ("obs-fold", b"HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 2\r\n\r\nok",
     {"haproxy": 200, "proxyd": 502}, "HAProxy unfolds it"),
    ("NUL in a value", b"HTTP/1.1 200 OK\r\nX-A: b\x00c\r\nContent-Length: 2\r\n\r\nok",
     {"haproxy": 200, "proxyd": 502}, ""),
    ("invalid chunk size in the first chunk",
     b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
     {"haproxy": 502, "proxyd": 502}, "nothing was sent to the client yet: a 502, not a bare close"),
    ("body shorter than Content-Length", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
     {"haproxy": "200 cut", "proxyd": "200 cut"}, ""),
]


def check_response_table():
    be = HttpBackend("s1")
    p, port = one_backend(be)
    problems, table = [], []
    for i, (name, raw, want_by_target, why) in capped(enumerate(RESPONSE_CASES), problems):
        want = want_by_target[TARGET]
        be.raw[str(i)] = raw
        c = Client(port)
        try:
            c.send(request("GET", "/raw/%d" % i))
            r = c.response(head_request=True)
            got = r.status
            if r.header("Content-Length") is not None and 200 <= r.status and r.status not in (204, 304):
                n = int(r.header("Content-Length"))
                rest = c.read_to_eof("body", timeout=IO_TIMEOUT) if n > len(c.buf) else bytes(c.buf)
                if len(rest) < n:
                    got = "%d cut" % r.status
        except AssertionError as e:
            got = "no response (%s)" % str(e)[:90]
        finally:
            c.close()
        table.append("%s -> %s" % (name, got))
        if got != want:
            problems.append("%s: %s, expected %s%s" % (name, got, want, " (%s)" % why if why else ""))
    print("   " + "\n   ".join(table))
    assert not problems, "%d of %d cases differ:\n   %s" % (len(problems), len(RESPONSE_CASES),
                                                          "\n   ".join(problems))
    stop(p)


def check_invalid_response_502():
    be = HttpBackend("s1")
    p, port = one_backend(be)
    r = get(port, "/bad-response")
    assert_status(r, 502, "the server's response has a field line without ':'")
    stop(p)


def check_response_fields_preserved():
    be = HttpBackend("s1")
    p, port = one_backend(be)
    r = get(port, "/cookies")
    assert_status(r, 200, "GET /cookies")
    assert r.all("Set-Cookie") == ["a=1", "b=2"], "Set-Cookie fields: %r" % r.all("Set-Cookie")
    stop(p)


def check_connection_mode_combinations():
    """How the frontend's and the backend's options combine (values observed on HAProxy 2.6):
    the client side follows the frontend (a backend's httpclose closes only the server
    connections), the server side the stronger of the two. Two requests on one client
    connection: (client connection kept?, server connections used)."""
    combos = [("option http-server-close", "option httpclose", (True, 2)),
              ("", "option httpclose", (True, 2)),
              ("option httpclose", "option http-keep-alive", (False, 1)),
              ("option http-keep-alive", "option http-server-close", (True, 2)),
              ("option http-server-close", "option http-keep-alive", (True, 2)),
              ("", "", (True, 1))]
    problems = []
    for fe_opt, be_opt, want in capped(combos, problems):
        be = HttpBackend("s1")
        p, port = one_backend(be, frontend=[fe_opt] if fe_opt else [],
                              backend_lines=[be_opt] if be_opt else [])
        c = Client(port)
        c.send(request("GET", "/one"))
        r = c.response()
        kept = "close" not in ",".join(r.all("Connection")).lower()
        if kept:
            c.send(request("GET", "/two"))
            kept = c.response().status == 200
        else:
            if not c.closed_within(IO_TIMEOUT):
                problems.append("%s / %s: Connection: close but not closed" % (fe_opt, be_opt))
        c.close()
        got = (kept, be.connections)
        print("   frontend '%s' + backend '%s': client kept=%s, server connections=%d"
              % (fe_opt or "-", be_opt or "-", got[0], got[1]))
        if got != want:
            problems.append("frontend '%s' + backend '%s': client kept=%s, server connections=%d; "
                            "expected kept=%s, %d" % (fe_opt or "-", be_opt or "-", got[0], got[1],
                                                       want[0], want[1]))
        stop(p)
    assert not problems, "\n   ".join(problems)
    print("   %d frontend/backend option pairs combine as in HAProxy" % len(combos))


# ---------------------------------------------------------------------------------------
# Bodies.

def check_chunked_request():
    be = HttpBackend("s1")
    p, port = one_backend(be)
    data = os.urandom(100000)
    r = fetch(port, request("POST", "/up", ["Transfer-Encoding: chunked"], chunk_encode(data, 7000)))
    assert_status(r, 200, "chunked POST")
    req = be.last()
    assert req.body == data, "server got %d payload bytes (chunked=%s), differing from the " \
        "100000 sent" % (len(req.body), req.chunked)
    assert r.header("X-Body-Sha256") == hashlib.sha256(data).hexdigest(), "server's digest differs"
    print("   100000 bytes in 7000-byte chunks reached the server (%s)"
          % ("chunked" if req.chunked else "de-chunked, Content-Length"))
    stop(p)


def check_chunked_trailers():
    be = HttpBackend("s1")
    p, port = one_backend(be)
    r = fetch(port, request("POST", "/tr", ["Transfer-Encoding: chunked"],
                            b"5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"))
    assert_status(r, 200, "chunked POST with a trailer")
    req = be.last()
    assert req.body == b"hello", "body %r" % req.body
    assert [(n.lower(), v) for n, v in req.trailers] == [("x-trailer", "t")], \
        "trailer at the server: %r (chunked=%s)" % (req.trailers, req.chunked)
    stop(p)


def check_chunked_response():
    be = HttpBackend("s1")
    p, port = one_backend(be)
    c = Client(port)
    for n, k in ((100000, 3000), (1, 1), (0, 1)):
        c.send(request("GET", "/chunked/%d?chunk=%d" % (n, k)))
        r = c.response()
        assert_status(r, 200, "chunked response of %d bytes" % n)
        assert r.chunked or r.header("Content-Length") is not None, \
            "chunked response turned into a close-delimited one: %r" % r.head
        assert r.body == pattern(n), "chunked response: client got %d bytes, differing from the " \
            "%d sent" % (len(r.body), n)
    c.close()
    print("   100000 / 1 / 0 bytes chunked, intact on one keep-alive connection")
    stop(p)


def check_content_length_1mib():
    be = HttpBackend("s1")
    p, port = one_backend(be)
    data = os.urandom(1 << 20)
    c = Client(port)
    errs = []

    def send():
        try:
            c.send(request("POST", "/size/%d" % (1 << 20), body=data))
        except OSError as e:
            errs.append(e)
    t = threading.Thread(target=send)
    t.start()
    try:
        r = c.response(timeout=10)
    finally:
        t.join(10)
        c.close()
    assert not errs, "sending 1 MiB: %r" % errs
    assert_status(r, 200, "POST 1 MiB")
    req = be.last()
    assert req.body == data, "server got %d body bytes, differing from the 1 MiB sent" % len(req.body)
    assert r.header("Content-Length") == str(1 << 20), "Content-Length %r" % r.header("Content-Length")
    assert r.body == pattern(1 << 20), "client got %d bytes, differing from the 1 MiB sent" % len(r.body)
    print("   1 MiB each way, identical")
    stop(p)


def check_expect_100_continue():
    be = HttpBackend("s1")
    p, port = one_backend(be)
    c = Client(port)
    body = b"hello world"
    c.send(request("POST", "/ec", ["Expect: 100-continue", "Content-Length: %d" % len(body)]))
    r = c.response()
    assert_status(r, 100, "interim response to Expect: 100-continue (before the body is sent)")
    c.send(body)
    r = c.response()
    assert_status(r, 200, "final response after the body")
    assert be.last().body == body, "server got body %r" % be.last().body
    c.send(request("GET", "/after"))
    assert_status(c.response(), 200, "next request on the connection")
    c.close()
    print("   100 Continue, then body, then 200; connection still usable")
    stop(p)


def check_head_204_304_keepalive():
    """Bodiless responses on one keep-alive connection; a wrong framing shows in the next
    response. Problems that do not break the framing are collected, the sequence goes on."""
    be = HttpBackend("s1")
    p, port = one_backend(be)
    c = Client(port)
    problems = []
    c.send(request("HEAD", "/size/1000"))
    r = c.response(head_request=True)
    assert_status(r, 200, "HEAD /size/1000")
    if r.header("Content-Length") != "1000":
        problems.append("HEAD response: Content-Length %r, the server sent 1000 (head %r)"
                        % (r.header("Content-Length"), r.head))
    for code in (204, 304):
        c.send(request("GET", "/status/%d" % code))
        r = c.response()
        assert_status(r, code, "GET /status/%d after %s" % (code, "HEAD" if code == 204 else "204"))
        if r.header("Content-Length") or r.header("Transfer-Encoding"):
            problems.append("%d response with a body framing header: %r" % (code, r.head))
    c.send(request("HEAD", "/chunked/500"))
    r = c.response(head_request=True)
    assert_status(r, 200, "HEAD of a chunked resource")
    if "chunked" not in (r.header("Transfer-Encoding") or ""):
        problems.append("HEAD of a chunked resource: Transfer-Encoding %r, the server sent chunked"
                        % r.header("Transfer-Encoding"))
    c.send(request("GET", "/size/10"))
    r = c.response()
    assert_status(r, 200, "GET after HEAD/204/304/HEAD")
    assert r.body == pattern(10), "the request after the bodiless responses got %r (a body " \
        "was invented or left over)" % r.body
    time.sleep(0.1)
    try:
        c.sock.setblocking(False)
        extra = c.sock.recv(4096)
    except BlockingIOError:
        extra = b""
    c.close()
    if extra or c.buf:
        problems.append("unexpected extra bytes after the last response: %r" % (bytes(c.buf) + extra))
    assert not problems, "; ".join(problems)
    print("   HEAD, 204, 304, HEAD (chunked) then GET on one connection: all framed right")
    stop(p)


# A complete WebSocket handshake: HAProxy 2.6 answers 400 to "Upgrade: websocket" without
# Sec-WebSocket-Key, and 502 to a 101 without Sec-WebSocket-Accept (the server computes it).
WS_HEADERS = ["Connection: Upgrade", "Upgrade: websocket",
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]


def check_websocket_upgrade():
    be = HttpBackend("s1")
    p, port = one_backend(be)
    c = Client(port)
    c.send(request("GET", "/ws", WS_HEADERS))
    r = c.response()
    assert_status(r, 101, "Upgrade: websocket")
    assert "upgrade" in ",".join(r.all("Connection")).lower() and r.header("Upgrade"), \
        "101 lacks Connection/Upgrade: %r" % r.head
    for msg in (b"ping-1", os.urandom(65536), b"\x00\x01\x02 binary"):
        c.send(msg)
        got = c.recv_exact(len(msg), "echo through the tunnel")
        assert got == msg, "tunnel echo differs (%d bytes sent)" % len(msg)
    c.sock.shutdown(socket.SHUT_WR)
    assert c.closed_within(IO_TIMEOUT), "tunnel not closed after the client's EOF reached the server"
    c.close()
    print("   101, then 3 messages (up to 64 KiB) echoed both ways, close propagated")
    stop(p)


def check_tunnel_timeout():
    be = HttpBackend("s1")
    p, port = one_backend(be, defaults=["timeout tunnel 1s"])
    c = Client(port)
    c.send(request("GET", "/ws", WS_HEADERS))
    assert_status(c.response(), 101, "Upgrade")
    c.send(b"x")
    assert c.recv_exact(1, "echo") == b"x"
    t0 = time.monotonic()
    closed = c.closed_within(4)
    dt = time.monotonic() - t0
    c.close()
    assert closed, "idle tunnel not closed within 4 s (timeout tunnel 1s, timeout client/server 10s)"
    assert 0.7 <= dt <= 3.0, "idle tunnel closed after %.1f s, expected ~1 s (timeout tunnel)" % dt
    print("   idle tunnel closed after %.2f s (timeout tunnel 1s)" % dt)
    stop(p)


# ---------------------------------------------------------------------------------------
# Malformed requests: refused, never forwarded.

def refused(raw, status, what, global_lines=()):
    be = HttpBackend("s1")
    p, port = one_backend(be, global_lines=global_lines)
    c = Client(port)
    try:
        c.send(raw)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the proxy may answer and close before reading everything (a long line)
    r = c.response()
    assert_status(r, status, what)
    if status >= 400:
        # The proxy cannot find the next request after a framing error: it must close.
        closed = c.closed_within(IO_TIMEOUT)
        c.close()
        assert closed, "%s: the proxy answered %d but did not close the connection" % (what, status)
        assert not be.requests, \
            "%s: answered %d but the server received it: %r" % (what, r.status, be.requests)
    else:
        c.close()
        be.wait_requests(1)
    print("   %s -> %d %s" % (what, r.status, r.reason))
    stop(p)
    return r, be


def check_space_before_colon():
    refused(b"GET / HTTP/1.1\r\nHost: test.local\r\nX-Bad : v\r\n\r\n", 400, "space before ':'")


def check_bare_lf():
    refused(b"GET / HTTP/1.1\nHost: test.local\nX-A: b\n\n", expect("bare_lf"), "bare LF line ends")


def check_obs_fold():
    r, be = refused(b"GET / HTTP/1.1\r\nHost: test.local\r\nX-Fold: a\r\n  b\r\n\r\n",
                    expect("obs_fold"), "obs-fold header line")
    if r.status == 200:
        print("   server saw X-Fold: %r" % be.last().header("X-Fold"))


def check_cl_and_te():
    r, be = refused(b"POST / HTTP/1.1\r\nHost: test.local\r\nContent-Length: 3\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                    expect("cl_te"), "Content-Length with Transfer-Encoding")
    if r.status == 200:
        req = be.last()
        assert req.body == b"hello" and not req.header("Content-Length"), \
            "CL+TE accepted: the chunked body must win and Content-Length be dropped: %r %r" \
            % (req.headers, req.body)


def check_two_content_lengths():
    refused(b"POST / HTTP/1.1\r\nHost: test.local\r\nContent-Length: 5\r\nContent-Length: 6\r\n"
            b"\r\nhello!", 400, "two different Content-Length")


def check_invalid_chunk_size():
    refused(b"POST / HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\nhello\r\n0\r\n\r\n", 400, "invalid chunk size 'zz'")


def check_request_line_too_long():
    refused(b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: test.local\r\n\r\n", expect("uri_too_long"),
            "request line of 20 KB > tune.bufsize 16384", global_lines=["tune.bufsize 16384"])


def check_large_head():
    refused(request("GET", "/", ["X-Big: " + "a" * 15500]), expect("head_15k"),
            "15.5 KB head (tune.bufsize 16384)", global_lines=["tune.bufsize 16384"])
    refused(request("GET", "/", ["X-Big: " + "a" * 17000]), expect("head_17k"),
            "17 KB head > tune.bufsize 16384", global_lines=["tune.bufsize 16384"])


# More request shapes: (name, raw request, {target: expected status}, why they differ).
# 200 means forwarded (the server answered); any other status means refused, and then the
# server must not have seen the request.
REQUEST_CASES = [
    ("Transfer-Encoding: gzip (chunked not last)",
     request("POST", "/", ["Transfer-Encoding: gzip"], b"abc"), {"haproxy": 400, "proxyd": 400}, ""),
    ("Transfer-Encoding: xchunked", request("POST", "/", ["Transfer-Encoding: xchunked"], b"abc"),
     {"haproxy": 400, "proxyd": 501}, "unknown coding: proxyd says 501 (RFC 9112 §6.1)"),
    ("Transfer-Encoding: chunked, identity",
     request("POST", "/", ["Transfer-Encoding: chunked, identity"], b"abc"),
     {"haproxy": 400, "proxyd": 501}, "identity is not a registered coding: 501 in proxyd"),
    ("Transfer-Encoding in HTTP/1.0",
     request("POST", "/", ["Transfer-Encoding: chunked"], b"3\r\nabc\r\n0\r\n\r\n", version="HTTP/1.0"),
     {"haproxy": 200, "proxyd": 400}, "RFC 9112 §6.1: the framing of such a message is faulty"),
    ("Content-Length: 3, 3 (identical list)", request("POST", "/", ["Content-Length: 3, 3"], b"abc"),
     {"haproxy": 200, "proxyd": 200}, ""),
    ("Content-Length: +3", request("POST", "/", ["Content-Length: +3"], b"abc"),
     {"haproxy": 400, "proxyd": 400}, ""),
    ("two Host fields", request("GET", "/", ["Host: other"]), {"haproxy": 400, "proxyd": 400}, ""),
    ("absolute-form target, different Host", request("GET", "http://a.example/x", host="b.example"),
     {"haproxy": 400, "proxyd": 400}, "else the server and the Host-based rules see different "
     "authorities (RFC 9112 §3.2.2: the target's authority wins)"),
    ("non-ASCII bytes in the target", b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
     {"haproxy": 400, "proxyd": 400}, ""),
    ("NUL in a field value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
     {"haproxy": 200, "proxyd": 400}, "RFC 9110 §5.5: NUL is never valid; HAProxy 2.6 forwards it"),
    ("obs-text in a field value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: caf\xc3\xa9\r\n\r\n",
     {"haproxy": 200, "proxyd": 200}, ""),
    ("fragment in the target", b"GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n", {"haproxy": 400, "proxyd": 400}, ""),
    ("lower-case method 'get'", b"get / HTTP/1.1\r\nHost: x\r\n\r\n", {"haproxy": 200, "proxyd": 200}, ""),
    ("two spaces after the method", b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
     {"haproxy": 200, "proxyd": 400}, "RFC 9112 §3: single SP; HAProxy 2.6 skips extra spaces"),
    ("empty line before the request", b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
     {"haproxy": 200, "proxyd": 200}, ""),
    ("lower-case 'http/1.1'", b"GET / http/1.1\r\nHost: x\r\n\r\n", {"haproxy": 400, "proxyd": 400}, ""),
    ("empty field name", b"GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", {"haproxy": 400, "proxyd": 400}, ""),
    ("OPTIONS *", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", {"haproxy": 200, "proxyd": 200}, ""),
]


def check_request_table():
    """REQUEST_CASES on one proxy, each on a new connection; every mismatch is listed."""
    be = HttpBackend("s1")
    p, port = one_backend(be)
    problems, table = [], []
    for name, raw, want_by_target, why in capped(REQUEST_CASES, problems):
        want = want_by_target[TARGET]
        before = len(be.requests)
        c = Client(port)
        try:
            c.send(raw)
            r = c.response()
            got = r.status
            if got >= 400 and not c.closed_within(IO_TIMEOUT):
                problems.append("%s: %d but the connection stayed open" % (name, got))
        except AssertionError as e:
            got = "no answer (%s)" % str(e)[:80]
        finally:
            c.close()
        time.sleep(0.02)
        forwarded = len(be.requests) - before
        table.append("%s -> %s" % (name, got))
        if got != want:
            problems.append("%s: %s, expected %d%s" % (name, got, want, " (%s)" % why if why else ""))
        elif want >= 400 and forwarded:
            problems.append("%s: answered %d, but the server received it too" % (name, got))
        elif want == 200 and not forwarded:
            problems.append("%s: 200 but the server saw nothing" % name)
    print("   " + "\n   ".join(table))
    assert not problems, "%d of %d cases differ:\n   %s" % (len(problems), len(REQUEST_CASES),
                                                          "\n   ".join(problems))
    stop(p)


def check_silent_client_408():
    """A connection that sends nothing gets a 408 at timeout http-request (HAProxy 2.6 does)."""
    be = HttpBackend("s1")
    p, port = one_backend(be, defaults=["timeout http-request 1s"])
    c = Client(port)
    r, dt = timed(lambda: c.response(timeout=4))
    c.close()
    assert_status(r, 408, "no byte sent for timeout http-request 1s")
    assert 0.7 <= dt <= 3.0, "408 after %.1f s, expected ~1 s" % dt
    stop(p)


def check_too_many_headers():
    hdrs = b"".join(b"X-H%d: v\r\n" % i for i in range(30))
    refused(b"GET / HTTP/1.1\r\nHost: test.local\r\n" + hdrs + b"\r\n", expect("too_many_headers"),
            "31 header lines > tune.http.maxhdr 20", global_lines=["tune.http.maxhdr 20"])


def check_invalid_method():
    refused(b"G(T / HTTP/1.1\r\nHost: test.local\r\n\r\n", 400, "'(' in the method")


def check_bad_version():
    refused(b"GET / HTTP/1.x\r\nHost: test.local\r\n\r\n", 400, "version HTTP/1.x")
    refused(b"GET / HTTP/2.0\r\nHost: test.local\r\n\r\n", expect("http20_version"), "version HTTP/2.0")


def check_missing_host():
    refused(b"GET / HTTP/1.1\r\nX-A: b\r\n\r\n", expect("no_host"), "HTTP/1.1 without Host")


# ---------------------------------------------------------------------------------------
# Timeouts and server failures.

def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def check_http_request_timeout():
    be = HttpBackend("s1")
    p, port = one_backend(be, defaults=["timeout http-request 1s"])
    c = Client(port)
    c.send(b"GET /slow HTTP/1.1\r\nHost: test.local\r\n")  # no empty line: head incomplete
    r, dt = timed(lambda: c.response(timeout=4))
    c.close()
    assert_status(r, 408, "incomplete head for more than timeout http-request 1s")
    assert 0.7 <= dt <= 3.0, "408 after %.1f s, expected ~1 s" % dt
    assert not be.requests, "the incomplete request reached the server"
    print("   408 after %.2f s (timeout http-request 1s)" % dt)
    stop(p)


def check_server_timeout_504():
    be = HttpBackend("s1")
    p, port = one_backend(be, defaults=["timeout server 1s"])
    r, dt = timed(lambda: get(port, "/hang", timeout=4))
    assert_status(r, 504, "server never answers, timeout server 1s")
    assert 0.7 <= dt <= 3.0, "504 after %.1f s, expected ~1 s" % dt
    print("   504 after %.2f s (timeout server 1s)" % dt)
    stop(p)


def check_server_down_503():
    dead = h.free_port()  # held by a UDP socket only: TCP connections are refused
    p, port = start(backends={"be": ["retries 2", "server s1 127.0.0.1:%d" % dead]},
                    defaults=["timeout connect 1s"])
    r, dt = timed(lambda: get(port, "/", timeout=6))
    assert_status(r, 503, "connection refused by the only server, retries 2")
    print("   503 after %.2f s (connection refused, retries 2)" % dt)
    assert dt <= 5, "503 took %.1f s" % dt
    stop(p)


def check_retry_turnaround():
    """HAProxy waits min(timeout connect, 1 s) before each retry of a refused connection (its
    manual, `retries`: so that a restarting server is not hammered): 2 retries take ~2 s."""
    dead = h.free_port()
    p, port = start(backends={"be": ["retries 2", "server s1 127.0.0.1:%d" % dead]},
                    defaults=["timeout connect 1s"])
    r, dt = timed(lambda: get(port, "/", timeout=6))
    assert_status(r, 503, "connection refused, retries 2")
    print("   503 after %.2f s" % dt)
    assert 1.6 <= dt <= 3.5, "503 after %.2f s: expected ~2 s (2 retries, each after a 1 s " \
        "turn-around)" % dt
    stop(p)


def check_server_stall_mid_body():
    """The server sends the head and 3 of 100 bytes, then nothing: at timeout server the
    client connection is cut (no error page can follow a started response)."""
    be = HttpBackend("s1")
    p, port = one_backend(be, defaults=["timeout server 1s"])
    c = Client(port)
    c.send(request("GET", "/stall"))
    r = c.response(head_request=True)
    assert_status(r, 200, "head of the stalled response")
    t0 = time.monotonic()
    rest = c.read_to_eof("the cut", timeout=4)
    dt = time.monotonic() - t0
    c.close()
    assert rest == b"abc", "after the head: %r, expected the 3 bytes then the close" % rest[:200]
    assert 0.5 <= dt <= 3.0, "cut after %.1f s, expected ~1 s (timeout server)" % dt
    print("   head + 3 bytes, then cut after %.2f s" % dt)
    stop(p)


def check_server_reset_502():
    be = HttpBackend("s1")
    p, port = one_backend(be)
    r = get(port, "/reset")
    assert_status(r, 502, "server reset before any response byte")
    # Once part of the response went out, the client sees it cut short, never a 502 glued on.
    c = Client(port)
    c.send(request("GET", "/reset-mid"))
    r = c.response(head_request=True)  # the head only; then the body is cut
    assert_status(r, 200, "server reset after the head (Content-Length 1000) and 100 bytes")
    rest = c.read_to_eof("cut body")
    c.close()
    assert len(rest) < 1000 and b"HTTP/1" not in rest, "after the reset mid-body the client got " \
        "%d bytes: %r" % (len(rest), rest[:200])
    print("   reset before the response -> 502; reset mid-body -> head + %d bytes, then close" % len(rest))
    stop(p)


def check_maxconn_queue():
    be = HttpBackend("s1")
    p, port = one_backend(be, server_opts=" maxconn 1")
    results = {}

    def client(i):
        try:
            results[i] = get(port, "/delay/500", timeout=5)
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = e
    ts = [threading.Thread(target=client, args=(i,)) for i in range(2)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join(8)
    dt = time.monotonic() - t0
    for i in range(2):
        r = results.get(i)
        assert isinstance(r, Response) and r.status == 200, "client %d: %r (expected to wait in " \
            "the queue, then be served)" % (i, r)
    assert be.max_busy == 1, "server maxconn 1, but %d requests were in service at once" % be.max_busy
    assert dt >= 0.9, "2 requests of 0.5 s served in %.2f s: not one after the other" % dt
    print("   2 concurrent requests served one after the other in %.2f s" % dt)
    stop(p)


def check_queue_timeout_503():
    be = HttpBackend("s1")
    p, port = one_backend(be, server_opts=" maxconn 1", defaults=["timeout queue 1s"])
    first = {}
    t = threading.Thread(target=lambda: first.setdefault("r", get(port, "/delay/2500", timeout=5)))
    t.start()
    be.wait_requests(1)
    r, dt = timed(lambda: get(port, "/second", timeout=4))
    t.join(6)
    assert_status(r, 503, "second request queued longer than timeout queue 1s")
    assert 0.7 <= dt <= 2.4, "503 after %.1f s, expected ~1 s" % dt
    assert first.get("r") is not None and first["r"].status == 200, "first request: %r" % first.get("r")
    assert len(be.requests) == 1, "the timed-out request reached the server: %r" % be.requests
    print("   queued request -> 503 after %.2f s; the first one got its 200" % dt)
    stop(p)


# HAProxy 2.6's generated pages (status line, body); all have Content-Type: text/html and
# Cache-Control: no-cache. The 400 and 408 pages (from its HTTP/1 layer) also say
# Connection: close and close; the others keep the connection open.
HAPROXY_PAGES = {
    400: ("400 Bad request", "Your browser sent an invalid request."),
    403: ("403 Forbidden", "Request forbidden by administrative rules."),
    408: ("408 Request Time-out", "Your browser didn't send a complete request in time."),
    429: ("429 Too Many Requests", "You have sent too many requests in a given amount of time."),
    502: ("502 Bad Gateway", "The server returned an invalid or incomplete response."),
    503: ("503 Service Unavailable", "No server is available to handle this request."),
    504: ("504 Gateway Time-out", "The server didn't respond in time."),
}


def page_problems(c, r, code):
    """Differences between response r (read on client c) and HAProxy's page for code; also
    checks the connection: a page saying Connection: close is followed by the close,
    otherwise the connection answers a next request."""
    line, text = HAPROXY_PAGES[code]
    out = []
    first = head_lines(r.head)[0]
    if first != "HTTP/1.1 " + line:
        out.append("status line %r, expected %r" % (first, "HTTP/1.1 " + line))
    if (r.header("Content-Type") or "").lower() != "text/html":
        out.append("Content-Type %r" % r.header("Content-Type"))
    if (r.header("Cache-Control") or "").lower() != "no-cache":
        out.append("Cache-Control %r" % r.header("Cache-Control"))
    body = ("<html><body><h1>%s</h1>\n%s\n</body></html>\n" % (line, text)).encode()
    if r.body != body:
        out.append("body %r, expected %r" % (r.body, body))
    if "close" in ",".join(r.all("Connection")).lower():
        if not c.closed_within(IO_TIMEOUT):
            out.append("says Connection: close, but the connection stayed open")
    elif code not in (400, 408):
        try:
            c.send(request("GET", "/next"))
            r2 = c.response()
            if r2.status != 200:
                out.append("no Connection: close, and the next request got %d" % r2.status)
        except (AssertionError, OSError) as e:
            out.append("no Connection: close, but the next request failed: %s" % e)
    else:
        out.append("a %d must close the connection (the request stream is lost): no "
                   "Connection: close" % code)
    return ["%d: %s" % (code, x) for x in out]


def check_error_page_format():
    """The generated error pages look like HAProxy's: 400, 403, 408, 429, 502, 503, 504."""
    be = HttpBackend("s1")
    dead = h.free_port()
    fe = ["acl p_deny path /deny", "acl p_429 path /busy", "acl p_dead path_beg /dead",
          "http-request deny if p_deny", "http-request deny deny_status 429 if p_429",
          "use_backend dead if p_dead"]
    p, port = start(fe, {"be": ["server s1 %s" % be.addr],
                         "dead": ["retries 0", "server s1 127.0.0.1:%d" % dead]},
                    defaults=["timeout server 1s", "timeout http-request 1s"])
    cases = [(400, b"GET / HTTP/1.1\r\nHost: test.local\r\nX-Bad : v\r\n\r\n"),
             (403, request("GET", "/deny")), (429, request("GET", "/busy")),
             (502, request("GET", "/reset")), (503, request("GET", "/dead")),
             (504, request("GET", "/hang")),
             (408, b"GET / HTTP/1.1\r\nHost: test.local\r\n")]
    problems, seen = [], []
    for code, raw in capped(cases, problems):
        c = Client(port)
        try:
            c.send(raw)
            r = c.response(timeout=4)
            seen.append(r.status)
            if r.status != code:
                problems.append("expected a %d page, got %r" % (code, r))
            else:
                problems += page_problems(c, r, code)
        except AssertionError as e:
            problems.append("%d: %s" % (code, e))
        finally:
            c.close()
    assert not problems, "error pages differ from HAProxy's:\n   " + "\n   ".join(problems)
    print("   %s: HAProxy's status lines, headers and bodies" % seen)
    stop(p)


def check_errorfile():
    dead = h.free_port()
    p = h.Proxyd()
    ef = p.path("503.http")
    pages = {}
    for code, reason in ((503, "Service Unavailable"), (403, "Forbidden"), (400, "Bad Request")):
        body = b"custom %d\n" % code
        pages[code] = body
        with open(p.path("%d.http" % code), "wb") as f:
            f.write(b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                    b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n" % (code, reason.encode(), len(body))
                    + body)
    port = h.free_port()
    # errorfile in defaults (400, 403) and in the backend (503).
    p.write_config(http_config(port, ["acl p_deny path /deny", "http-request deny if p_deny"],
                               backends={"be": ["errorfile 503 %s" % p.path("503.http"), "retries 0",
                                                "server s1 127.0.0.1:%d" % dead]},
                               defaults=["errorfile 400 %s" % p.path("400.http"),
                                         "errorfile 403 %s" % p.path("403.http")]))
    p.start()
    problems = []
    for code, raw in ((503, request("GET", "/")), (403, request("GET", "/deny")),
                      (400, b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad : v\r\n\r\n")):
        r = fetch(port, raw)
        if code == 400 and expect("errorfile_400") == "built-in":
            if r.status != 400 or b"<h1>400 Bad request</h1>" not in r.body:
                problems.append("400: expected the built-in page: %r" % r)
        elif r.status != code or r.body != pages[code] or (r.header("Content-Type") or "") != "text/plain":
            problems.append("errorfile %d not used: %r" % (code, r))
    assert not problems, "\n   ".join(problems)
    print("   errorfile pages served for 503 (backend), 403 (defaults); 400: %s" % expect("errorfile_400"))
    stop(p)


# ---------------------------------------------------------------------------------------
# Routing and rules.

def check_routing():
    bes = {n: HttpBackend(n) for n in ("api", "host_a", "post", "def")}
    fe = ["acl is_api path_beg /api",
          "acl host_a hdr(host) -i a.example",
          "acl is_post method POST",
          "use_backend be_api if is_api",
          "use_backend be_host_a if host_a",
          "use_backend be_post if is_post",
          "default_backend be_def"]
    p, port = start(fe, {"be_" + n: ["server %s %s" % (n, b.addr)] for n, b in bes.items()})
    cases = [(request("GET", "/api/v1"), "api"),
             (request("GET", "/x", host="A.Example"), "host_a"),
             (request("POST", "/x", body=b"1"), "post"),
             (request("GET", "/apx"), "def"),
             (request("GET", "/"), "def"),
             (request("POST", "/api", body=b"1"), "api")]
    got = []
    for raw, want in cases:
        r = fetch(port, raw)
        assert_status(r, 200, raw.split(b"\r\n")[0].decode())
        got.append(r.header("X-Server"))
        assert r.header("X-Server") == want, "%r (%s) went to %s, expected %s" % (
            raw.split(b"\r\n")[0], raw.split(b"\r\n")[1], r.header("X-Server"), want)
    print("   path_beg / hdr(host) / method / default: %s" % got)
    stop(p)


def check_keepalive_across_backends():
    """One keep-alive client connection whose requests go to different backends: each request
    reaches its own backend's server (an idle server connection is never reused for another
    backend), and an invalid second request still gets its 400."""
    bes = {"one": HttpBackend("one"), "two": HttpBackend("two"), "two_b": HttpBackend("two_b")}
    fe = ["use_backend be_two if { path_beg /two }", "default_backend be_one"]
    p, port = start(fe, {"be_one": ["server one %s" % bes["one"].addr],
                         "be_two": ["balance roundrobin", "server a %s" % bes["two"].addr,
                                    "server b %s" % bes["two_b"].addr]})
    c = Client(port)
    got = []
    for path in ("/one", "/two", "/one", "/two", "/two", "/one"):
        c.send(request("GET", path))
        r = c.response()
        assert_status(r, 200, path)
        got.append(r.header("X-Server"))
    want = ["one", ("two", "two_b"), "one", ("two", "two_b"), ("two", "two_b"), "one"]
    for g, w in zip(got, want):
        assert g == w or (isinstance(w, tuple) and g in w), "requests reached %s, expected %s" % (got, want)
    # A malformed request after a good one on the same connection: 400, not a bare close.
    c.send(b"GET /one HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
    r = c.response()
    assert_status(r, 400, "malformed second request on a keep-alive connection")
    c.close()
    print("   servers: %s; then 400" % got)
    stop(p)


def check_request_rules():
    be = HttpBackend("s1")
    fe = ["acl p_deny path /deny",
          "acl p_429 path /busy",
          "acl p_old path /old",
          "acl p_pre path_beg /pre/",
          "acl p_ret path /ret",
          "http-request deny if p_deny",
          "http-request deny deny_status 429 if p_429",
          "http-request redirect location /x code 301 if p_old",
          "http-request redirect prefix https://a.example if p_pre",
          "http-request return status 200 content-type text/plain string ok if p_ret"]
    p, port = one_backend(be, frontend=fe)
    r = get(port, "/deny")
    assert_status(r, 403, "http-request deny")
    r = get(port, "/busy")
    assert_status(r, 429, "http-request deny deny_status 429")
    r = get(port, "/old")
    assert_status(r, 301, "redirect location /x code 301")
    assert r.header("Location") == "/x", "Location %r" % r.header("Location")
    r = get(port, "/pre/q?a=1")
    assert_status(r, 302, "redirect prefix (default code 302)")
    assert r.header("Location") == "https://a.example/pre/q?a=1", "Location %r" % r.header("Location")
    r = get(port, "/ret")
    assert_status(r, 200, "http-request return")
    assert r.body == b"ok" and (r.header("Content-Type") or "").startswith("text/plain"), \
        "return: %r" % r
    assert r.header("X-Server") is None, "http-request return reached the server"
    time.sleep(0.1)
    assert not be.requests, "denied/redirected/returned requests reached the server: %r" % be.requests
    r = get(port, "/other")
    assert_status(r, 200, "a request matching no rule")
    print("   deny 403, deny_status 429, redirect 301 /x, prefix 302, return 200 'ok'; none forwarded")
    stop(p)


def check_header_rules():
    be = HttpBackend("s1")
    fe = ["http-request set-header X-Set set-value",
          "http-request add-header X-Add added",
          "http-request del-header X-Del",
          "http-request replace-header X-Rep ^old-(.*)$ new-\\1",
          "http-response set-header X-Resp resp-value"]
    p, port = one_backend(be, frontend=fe)
    r = get(port, "/", ["X-Set: client", "X-Add: client", "X-Del: gone", "X-del: gone2",
                        "X-Rep: old-abc"])
    assert_status(r, 200, "GET with header rules")
    req = be.last()
    problems = []
    if req.header("X-Set") != ["set-value"]:
        problems.append("X-Set %r (expected ['set-value'])" % req.header("X-Set"))
    if req.header("X-Add") != ["client", "added"]:
        problems.append("X-Add %r (expected ['client', 'added'])" % req.header("X-Add"))
    if req.header("X-Del"):
        problems.append("X-Del %r (expected none)" % req.header("X-Del"))
    if req.header("X-Rep") != ["new-abc"]:
        problems.append("X-Rep %r (expected ['new-abc'])" % req.header("X-Rep"))
    if r.all("X-Resp") != ["resp-value"]:
        problems.append("response X-Resp %r (expected ['resp-value'])" % r.all("X-Resp"))
    assert not problems, "; ".join(problems) + "\nserver saw:\n" + req.head.decode("latin-1")
    print("   set/add/del/replace-header at the server, http-response set-header at the client")
    stop(p)


def check_acl_matching():
    """ACL fetches and operators, observed through conditional add-header (one server)."""
    be = HttpBackend("s1")
    fe = ["acl a_end path_end .jpg",
          "acl a_reg path_reg ^/re/[0-9]+$",
          "acl a_hbeg hdr_beg(host) -i img.",
          "acl a_dom hdr_dom(host) -i example.org",
          "acl a_param url_param(u) x1",
          "acl a_src src 127.0.0.0/8",
          "acl a_sub path_sub middle",
          "acl a_get method GET HEAD",
          "acl a_hdr hdr(x-k) -m sub needle",
          "acl a_cnt hdr_cnt(x-k) gt 1",
          "http-request add-header X-M end if a_end",
          "http-request add-header X-M reg if a_reg",
          "http-request add-header X-M hbeg if a_hbeg",
          "http-request add-header X-M dom if a_dom",
          "http-request add-header X-M param if a_param",
          "http-request add-header X-M sub if a_sub",
          "http-request add-header X-M hdr if a_hdr",
          "http-request add-header X-M cnt if a_cnt",
          "http-request add-header X-M not-get if !a_get",
          "http-request add-header X-M end-and-src if a_end a_src",
          "http-request add-header X-M end-or-reg if a_end || a_reg",
          "http-request add-header X-M anon if { path_beg /anon }"]
    p, port = one_backend(be, frontend=fe)
    cases = [(request("GET", "/x.jpg"), ["end", "end-and-src", "end-or-reg"]),
             (request("GET", "/re/123"), ["reg", "end-or-reg"]),
             (request("GET", "/re/12a"), []),
             (request("GET", "/", host="IMG.test"), ["hbeg"]),
             (request("GET", "/", host="www.example.org"), ["dom"]),
             (request("GET", "/", host="example.org.evil"), ["dom"]),  # dot-delimited word
             (request("GET", "/", host="notexample.org"), []),
             (request("GET", "/q?a=1&u=x1"), ["param"]),
             (request("GET", "/q?u=x12"), []),
             (request("GET", "/a/middle/b"), ["sub"]),
             (request("GET", "/", ["X-K: hayneedlestack"]), ["hdr"]),
             (request("GET", "/", ["X-K: a", "X-K: b"]), ["cnt"]),
             (request("POST", "/", body=b""), ["not-get"]),
             (request("GET", "/anon/1"), ["anon"])]
    problems = []
    for raw, want in capped(cases, problems):
        r = fetch(port, raw)
        line = raw.split(b"\r\n")[0].decode() + " " + raw.split(b"\r\n")[1].decode()
        if r.status != 200:
            problems.append("%s: status %d" % (line, r.status))
            continue
        got = be.last().header("X-M")
        if got != want:
            problems.append("%s: matched %s, expected %s" % (line, got, want))
    assert not problems, "ACL results differ:\n   " + "\n   ".join(problems)
    print("   %d requests: path_end/path_reg/hdr_beg/hdr_dom/url_param/src/path_sub/method/"
          "hdr -m sub/hdr_cnt, !, AND, ||, anonymous: as expected" % len(cases))
    stop(p)


def check_sample_rewrites():
    """Sample expressions in set-header, path/query rewrites, redirect scheme, response
    header rules."""
    be = HttpBackend("s1")
    fe = ["http-request set-header X-Src %[src]",
          "http-request set-header X-Path %[path]",
          "http-request set-header X-Host %[req.hdr(host),lower]",
          "http-request set-header X-Meth %[method]",
          "http-request set-header X-U %[url_param(u)]",
          "acl p_sp path_beg /sp/",
          "acl p_sch path_beg /sch",
          "http-request redirect scheme https if p_sch",
          "http-request set-query z=9 if p_sp",  # before set-path: rules see the new path
          "http-request set-path /new%[path] if p_sp",
          "http-response del-header X-Body-Len",
          "http-response add-header X-R1 one",
          "http-response replace-header X-Server ^s(.*)$ server-\\1"]
    p, port = one_backend(be, frontend=fe)
    problems = []
    r = fetch(port, request("POST", "/sp/a?u=v1&b=2", host="Test.LOCAL", body=b"xy"))
    req = be.last()
    want = {"X-Src": ["127.0.0.1"], "X-Path": ["/sp/a"], "X-Host": ["test.local"],
            "X-Meth": ["POST"], "X-U": ["v1"]}
    for k, v in want.items():
        if req.header(k) != v:
            problems.append("request %s: %r, expected %r" % (k, req.header(k), v))
    if req.target != "/new/sp/a?z=9":
        problems.append("set-path + set-query: the server saw target %r, expected '/new/sp/a?z=9'" % req.target)
    if r.header("X-Body-Len") is not None:
        problems.append("http-response del-header X-Body-Len: still there (%r)" % r.header("X-Body-Len"))
    if r.all("X-R1") != ["one"]:
        problems.append("http-response add-header X-R1: %r" % r.all("X-R1"))
    if r.header("X-Server") != "server-1":
        problems.append("http-response replace-header X-Server: %r, expected 'server-1'" % r.header("X-Server"))
    r = get(port, "/sch/x?q=1")
    if r.status != 302 or r.header("Location") != "https://test.local/sch/x?q=1":
        problems.append("redirect scheme https: %d Location %r, expected 302 "
                        "'https://test.local/sch/x?q=1'" % (r.status, r.header("Location")))
    assert not problems, "\n   ".join(problems)
    print("   %[src] %[path] %[req.hdr(host),lower] %[method] %[url_param(u)], set-path, set-query, "
          "redirect scheme, response del/add/replace-header")
    stop(p)


def check_forwardfor():
    be = HttpBackend("s1")
    p, port = one_backend(be, frontend=["option forwardfor"])
    assert_status(get(port, "/"), 200, "GET with option forwardfor")
    xff = be.last().header("X-Forwarded-For")
    assert xff == ["127.0.0.1"], "X-Forwarded-For at the server: %r" % xff
    assert_status(get(port, "/", ["X-Forwarded-For: 10.9.9.9"]), 200, "GET with a client X-Forwarded-For")
    xff = be.last().header("X-Forwarded-For")
    assert xff == ["10.9.9.9", "127.0.0.1"], "client X-Forwarded-For: 10.9.9.9, then the proxy's: " \
        "the server saw %r, expected ['10.9.9.9', '127.0.0.1'] (a field appended)" % xff
    stop(p)
    be2 = HttpBackend("s2")
    p2, port2 = one_backend(be2, frontend=["option forwardfor except 127.0.0.0/8"])
    assert_status(get(port2, "/"), 200, "GET with forwardfor except")
    xff2 = be2.last().header("X-Forwarded-For")
    assert xff2 == [], "option forwardfor except 127.0.0.0/8: X-Forwarded-For %r added" % xff2
    print("   X-Forwarded-For: 127.0.0.1 (appended after a client's); none with except 127.0.0.0/8")
    stop(p2)


# ---------------------------------------------------------------------------------------
# Load balancing.

def three_servers(balance):
    bes = [HttpBackend(n) for n in ("a", "b", "c")]
    p, port = start(backends={"be": ["balance %s" % balance] +
                              ["server %s %s" % (b.name, b.addr) for b in bes]})
    return bes, p, port


def check_balance_uri():
    bes, p, port = three_servers("uri")
    where = {}
    for rnd in range(3):
        for i in range(12):
            r = get(port, "/u/%d?q=%d" % (i, rnd))  # balance uri hashes the path only
            assert_status(r, 200, "/u/%d" % i)
            where.setdefault(i, set()).add(r.header("X-Server"))
    split = {i: s for i, s in where.items() if len(s) > 1}
    used = set().union(*where.values())
    print("   12 URIs x 3: %s" % {i: "".join(sorted(s)) for i, s in where.items()})
    assert not split, "balance uri: the same URI went to several servers: %s" % split
    assert len(used) >= 2, "balance uri: 12 URIs all went to %s" % used
    stop(p)


def check_balance_source():
    bes, p, port = three_servers("source")
    where = {}
    for rnd in range(3):
        for i in range(1, 13):
            src = "127.0.0.%d" % i
            r = get(port, "/s%d" % rnd, src=src)
            assert_status(r, 200, "from %s" % src)
            where.setdefault(src, set()).add(r.header("X-Server"))
    split = {s: v for s, v in where.items() if len(v) > 1}
    used = set().union(*where.values())
    print("   12 sources x 3: %s" % {s.split(".")[-1]: "".join(sorted(v)) for s, v in where.items()})
    assert not split, "balance source: one source address went to several servers: %s" % split
    assert len(used) >= 2, "balance source: 12 addresses all went to %s" % used
    stop(p)


# Server chosen for 24 keys by HAProxy 2.6 (servers a, b, c, weight 1; recorded): a migrated
# configuration keeps sending each key to the same server (caches, sessions).
HASH_MAPS = [
    ("uri", "", "abcabcabcacabcabcabcabca"),
    ("uri", "hash-type consistent", "bacaaabbbcbcccccacababac"),
    ("uri whole", "", "bcabcabccaaccbbbaaccaacc"),
    ("url_param u", "", "cabcabcabccabcabcabcabca"),
    ("hdr(x-user)", "", "cabcabcabccabcabcabcabca"),
    ("source", "", "cabcabcabcabcabcabcabcab"),
    ("source", "hash-type consistent", "bacabacaacbcccaaacaaabba"),
]


def check_hash_maps_as_haproxy():
    """Key i is /k/i?u=user<i>&z=<i> with X-User: user<i>, or source 127.0.0.<i+1>."""
    bes = [HttpBackend(n) for n in ("a", "b", "c")]
    problems = []
    for bal, hash_type, want in capped(HASH_MAPS, problems):
        lines = ["balance " + bal] + ([hash_type] if hash_type else []) + \
            ["server %s %s" % (b.name, b.addr) for b in bes]
        p, port = start(backends={"be": lines})
        got = ""
        for i in range(24):
            if bal == "source":
                r = get(port, "/x", src="127.0.0.%d" % (i + 1))
            else:
                r = get(port, "/k/%d?u=user%d&z=%d" % (i, i, i), ["X-User: user%d" % i])
            got += r.header("X-Server") or "-"
        if got != want:
            problems.append("balance %s %s: %s, HAProxy: %s" % (bal, hash_type, got, want))
        stop(p)
    assert not problems, "\n   ".join(problems)
    print("   %d hash configurations x 24 keys: the servers HAProxy picks" % len(HASH_MAPS))


def check_balance_leastconn():
    bes = [HttpBackend(n) for n in ("a", "b")]
    p, port = start(backends={"be": ["balance leastconn"] +
                              ["server %s %s" % (b.name, b.addr) for b in bes]})
    slow = {}
    t = threading.Thread(target=lambda: slow.setdefault("r", get(port, "/delay/1500", timeout=4)))
    t.start()
    h.wait_until(lambda: sum(len(b.requests) for b in bes) == 1, 3, "the slow request at a server")
    busy = [b.name for b in bes if b.requests][0]
    seq = [get(port, "/quick%d" % i, ["Connection: close"]).header("X-Server") for i in range(4)]
    t.join(5)
    print("   server %s busy with a slow request; 4 quick ones went to %s" % (busy, seq))
    assert busy not in seq, "balance leastconn: quick requests sent to the busy server %s: %s" % (busy, seq)
    assert slow.get("r") is not None and slow["r"].status == 200, "slow request: %r" % slow.get("r")
    stop(p)


# ---------------------------------------------------------------------------------------
# Statistics.

def master_cli(sock, cmd, timeout=IO_TIMEOUT):
    """One command on the master CLI socket; the answer up to the master's close. HAProxy's
    socket may refuse a connection right after "Loading success.": retried, bounded."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(sock)
            break
        except (ConnectionRefusedError, FileNotFoundError):
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    s.sendall(cmd.encode() + b"\n")
    s.shutdown(socket.SHUT_WR)
    out = bytearray()
    try:
        while time.monotonic() < deadline:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    finally:
        s.close()
    return out.decode("utf-8", "replace")


def stat_rows(text):
    lines = [l for l in text.splitlines() if l and not l.startswith("# worker")]
    assert lines and lines[0].startswith("# pxname,svname,"), "show stat answered:\n" + text[:500]
    names = lines[0][2:].split(",")
    return {(d["pxname"], d["svname"]): d
            for d in (dict(zip(names, r)) for r in csv.reader(lines[1:]))}


def check_httplog():
    """option httplog lines sent to a UDP syslog receiver: the fields that do not depend on
    timing or on counters (frontend, backend/server, status, termination state, request)."""
    be = HttpBackend("s1")
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    try:
        p, port = one_backend(be, global_lines=["log 127.0.0.1:%d local0" % u.getsockname()[1]],
                              defaults=["log global", "option httplog"])
        get(port, "/size/123?x=1")
        get(port, "/reset")
        c = Client(port)
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad : v\r\n\r\n")
        c.response()
        c.close()
        lines = []
        u.settimeout(IO_TIMEOUT)
        for _ in range(3):
            try:
                lines.append(u.recv(65536).decode("latin-1").rstrip("\n"))
            except socket.timeout:
                break
    finally:
        u.close()
    T = r"-?\d+/-?\d+/-?\d+/-?\d+/\d+"
    C = r"\d+/\d+/\d+/\d+/\d+ \d+/\d+"
    want = [r' fe be/s1 %s 200 \d+ - - ---- %s "GET /size/123\?x=1 HTTP/1.1"$' % (T, C),
            r' fe be/s1 %s 502 \d+ - - SH-- %s "GET /reset HTTP/1.1"$' % (T, C),
            r' fe fe/<NOSRV> -1/-1/-1/-1/\d+ 400 \d+ - - PR-- %s "<BADREQ>"$' % C]
    print("   " + "\n   ".join(lines))
    assert len(lines) == 3, "expected 3 log lines, got %d" % len(lines)
    problems = ["line %d: %r does not match %r" % (i + 1, l[l.find("]: ") + 3:], w)
                for i, (l, w) in enumerate(zip(lines, want)) if not re.search(w, l)]
    assert not problems, "\n   ".join(problems)
    stop(p)


def check_show_stat_denied():
    """http-request deny counts in the frontend's dreq and hrsp_4xx; nothing at the server."""
    be = HttpBackend("s1")
    port = h.free_port()
    p = h.Proxyd()
    sock = p.path("master.sock")
    p.extra_args = ["-S", sock]
    p.write_config(http_config(port, ["acl p_deny path /deny", "http-request deny if p_deny"],
                               backends={"be": ["server s1 %s" % be.addr]}))
    p.start()
    for path, code in (("/deny", 403), ("/deny", 403), ("/ok", 200)):
        assert_status(get(port, path), code, path)
    rows = stat_rows(master_cli(sock, "@1 show stat"))
    fe, sv = rows.get(("fe", "FRONTEND")), rows.get(("be", "s1"))
    assert fe and sv, "rows fe/FRONTEND and be/s1 expected: %s" % sorted(rows)
    vals = {"fe": {c: fe.get(c) for c in ("dreq", "hrsp_2xx", "hrsp_4xx", "req_tot")},
            "s1": {c: sv.get(c) for c in ("hrsp_4xx", "req_tot", "stot")}}
    print("   %s" % vals)
    assert (fe["dreq"], fe["hrsp_4xx"], fe["hrsp_2xx"], fe["req_tot"]) == ("2", "2", "1", "3"), \
        "frontend dreq/hrsp_4xx/hrsp_2xx/req_tot: %s, expected 2/2/1/3" % vals["fe"]
    assert (sv["hrsp_4xx"], sv["req_tot"]) == ("0", "1"), "server: %s, expected no 4xx, 1 request" % vals["s1"]
    stop(p)


def check_show_stat_after_502():
    be = HttpBackend("s1")
    port = h.free_port()
    p = h.Proxyd(extra_args=())
    sock = p.path("master.sock")
    p.extra_args = ["-S", sock]
    p.write_config(http_config(port, backends={"be": ["server s1 %s" % be.addr]}))
    p.start()
    assert_status(get(port, "/ok"), 200, "first request")
    assert_status(get(port, "/reset"), 502, "server reset")
    out = master_cli(sock, "@1 show stat")
    rows = stat_rows(out)
    fe, bk, sv = rows.get(("fe", "FRONTEND")), rows.get(("be", "BACKEND")), rows.get(("be", "s1"))
    assert fe and bk and sv, "rows fe/FRONTEND, be/BACKEND, be/s1 expected:\n" + out
    vals = {k: {c: r.get(c) for c in ("hrsp_2xx", "hrsp_5xx", "eresp", "req_tot")}
            for k, r in (("fe", fe), ("be", bk), ("s1", sv))}
    print("   %s; server saw %d connection(s), %r" % (vals, be.connections, be.requests))
    assert fe["hrsp_5xx"] == "1" and fe["hrsp_2xx"] == "1", "frontend hrsp_2xx/hrsp_5xx: %s" % vals["fe"]
    assert bk["hrsp_5xx"] == "1", "backend hrsp_5xx: %s" % vals["be"]
    assert (fe["req_tot"], bk["req_tot"], sv["req_tot"]) == ("2", "2", "1"), "req_tot fe/be/s1: " \
        "%s/%s/%s, expected 2/2/1 (HAProxy counts at the server the request that got a response)" \
        % (fe["req_tot"], bk["req_tot"], sv["req_tot"])
    assert int(bk["eresp"] or 0) >= 1 and int(sv["eresp"] or 0) >= 1, "eresp (backend, server) " \
        "should count the reset response: %s" % vals
    stop(p)


def reporting(fn):
    """fn, whose failure message also tells what each origin server of the check received:
    the symptom the proxy's developer needs (was the request forwarded? twice? its body?)."""
    def run():
        n = len(http_backend.ALL)
        try:
            fn()
        except AssertionError as e:
            seen = [b.summary() for b in http_backend.ALL[n:]]
            if not seen:
                raise
            raise AssertionError("%s\n   [%s]" % (e, "; ".join(seen))) from None
    return run


def main():
    checks = [
        ("simple GET proxied intact", check_simple_get),
        ("client keep-alive: 5 requests on one connection", check_client_keepalive),
        ("server reuse: http-reuse always", check_server_reuse_always),
        ("server reuse: http-reuse safe, first requests", check_server_reuse_safe),
        ("server reuse: never/safe/aggressive/always", check_server_reuse_modes),
        ("client abort mid-response, then clean reuse", check_client_abort_then_reuse),
        ("request sent byte by byte", check_byte_by_byte_request),
        ("client half-close after the request", check_client_half_close),
        ("20 concurrent keep-alive clients on 2 workers, no cross-talk", check_concurrent_keepalive_clients),
        ("option http-server-close: one server connection per request", check_http_server_close),
        ("option httpclose: Connection: close, then closed", check_httpclose),
        ("HTTP/1.0 client without keep-alive is closed", check_http10_close),
        ("HTTP/1.0 client with Connection: keep-alive is kept", check_http10_keepalive),
        ("request Connection: close -> answered, then closed", check_client_connection_close),
        ("pipelined requests answered in order", check_pipelining),
        ("server closes an idle connection: next request served", check_server_idle_close),
        ("timeout http-keep-alive closes an idle client", check_keepalive_timeout),
        ("roundrobin per request on a keep-alive connection", check_roundrobin_per_request),
        ("frontend + backend connection options combine", check_connection_mode_combinations),
        ("chunked request body forwarded intact", check_chunked_request),
        ("chunked request trailers forwarded", check_chunked_trailers),
        ("chunked response forwarded intact", check_chunked_response),
        ("close-delimited response forwarded intact", check_close_delimited_response),
        ("interim 103 Early Hints relayed", check_early_hints),
        ("two Set-Cookie response fields kept", check_response_fields_preserved),
        ("Content-Length 1 MiB both ways", check_content_length_1mib),
        ("Expect: 100-continue", check_expect_100_continue),
        ("HEAD / 204 / 304 then another request", check_head_204_304_keepalive),
        ("WebSocket upgrade: 101 then bytes both ways", check_websocket_upgrade),
        ("timeout tunnel closes an idle upgraded connection", check_tunnel_timeout),
        ("malformed: space before colon -> 400", check_space_before_colon),
        ("malformed: bare LF (per target)", check_bare_lf),
        ("malformed: obs-fold (per target)", check_obs_fold),
        ("malformed: Content-Length + Transfer-Encoding (per target)", check_cl_and_te),
        ("malformed: two different Content-Length -> 400", check_two_content_lengths),
        ("malformed: invalid chunk size -> 400", check_invalid_chunk_size),
        ("malformed: request line > tune.bufsize (per target)", check_request_line_too_long),
        ("malformed: head of 15.5 KB / 17 KB (per target)", check_large_head),
        ("malformed: too many headers (per target)", check_too_many_headers),
        ("malformed: invalid method character -> 400", check_invalid_method),
        ("malformed: bad version -> 400 / HTTP/2.0 (per target)", check_bad_version),
        ("malformed: HTTP/1.1 without Host (per target)", check_missing_host),
        ("request shapes: 18 cases (per target)", check_request_table),
        ("timeout http-request -> 408", check_http_request_timeout),
        ("timeout http-request, nothing sent -> 408", check_silent_client_408),
        ("timeout server -> 504", check_server_timeout_504),
        ("server down -> 503 after retries", check_server_down_503),
        ("retries wait ~1 s each (turn-around)", check_retry_turnaround),
        ("server stalls mid-body: cut at timeout server", check_server_stall_mid_body),
        ("server reset -> 502; mid-body reset cuts the body", check_server_reset_502),
        ("invalid server response -> 502", check_invalid_response_502),
        ("server response shapes: 14 cases (per target)", check_response_table),
        ("server maxconn 1: second request queued then served", check_maxconn_queue),
        ("timeout queue -> 503", check_queue_timeout_503),
        ("error pages as HAProxy's: 400/403/408/429/502/503/504", check_error_page_format),
        ("errorfile 503/403 replace the pages; 400 (per target)", check_errorfile),
        ("routing: path_beg, hdr(host), method, default_backend", check_routing),
        ("keep-alive across backends, then a malformed request", check_keepalive_across_backends),
        ("http-request deny/deny_status/redirect/return", check_request_rules),
        ("set/add/del/replace-header, http-response set-header", check_header_rules),
        ("ACL fetches and operators", check_acl_matching),
        ("sample expressions and rewrites", check_sample_rewrites),
        ("option forwardfor [except]", check_forwardfor),
        ("balance uri: same URI, same server", check_balance_uri),
        ("balance source: same address, same server", check_balance_source),
        ("balance leastconn avoids the busy server", check_balance_leastconn),
        ("hash balancing picks HAProxy's servers (uri, url_param, hdr, source, consistent)",
         check_hash_maps_as_haproxy),
        ("show stat counts the 502 (hrsp_5xx, eresp)", check_show_stat_after_502),
        ("show stat counts denied requests (dreq, hrsp_4xx)", check_show_stat_denied),
        ("option httplog: 200, 502 (SH--), 400 (PR--, <BADREQ>)", check_httplog),
    ]
    checks = [(name, reporting(fn)) for name, fn in checks]
    only = os.environ.get("HTTP_TEST_ONLY")  # a substring of check names, to run a few
    if only:
        checks = [c for c in checks if only.lower() in c[0].lower()]
    h.run_checks("test_http [%s]" % TARGET, checks)


if __name__ == "__main__":
    main()
