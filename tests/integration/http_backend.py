"""A threaded raw-socket HTTP/1.1 origin server for the `mode http` integration tests
(Python 3 standard library only).

HttpBackend is a harness.Backend (so it is closed by run_checks like the others) whose
connections speak HTTP/1.1 with keep-alive. The parser is lenient on purpose (bare LF lines
are accepted): the server must see whatever the proxy forwards, so that a test can tell a
request the proxy should have refused from one it did refuse. Every request is recorded
(HttpBackend.requests: Request objects, in arrival order, with the raw head and the body).

What the server answers depends on the request path (first segment), so a test controls the
origin through the URL it sends:

    /<anything else>    200, body = the raw request head received (echo)
    /size/N             200, N bytes of pattern(N), Content-Length
    /chunked/N[?chunk=K]  200, N bytes of pattern(N), Transfer-Encoding: chunked, K-byte chunks
    /close/N            200, N bytes, no Content-Length: the body ends when the server closes
    /delay/MS           waits MS milliseconds, then the echo answer (counted in busy/max_busy)
    /hang               reads the request, never answers (until the peer closes)
    /stall              sends the head (Content-Length: 100) and 3 bytes, then nothing more
    /reset              reads the request, resets the connection (RST) without sending a byte
    /reset-mid          sends the head (Content-Length: 1000) and 100 bytes, then resets
    /status/N           status N; 204, 304 and 1xx have no body, others a short text body
    /idle-close/MS      the echo answer (keep-alive), then the server closes the connection if
                        no next request arrives within MS milliseconds
    /bad-response       an invalid response (a header line without a colon)
    /early-hints        an interim 103 Early Hints, then the echo answer
    /cookies            the echo answer with two Set-Cookie fields
    /raw/KEY            the bytes HttpBackend.raw[KEY] (set by the test) as the whole answer,
                        then the server closes the connection
    /ws                 with "Upgrade": 101 Switching Protocols (with Sec-WebSocket-Accept
                        when the request has a Sec-WebSocket-Key), then echoes bytes until EOF

HEAD gets the same head as GET, without the body. Every final response carries
`X-Server: <name>`, `X-Conn: <connection number, 1-based, per server>` and
`X-Req: <request number on that connection, 1-based>`; when the request had a body,
`X-Body-Len` and `X-Body-Sha256` describe it. A request with `Expect: 100-continue` gets an
interim `100 Continue` before its body is read. The server closes after its response when the
request asked for it (`Connection: close`, or HTTP/1.0 without `Connection: keep-alive`) and
then says `Connection: close`.
"""

import base64
import hashlib
import socket
import struct
import threading
import time

import harness as h


def pattern(n):
    """n deterministic bytes (a repeated counter), so truncation or reordering shows."""
    unit = b"".join(b"%07d\n" % i for i in range(8192))  # 64 KiB
    out = unit * (n // len(unit)) + unit[:n % len(unit)]
    return out


class Request:
    def __init__(self, conn_id, index, head, method, target, version, headers):
        self.conn_id = conn_id      # 1-based connection number on this server
        self.index = index          # 1-based request number on that connection
        self.head = head            # raw bytes of the request head, up to the empty line
        self.method = method
        self.target = target
        self.path = target.split("?", 1)[0]
        self.query = dict(p.partition("=")[::2] for p in target.split("?", 1)[1].split("&")) \
            if "?" in target else {}
        self.version = version
        self.headers = headers      # [(name, value)] in order, names as received
        self.body = b""             # de-chunked payload
        self.chunked = False
        self.trailers = []          # [(name, value)] after a chunked body
        self.complete = False       # the body (if any) was read in full
        self.error = None           # why the body could not be read (EOF, bad chunk)
        self.time = time.monotonic()

    def header(self, name):
        """Values of the header `name` (case-insensitive), in order."""
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def __repr__(self):
        return "Request(conn %d #%d %s %s %s)" % (self.conn_id, self.index, self.method,
                                                 self.target, self.version)


class _Reader:
    """Buffered reads on a socket; every byte received is also appended to `rec`."""

    def __init__(self, conn, rec):
        self.conn, self.rec, self.buf = conn, rec, bytearray()

    def _fill(self):
        d = self.conn.recv(65536)
        if not d:
            raise EOFError
        self.rec += d
        self.buf += d

    def head(self):
        """The bytes up to and including the first empty line (CRLF CRLF or LF LF)."""
        while True:
            for sep in (b"\r\n\r\n", b"\n\n"):
                i = self.buf.find(sep)
                if i >= 0 and (sep == b"\r\n\r\n" or self.buf.find(b"\r\n\r\n") < 0
                               or i < self.buf.find(b"\r\n\r\n")):
                    out = bytes(self.buf[:i + len(sep)])
                    del self.buf[:i + len(sep)]
                    return out
            if len(self.buf) > (1 << 20):
                raise ValueError("request head over 1 MiB")
            self._fill()

    def line(self):
        while b"\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\n")
        out = bytes(self.buf[:i + 1])
        del self.buf[:i + 1]
        return out

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def take(self):
        out = bytes(self.buf)
        self.buf.clear()
        return out


def parse_head(head):
    """(method, target, version, [(name, value)]) of a raw request head (lenient)."""
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    parts = lines[0].decode("latin-1").split(" ")
    method, target, version = (parts + ["", "", ""])[:3]
    headers = []
    for l in lines[1:]:
        if not l:
            continue
        n, _, v = l.decode("latin-1").partition(":")
        headers.append((n.strip(), v.strip()))
    return method, target, version, headers


def _rst(conn):
    """Closes with a RST (SO_LINGER 0)."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


REASONS = {100: "Continue", 101: "Switching Protocols", 200: "OK", 204: "No Content",
           301: "Moved Permanently", 302: "Found", 304: "Not Modified", 400: "Bad Request",
           403: "Forbidden", 404: "Not Found", 500: "Internal Server Error",
           503: "Service Unavailable"}


ALL = []  # every HttpBackend created, in order (a failing check reports what each one saw)


class HttpBackend(h.Backend):
    def __init__(self, name="http"):
        ALL.append(self)
        self.requests = []
        self.upgraded = []      # bytes echoed on each upgraded connection
        self._ids = 0
        self._id_lock = threading.Lock()
        self._idle_close = {}   # conn id -> seconds: close if idle that long (/idle-close)
        self.raw = {}           # key -> bytes sent as is for /raw/<key>
        super().__init__(self._serve, name)

    # -- inspection -----------------------------------------------------------------------
    def wait_requests(self, n, timeout=5):
        """Waits until the heads of at least n requests were received; returns the list."""
        return h.wait_until(lambda: len(self.requests) >= n and self.requests, timeout,
                            "%d request(s) at server %s (got %d)" % (n, self.name, len(self.requests)))

    def summary(self):
        """One line: connections, and each request (method, target, body length)."""
        return "server %s: %d connection(s) (bytes received: %s), requests %s" % (
            self.name, self.connections, [len(x) for x in self.received[:10]],
            [("conn %d #%d %s %s%s%s" % (r.conn_id, r.index, r.method, r.target[:60],
                                         " body %d" % len(r.body) if r.body else "",
                                         "" if r.complete else " (body not received: %s)"
                                         % (r.error or "waiting")))
             for r in self.requests[:10]] + (["..."] if len(self.requests) > 10 else []))

    def last(self):
        assert self.requests, "server %s received no request" % self.name
        return self.requests[-1]

    # -- serving --------------------------------------------------------------------------
    def _serve(self, conn, rec):
        with self._id_lock:
            self._ids += 1
            conn_id = self._ids
        r = _Reader(conn, rec)
        index = 0
        while True:
            idle = self._idle_close.pop(conn_id, None)
            if idle is not None and not r.buf:
                conn.settimeout(idle)
                try:
                    r._fill()
                except (socket.timeout, EOFError):
                    return  # idle too long: close (Backend._run closes the socket)
                conn.settimeout(30)
            try:
                head = r.head()
            except EOFError:
                return
            index += 1
            method, target, version, headers = parse_head(head)
            req = Request(conn_id, index, head, method, target, version, headers)
            te = ",".join(req.header("Transfer-Encoding")).lower()
            cl = req.header("Content-Length")
            if "100-continue" in ",".join(req.header("Expect")).lower() and version == "HTTP/1.1":
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.requests.append(req)  # visible from its head on; .complete once the body is in
            try:
                if "chunked" in te:
                    req.chunked = True
                    req.body = self._read_chunked(r, req)
                elif cl:
                    req.body = r.exact(int(cl[0]))
            except (EOFError, ValueError) as e:
                req.error = "body: %s" % (type(e).__name__,)
                return
            req.complete = True
            conn_tokens = ",".join(req.header("Connection")).lower()
            close = "close" in conn_tokens or (version == "HTTP/1.0" and "keep-alive" not in conn_tokens)
            if not self._respond(conn, r, req, close):
                return
            if close:
                conn.shutdown(socket.SHUT_WR)
                h._drain(conn, rec)
                return

    @staticmethod
    def _read_chunked(r, req):
        body = bytearray()
        while True:
            line = r.line()
            size = int(line.split(b";")[0].strip() or b"x", 16)
            if size == 0:
                while True:  # trailers, up to the empty line
                    t = r.line().strip()
                    if not t:
                        return bytes(body)
                    n, _, v = t.decode("latin-1").partition(":")
                    req.trailers.append((n.strip(), v.strip()))
            body += r.exact(size)
            r.line()  # the CRLF after the data

    def _head(self, req, status, headers, close):
        out = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status"))]
        out += ["X-Server: %s" % self.name, "X-Conn: %d" % req.conn_id, "X-Req: %d" % req.index]
        if req.body or req.chunked or req.header("Content-Length"):
            out += ["X-Body-Len: %d" % len(req.body),
                    "X-Body-Sha256: %s" % hashlib.sha256(req.body).hexdigest()]
        out += headers
        if close:
            out.append("Connection: close")
        return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")

    def _send(self, conn, req, status, body, close, extra=()):
        head = self._head(req, status, ["Content-Length: %d" % len(body)] + list(extra), close)
        conn.sendall(head + (b"" if req.method == "HEAD" else body))

    def _respond(self, conn, r, req, close):
        """Sends the answer; False when the connection must end now (no keep-alive)."""
        seg = req.path.strip("/").split("/")
        kind = seg[0]
        arg = seg[1] if len(seg) > 1 else ""
        if kind == "size":
            self._send(conn, req, 200, pattern(int(arg)), close)
        elif kind == "chunked":
            n, k = int(arg), int(req.query.get("chunk", "1000"))
            data = pattern(n)
            conn.sendall(self._head(req, 200, ["Transfer-Encoding: chunked"], close))
            if req.method != "HEAD":
                for off in range(0, n, k):
                    piece = data[off:off + k]
                    conn.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
                conn.sendall(b"0\r\n\r\n")
        elif kind == "close":
            conn.sendall(self._head(req, 200, [], True))
            if req.method != "HEAD":
                conn.sendall(pattern(int(arg)))
            conn.shutdown(socket.SHUT_WR)
            h._drain(conn)
            return False
        elif kind == "delay":
            self.busy_enter()
            try:
                time.sleep(int(arg) / 1000.0)
            finally:
                self.busy_leave()
            self._send(conn, req, 200, req.head, close)
        elif kind == "hang":
            h._drain(conn)
            return False
        elif kind == "stall":
            conn.sendall(self._head(req, 200, ["Content-Length: 100"], False) + b"abc")
            h._drain(conn)
            return False
        elif kind == "reset":
            _rst(conn)
            return False
        elif kind == "reset-mid":
            conn.sendall(self._head(req, 200, ["Content-Length: 1000"], False) + pattern(100))
            time.sleep(0.05)
            _rst(conn)
            return False
        elif kind == "status":
            code = int(arg)
            if code in (204, 304) or code < 200:
                conn.sendall(self._head(req, code, [], close))
            else:
                self._send(conn, req, code, b"status %d\n" % code, close)
        elif kind == "idle-close":
            self._send(conn, req, 200, req.head, close)
            self._idle_close[req.conn_id] = int(arg) / 1000.0
        elif kind == "bad-response":
            conn.sendall(b"HTTP/1.1 200 OK\r\nBad Header Line\r\nContent-Length: 2\r\n\r\nok")
        elif kind == "early-hints":
            conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
            self._send(conn, req, 200, req.head, close)
        elif kind == "raw":
            conn.sendall(self.raw[arg])
            time.sleep(0.05)
            conn.shutdown(socket.SHUT_WR)
            h._drain(conn)
            return False
        elif kind == "cookies":
            self._send(conn, req, 200, req.head, close, ["Set-Cookie: a=1", "Set-Cookie: b=2"])
        elif kind == "ws" and req.header("Upgrade"):
            accept = b""
            key = req.header("Sec-WebSocket-Key")
            if key:  # RFC 6455 §4.2.2; HAProxy 2.6 answers 502 to a 101 without it
                digest = hashlib.sha1(key[0].encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
                accept = b"Sec-WebSocket-Accept: " + base64.b64encode(digest) + b"\r\n"
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nX-Server: %s\r\n"
                         b"Connection: Upgrade\r\nUpgrade: %s\r\n%s\r\n"
                         % (self.name.encode(), req.header("Upgrade")[0].encode("latin-1"), accept))
            echoed = bytearray()
            self.upgraded.append(echoed)
            pending = r.take()
            if pending:
                echoed += pending
                conn.sendall(pending)
            while True:
                d = conn.recv(65536)
                if not d:
                    break
                echoed += d
                conn.sendall(d)
            conn.shutdown(socket.SHUT_WR)
            return False
        else:
            self._send(conn, req, 200, req.head, close)
        return True
