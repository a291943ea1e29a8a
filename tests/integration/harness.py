"""Fixture library for the proxyd integration tests (Python 3 standard library only).

A test script imports this module, builds checks as plain functions and hands them to
run_checks(). The harness:
- makes the test process a child subreaper (PR_SET_CHILD_SUBREAPER), so workers orphaned by
  a dying master are re-parented to us and can still be found and killed by pid;
- hands out free ports, each held by a UDP socket bound on the same number for the whole
  run (nginx-tests' port()), so tests running in parallel do not pick the same one;
- runs loopback backends in threads (echo, sink, name, line, half-close);
- starts proxyd in a temp dir (Proxyd), follows its log and its workers, and stops it:
  SIGTERM, bounded wait, SIGKILL by pid, then kills by pid whatever it started that is
  still alive, and fails the check if anything survived. Nothing is ever killed by name.

Every wait is bounded. Run a script directly:
    PROXYD_BIN=/work/main/build/proxyd python3 tests/integration/test_reload.py
"""

import atexit
import ctypes
import hashlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PROXYD_BIN = os.environ.get("PROXYD_BIN") or os.path.join(REPO, "build", "proxyd")

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

# ---------------------------------------------------------------------------------------
# Child subreaper: orphans of a dying master come to us, not to init.

PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)


def _become_subreaper():
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "prctl(PR_SET_CHILD_SUBREAPER): " + os.strerror(e))


_become_subreaper()


class Skip(Exception):
    """Raised by a check that cannot run here (not root, no IPv6...)."""


# ---------------------------------------------------------------------------------------
# Bounded waiting.

def wait_until(pred, timeout, what, interval=0.05):
    """Polls pred() until it returns a true value (which is returned); fails the check
    with `what` once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


# ---------------------------------------------------------------------------------------
# Processes: tracked by (pid, start time) so a recycled pid is never killed.

_popens = {}      # pid -> subprocess.Popen (reaped through Popen, never os.waitpid)
_tracked = {}     # pid -> start time (clock ticks since boot, /proc/<pid>/stat field 22)
_reaped = {}      # pid -> wait status of orphans we reaped ourselves
_lock = threading.Lock()


def _stat_fields(pid):
    """Fields of /proc/<pid>/stat after the command name (index 0 = state), or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode("ascii", "replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return None
    return data[data.rindex(")") + 2:].split()


def proc_starttime(pid):
    f = _stat_fields(pid)
    return int(f[19]) if f else None


def proc_ppid(pid):
    f = _stat_fields(pid)
    return int(f[1]) if f else None


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode("utf-8", "replace") for a in f.read().split(b"\0")[:-1]]
    except OSError:
        return None


def proc_status(pid):
    """/proc/<pid>/status as {key: value-string}."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition(":")
            out[k] = v.strip()
    return out


def proc_status_lines(pid, keys):
    with open("/proc/%d/status" % pid) as f:
        return [l.rstrip("\n") for l in f if l.split(":")[0] in keys]


def proc_environ(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        return [e.decode("utf-8", "replace") for e in f.read().split(b"\0") if e]


def track(pid):
    """Remembers pid as started by this test, to be killed by pid at cleanup."""
    st = proc_starttime(pid)
    if st is None:
        return
    with _lock:
        _tracked.setdefault(pid, st)


def _try_reap(pid):
    if pid in _popens:
        _popens[pid].poll()
        return
    try:
        r, status = os.waitpid(pid, os.WNOHANG)
        if r == pid:
            _reaped[pid] = status
    except ChildProcessError:
        pass


def is_alive(pid):
    """True while the tracked process pid (same start time) exists and is not a zombie.
    Zombies re-parented to us are reaped on the way."""
    f = _stat_fields(pid)
    if f is None:
        return False
    st = _tracked.get(pid)
    if st is not None and int(f[19]) != st:
        return False  # the pid was recycled: our process is gone
    if f[0] in ("Z", "X"):
        _try_reap(pid)
        return False
    return True


def kill_pid(pid, sig=signal.SIGKILL):
    """Sends sig to pid if it is still the process we tracked. Never by name."""
    if not is_alive(pid):
        return False
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def our_children():
    """Pids whose parent is this test process (Popen children and re-parented orphans)."""
    me = os.getpid()
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            pid = int(d)
            if proc_ppid(pid) == me:
                out.append(pid)
    return out


def children_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def wait_gone(pids, timeout, what="processes to exit"):
    wait_until(lambda: not [p for p in pids if is_alive(p)], timeout,
               "%s (still alive: %s)" % (what, [p for p in pids if is_alive(p)]))


def wait_reaped(pid, timeout):
    """Waits for an orphan re-parented to us (e.g. a -D master) and returns its exit code
    (128+sig if killed by a signal, as a shell would say), or None on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid in _reaped:
            break
        try:
            r, status = os.waitpid(pid, os.WNOHANG)
            if r == pid:
                _reaped[pid] = status
                break
        except ChildProcessError:
            if not is_alive(pid):
                return None  # not our child and gone: status unknown
        time.sleep(0.05)
    if pid not in _reaped:
        return None
    status = _reaped[pid]
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def kill_everything():
    """Kills by pid every process the harness started or adopted; returns the list of
    pids that were still alive."""
    survivors = []
    for pid in list(_tracked):
        if is_alive(pid):
            survivors.append(pid)
            kill_pid(pid, signal.SIGKILL)
    for pid in our_children():
        if pid not in _tracked and is_alive(pid):
            survivors.append(pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and [p for p in survivors if is_alive(p)]:
        time.sleep(0.05)
    for p in list(_popens.values()):
        if p.poll() is None:
            try:
                p.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
    return survivors


def _atexit_cleanup():
    left = kill_everything()
    if left:
        print("harness: killed leftover processes at exit: %s" % left, flush=True)


atexit.register(_atexit_cleanup)


def _on_term(signum, frame):
    # meson's timeout (SIGTERM) or Ctrl-C: unwind so atexit kills what we started.
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _on_term)
signal.signal(signal.SIGINT, _on_term)

# ---------------------------------------------------------------------------------------
# Free ports, held by a UDP socket on the same number while the test runs.

_held_ports = {}  # port -> UDP socket


def _tcp_bindable(port, v6=True):
    fams = [(socket.AF_INET, "0.0.0.0")]
    if v6 and has_ipv6():
        fams.append((socket.AF_INET6, "::"))
    for fam, host in fams:
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((host, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def _hold(port):
    if port in _held_ports:
        return False
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("0.0.0.0", port))
    except OSError:
        u.close()
        return False
    if not _tcp_bindable(port):
        u.close()
        return False
    _held_ports[port] = u
    return True


def free_port(lo=10000, hi=30000):
    """A TCP port free now and reserved (UDP hold) for this process. The range stays below
    the kernel's ephemeral range so backends' and clients' ports never collide with it."""
    for _ in range(500):
        port = random.randint(lo, hi)
        if _hold(port):
            return port
    raise AssertionError("no free port found in %d..%d" % (lo, hi))


def free_privileged_port():
    return free_port(600, 1000)


_ipv6 = None


def has_ipv6():
    global _ipv6
    if _ipv6 is None:
        try:
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s.bind(("::1", 0))
            s.close()
            _ipv6 = True
        except OSError:
            _ipv6 = False
    return _ipv6


# ---------------------------------------------------------------------------------------
# Backends: threaded TCP servers on 127.0.0.1 (kernel-chosen ports).

class Backend:
    """A threaded TCP server; `handler(conn, rec)` runs per connection in its own thread.
    `rec` is a per-connection bytearray (what the server received is appended to it)."""

    def __init__(self, handler, name="backend"):
        self.name = name
        self._handler = handler
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.received = []     # one bytearray per connection, in accept order
        self.connections = 0
        self.active = 0
        self.max_active = 0
        self.busy = 0          # requests in service (see busy_enter)
        self.max_busy = 0
        self.errors = []
        self._conns = []
        self._stop = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, name="accept-" + name, daemon=True)
        self._thread.start()
        _backends.append(self)

    def _accept_loop(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            conn.settimeout(30)
            rec = bytearray()
            with self._lock:
                self.connections += 1
                self.active += 1
                self.max_active = max(self.max_active, self.active)
                self.received.append(rec)
                self._conns.append(conn)
            threading.Thread(target=self._run, args=(conn, rec), daemon=True).start()

    def _run(self, conn, rec):
        try:
            self._handler(conn, rec)
        except Exception as e:  # a test inspects .errors when it cares
            self.errors.append(repr(e))
        finally:
            with self._lock:
                self.active -= 1
            try:
                conn.close()
            except OSError:
                pass

    def busy_enter(self):
        """Marks a request as in service (line_backend: from its line to its reply)."""
        with self._lock:
            self.busy += 1
            self.max_busy = max(self.max_busy, self.busy)

    def busy_leave(self):
        with self._lock:
            self.busy -= 1

    def close(self):
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.close()
            except OSError:
                pass


_backends = []


def _drain(conn, rec=None):
    while True:
        d = conn.recv(65536)
        if not d:
            return
        if rec is not None:
            rec += d


def echo_backend(name="echo"):
    """Echoes every byte; on EOF from the client, half-closes and ends."""
    def h(conn, rec):
        while True:
            d = conn.recv(65536)
            if not d:
                break
            rec += d
            conn.sendall(d)
        conn.shutdown(socket.SHUT_WR)
    return Backend(h, name)


def sink_backend(name="sink"):
    """Records everything received per connection (Backend.received), replies nothing."""
    return Backend(lambda conn, rec: _drain(conn, rec), name)


def name_backend(name):
    """Sends b'<name>\\n' on accept, half-closes, then drains until the client's EOF."""
    def h(conn, rec):
        conn.sendall(name.encode() + b"\n")
        conn.shutdown(socket.SHUT_WR)
        _drain(conn, rec)
    return Backend(h, name)


def halfclose_backend(name="halfclose"):
    """Reads until EOF, then replies b'<name> got <n> bytes sha256 <hex>\\n' and closes."""
    def h(conn, rec):
        _drain(conn, rec)
        conn.sendall(halfclose_reply(name, bytes(rec)))
    return Backend(h, name)


def halfclose_reply(name, data):
    return ("%s got %d bytes sha256 %s\n" % (name, len(data), hashlib.sha256(data).hexdigest())).encode()


def line_backend(name, delay=0.0):
    """Reads one line, waits `delay` s, replies b'<name> <line>', half-closes, drains.
    Backend.max_busy counts requests in service at once (line received .. reply about to
    be sent): unlike connection counts, it does not depend on when the server thread sees
    the proxy's close, so it measures what a server maxconn promises."""
    def h(conn, rec):
        while b"\n" not in rec:
            d = conn.recv(4096)
            if not d:
                return
            rec += d
        b.busy_enter()
        try:
            if delay:
                time.sleep(delay)
        finally:
            b.busy_leave()
        conn.sendall(name.encode() + b" " + bytes(rec[:rec.index(b"\n") + 1]))
        conn.shutdown(socket.SHUT_WR)
        _drain(conn, rec)
    b = Backend(h, name)
    return b


# ---------------------------------------------------------------------------------------
# Clients.

def connect(port, host="127.0.0.1", timeout=5.0):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    return s


def recv_all(s, limit=64 << 20):
    """Reads until EOF."""
    out = bytearray()
    while True:
        d = s.recv(65536)
        if not d:
            return bytes(out)
        out += d
        if len(out) > limit:
            raise AssertionError("peer sent more than %d bytes" % limit)


def recv_exact(s, n):
    out = bytearray()
    while len(out) < n:
        d = s.recv(n - len(out))
        if not d:
            raise AssertionError("EOF after %d of %d bytes" % (len(out), n))
        out += d
    return bytes(out)


def exchange(port, payload, host="127.0.0.1", timeout=5.0):
    """Connects, sends payload, half-closes, returns everything read until EOF."""
    s = connect(port, host, timeout)
    try:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        return recv_all(s)
    finally:
        s.close()


def banner(port, host="127.0.0.1", timeout=5.0):
    """Connects and reads until the server closes (name backends), sending nothing."""
    s = connect(port, host, timeout)
    try:
        return recv_all(s)
    finally:
        s.close()


def assert_echo(port, host="127.0.0.1", payload=None):
    payload = payload or ("hello %d\n" % random.randint(0, 1 << 30)).encode()
    got = exchange(port, payload, host)
    assert got == payload, "echo through %s:%d: sent %r, got %r" % (host, port, payload, got)


def wait_refused(port, timeout, host="127.0.0.1"):
    """Waits until a connection to host:port is refused."""
    def refused():
        try:
            s = connect(port, host, timeout=2)
        except ConnectionRefusedError:
            return True
        except OSError:
            return False
        s.close()
        return False
    wait_until(refused, timeout, "connections to %s:%d to be refused" % (host, port), 0.2)


# ---------------------------------------------------------------------------------------
# Configuration text.

DEFAULTS = """defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout queue 10s
"""


def make_config(proxies, nbproc=1, global_lines=(), defaults=DEFAULTS):
    """global (+ nbproc and extra lines) + defaults + the given proxy sections."""
    g = "global\n    nbproc %d\n" % nbproc + "".join("    %s\n" % l for l in global_lines)
    return g + "\n" + defaults + "\n" + proxies


def tcp_proxy(name, bind, servers, extra=()):
    """A frontend `name` bound to `bind` and its backend `name_be` with `servers`, a list of
    'server ...' argument strings (e.g. 's1 127.0.0.1:8000 weight 2')."""
    out = "frontend %s\n    bind %s\n    default_backend %s_be\n" % (name, bind, name)
    out += "".join("    %s\n" % e for e in extra)
    out += "\nbackend %s_be\n" % name
    out += "".join("    server %s\n" % s for s in servers)
    return out + "\n"


def line_of(text, needle):
    """1-based number of the first line of `text` containing `needle`."""
    for i, l in enumerate(text.splitlines(), 1):
        if needle in l:
            return i
    raise AssertionError("%r not in config" % needle)


def run_proxyd(args, env=None, timeout=10, cwd=None):
    """Runs proxyd to completion (-v, -c, ...); returns (returncode, stdout+stderr)."""
    e = dict(os.environ)
    e.pop("NOTIFY_SOCKET", None)
    if env:
        e.update(env)
    p = subprocess.Popen([PROXYD_BIN] + list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=e, cwd=cwd, start_new_session=True)
    _popens[p.pid] = p
    track(p.pid)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_pid(p.pid)
        p.communicate()
        raise AssertionError("%s did not finish within %ss" % (" ".join(args), timeout))
    return p.returncode, out.decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------
# proxyd under test.

RE_OUTCOME = re.compile(r"(Loading success\.|Loading failure!)")


class Worker:
    def __init__(self, pid, gen, idx):
        self.pid, self.gen, self.idx = pid, gen, idx

    def __repr__(self):
        return "Worker(pid=%d, gen=%d, idx=%d)" % (self.pid, self.gen, self.idx)


def worker_info(pid):
    """Worker(pid, generation, index) from /proc/<pid>/cmdline
    (`<bin>\\0__worker\\0<fd>\\0<gen>\\0<idx>`), or None if pid is not (yet) a worker."""
    a = proc_cmdline(pid)
    if not a or len(a) < 5 or a[1] != "__worker":
        return None
    try:
        return Worker(pid, int(a[3]), int(a[4]))
    except ValueError:
        return None


_instances = []


class Proxyd:
    """One proxyd master started in its own temp dir.

        p = Proxyd(config_text)          # or Proxyd() then p.write_config(...)
        p.start()                        # waits for the pidfile and "Loading success."
        p.reload()                       # -> "success" | "failure"
        p.stop()                         # SIGTERM, asserts exit 143 and no survivor
    """

    def __init__(self, config=None, args=("-W",), extra_args=(), env=None, pidfile=True):
        self.dir = tempfile.mkdtemp(prefix="proxyd-it-")
        os.chmod(self.dir, 0o755)
        self.cfg_path = os.path.join(self.dir, "proxyd.cfg")
        self.pidfile = os.path.join(self.dir, "proxyd.pid") if pidfile else None
        self.log_path = os.path.join(self.dir, "proxyd.log")
        self.mode_args = list(args)
        self.extra_args = list(extra_args)
        self.env = env or {}
        self.proc = None
        self.daemon_pid = None
        self.stopped = False
        self.seen = {}  # pid -> Worker (or None for a child not yet exec'ed)
        self._watch_stop = threading.Event()
        self._watcher = None
        if config is not None:
            self.write_config(config)
        _instances.append(self)

    # -- files --------------------------------------------------------------------------
    def path(self, *p):
        return os.path.join(self.dir, *p)

    def write_config(self, text, path=None):
        path = path or self.cfg_path
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, path)
        if path == self.cfg_path:
            self.config_text = text

    def argv(self, daemon=False):
        a = [PROXYD_BIN] + self.mode_args + ["-f", self.cfg_path]
        if self.pidfile:
            a += ["-p", self.pidfile]
        if daemon:
            a.append("-D")
        return a + self.extra_args

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log().splitlines()[-n:])

    def outcomes(self):
        """'success'/'failure' for every Loading line, in order."""
        return ["success" if m == "Loading success." else "failure"
                for m in RE_OUTCOME.findall(self.log())]

    def wait_log(self, pattern, timeout=10, count=1):
        rx = re.compile(pattern)
        return wait_until(lambda: len(rx.findall(self.log())) >= count and rx.findall(self.log()),
                          timeout, "log line /%s/ (x%d) in %s" % (pattern, count, self.log_path))

    # -- start ----------------------------------------------------------------------------
    def start(self, wait=True, timeout=START_TIMEOUT):
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.update(self.env)
        self._logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=subprocess.STDOUT, env=env, cwd=self.dir,
                                     start_new_session=True)
        _popens[self.proc.pid] = self.proc
        track(self.proc.pid)
        self._start_watcher()
        if wait:
            self.wait_ready(timeout)
        return self

    def start_daemon(self, timeout=START_TIMEOUT):
        """Runs with -D; returns (parent exit code, parent output). On success the daemon
        master's pid (from the pidfile) is self.daemon_pid, tracked for cleanup."""
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.update(self.env)
        self._logf = open(self.log_path, "ab")
        p = subprocess.Popen(self.argv(daemon=True), stdin=subprocess.DEVNULL, stdout=self._logf,
                             stderr=subprocess.STDOUT, env=env, cwd=self.dir,
                             start_new_session=True)
        _popens[p.pid] = p
        track(p.pid)
        self.proc = p
        # Track the daemon as soon as it shows up: it is re-parented to us (subreaper).
        deadline = time.monotonic() + timeout
        while p.poll() is None and time.monotonic() < deadline:
            for c in our_children() + children_of(p.pid):
                if c != p.pid:
                    track(c)
            time.sleep(0.02)
        if p.poll() is None:
            raise AssertionError("proxyd -D parent did not exit within %ss:\n%s"
                                 % (timeout, self.log_tail()))
        for c in our_children():
            if c != p.pid:
                track(c)
        if p.returncode == 0 and self.pidfile and os.path.exists(self.pidfile):
            with open(self.pidfile) as f:
                self.daemon_pid = int(f.read().strip())
            track(self.daemon_pid)
            self._start_watcher()
        return p.returncode, self.log()

    @property
    def master_pid(self):
        if self.daemon_pid:
            return self.daemon_pid
        return self.proc.pid

    def master_alive(self):
        if self.daemon_pid:
            return is_alive(self.daemon_pid)
        return self.proc.poll() is None

    def _start_watcher(self):
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self):
        while not self._watch_stop.is_set():
            self._scan()
            self._watch_stop.wait(0.05)

    def _scan(self):
        for pid in children_of(self.master_pid):
            track(pid)
            w = worker_info(pid)
            if w is not None or pid not in self.seen:
                self.seen[pid] = w or self.seen.get(pid)

    def wait_ready(self, timeout=START_TIMEOUT):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("proxyd exited with %s before it was ready:\n%s"
                                     % (self.proc.returncode, self.log_tail()))
            if self.pidfile:
                # The master may log "Loading success." just before it writes the pidfile;
                # ready means the pidfile names the master (a pre-existing file or symlink
                # at that path does not count).
                try:
                    with open(self.pidfile) as f:
                        if f.read().strip() != str(self.proc.pid):
                            return False
                except OSError:
                    return False
            return "Loading success." in self.log()
        try:
            wait_until(ready, timeout, "proxyd to start (pidfile with the master pid + "
                       "'Loading success.')")
        except AssertionError as e:
            raise AssertionError("%s\nlog:\n%s" % (e, self.log_tail()))

    # -- workers --------------------------------------------------------------------------
    def workers(self):
        """Current workers (children of the master that run as __worker), by index."""
        out = []
        for pid in children_of(self.master_pid):
            track(pid)
            w = worker_info(pid)
            if w is not None and is_alive(pid):
                self.seen[pid] = w
                out.append(w)
        return sorted(out, key=lambda w: (w.gen, w.idx))

    def worker_pids(self):
        return [w.pid for w in self.workers()]

    def generation(self):
        ws = self.workers()
        return max(w.gen for w in ws) if ws else 0

    def wait_workers(self, n, gen=None, timeout=10):
        """Waits until exactly n workers run and all belong to one generation (`gen` if
        given): the previous generations have exited. Returns them."""
        def ok():
            ws = self.workers()
            gens = {w.gen for w in ws}
            if len(ws) == n and len(gens) == 1 and (gen is None or gens == {gen}):
                return ws
            return None
        return wait_until(ok, timeout, "%d workers of generation %s (now: %s)"
                          % (n, gen if gen is not None else "<one>", self.workers()))

    # -- signals ----------------------------------------------------------------------------
    def send_signal(self, sig):
        os.kill(self.master_pid, sig)

    def reload(self, sig=signal.SIGUSR2, timeout=10):
        """Sends sig and waits for the next 'Loading success.' / 'Loading failure!'."""
        before = len(self.outcomes())
        self.send_signal(sig)
        def done():
            if not self.master_alive():
                raise AssertionError("master died during reload:\n" + self.log_tail())
            o = self.outcomes()
            return o[before] if len(o) > before else None
        return wait_until(done, timeout, "reload outcome in " + self.log_path)

    # -- stop -------------------------------------------------------------------------------
    def stop(self, sig=signal.SIGTERM, expect_code="default", allow_alerts=False,
             timeout=STOP_TIMEOUT):
        """Stops the master with sig, waits (bounded), SIGKILLs by pid if needed, then kills
        by pid every process of this instance still alive. Asserts: the master exited on its
        own with expect_code (default 128+sig for SIGTERM/SIGINT, 0 for SIGUSR1), nothing
        survived, no [ALERT] in the log unless allow_alerts. Returns the exit code."""
        if self.stopped:
            return None
        self.stopped = True
        if expect_code == "default":
            expect_code = 0 if sig == signal.SIGUSR1 else 128 + int(sig)
        problems = []
        self._scan()
        code = None
        if self.daemon_pid:
            if is_alive(self.daemon_pid):
                kill_pid(self.daemon_pid, sig)
            code = wait_reaped(self.daemon_pid, timeout)
            if code is None and is_alive(self.daemon_pid):
                problems.append("daemon master %d still alive %ss after %s: SIGKILL"
                                % (self.daemon_pid, timeout, signal.Signals(sig).name))
                kill_pid(self.daemon_pid)
                wait_reaped(self.daemon_pid, 2)
        elif self.proc is not None:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, sig)
            try:
                code = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                problems.append("master %d still alive %ss after %s: SIGKILL"
                                % (self.proc.pid, timeout, signal.Signals(sig).name))
                kill_pid(self.proc.pid)
                self.proc.wait(timeout=5)
        self._watch_stop.set()
        if self._watcher:
            self._watcher.join(timeout=2)
        mine = [p for p in self.seen]
        # Workers notice their master is gone and exit; give them a bounded moment.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and [p for p in mine if is_alive(p)]:
            time.sleep(0.05)
        survivors = [p for p in mine if is_alive(p)]
        for p in survivors:
            kill_pid(p)
        if survivors:
            problems.append("processes survived the master's exit (killed by pid): %s" % survivors)
        if hasattr(self, "_logf"):
            self._logf.close()
        if expect_code is not None and code != expect_code and not problems:
            problems.append("master exit code %s, expected %s" % (code, expect_code))
        if not allow_alerts and "[ALERT]" in self.log():
            problems.append("[ALERT] in the log:\n" + "\n".join(
                l for l in self.log().splitlines() if "[ALERT]" in l))
        # A sanitizer report in any process (master or worker) fails the test, even when the
        # behaviour looked right (ASan+UBSan build in tests/run.sh).
        san = [l for l in self.log().splitlines()
               if "ERROR: AddressSanitizer" in l or "runtime error:" in l or "Sanitizer has encountered" in l]
        if san:
            problems.append("sanitizer report in the log:\n" + "\n".join(san[:10]))
        if problems:
            raise AssertionError("; ".join(problems) + "\nlog tail:\n" + self.log_tail())
        return code

    def kill_all(self):
        """Forceful cleanup (after a failed check): SIGKILL master and workers by pid."""
        self.stopped = True
        self._watch_stop.set()
        try:
            self._scan()
        except Exception:
            pass
        # The master first, so it does not respawn the workers we kill next.
        pids = []
        if self.daemon_pid:
            pids.append(self.daemon_pid)
        if self.proc is not None:
            pids.append(self.proc.pid)
        pids += list(self.seen)
        for p in pids:
            kill_pid(p)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.daemon_pid:
            wait_reaped(self.daemon_pid, 2)
        if hasattr(self, "_logf"):
            self._logf.close()


# ---------------------------------------------------------------------------------------
# Running checks.

def run_checks(title, checks):
    """Runs each (name, fn) check; a check gets a clean slate (every proxyd it started is
    stopped or killed, backends closed). Exits 0 if all passed (or skipped), 1 otherwise."""
    print("== %s (proxyd: %s)" % (title, PROXYD_BIN), flush=True)
    if not os.access(PROXYD_BIN, os.X_OK):
        print("FAIL: PROXYD_BIN %s is not an executable file" % PROXYD_BIN, flush=True)
        sys.exit(1)
    failed, skipped = [], []
    for name, fn in checks:
        print("-- %s" % name, flush=True)
        t0 = time.monotonic()
        n_inst, n_back = len(_instances), len(_backends)
        err = None
        try:
            fn()
        except Skip as e:
            skipped.append(name)
            print("SKIP %s: %s" % (name, e), flush=True)
        except BaseException as e:  # AssertionError, OSError, ... : a failed check
            if isinstance(e, SystemExit):
                raise
            err = e
            print("FAIL %s: %s" % (name, e), flush=True)
            traceback.print_exc(file=sys.stdout)
        # Clean slate, and the check fails if it left something running.
        leftover = []
        for inst in _instances[n_inst:]:
            if not inst.stopped:
                if err is None and inst.proc is not None:
                    leftover.append(inst.log_path)
                inst.kill_all()
            if err is not None:
                print("   log %s (last lines):\n%s" % (inst.log_path,
                      "\n".join("   | " + l for l in inst.log_tail(30).splitlines())), flush=True)
        for b in _backends[n_back:]:
            b.close()
        stray = kill_everything()
        if err is None and (leftover or stray):
            err = AssertionError("left running: proxyd instances %s, processes %s" % (leftover, stray))
            print("FAIL %s: %s" % (name, err), flush=True)
        if err is not None:
            failed.append(name)
        elif name not in skipped:
            print("ok   %s (%.1fs)" % (name, time.monotonic() - t0), flush=True)
            for inst in _instances[n_inst:]:
                shutil.rmtree(inst.dir, ignore_errors=True)
    print("== %s: %d checks, %d failed, %d skipped" % (title, len(checks), len(failed), len(skipped)),
          flush=True)
    if failed:
        print("FAILED: " + ", ".join(failed), flush=True)
        sys.exit(1)
    sys.exit(0)
