#!/usr/bin/env python3
"""Master CLI (-S): master commands, prompt mode, ';' and multi-line ordering, '@' routing
(sticky, @!<old pid> on a draining worker, @* merged stats and remembered state changes),
non-blocking sessions (idle, aborted and stuck clients, a frozen worker), synchronous
reload / hard-reload / coalescing / broken config, levels, -S option errors, socket mode,
and the proxyctl client (one-shot, --json, reload exit codes, PROXYD_MASTER_SOCKET)."""
import csv
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

PROXYCTL_BIN = os.environ.get("PROXYCTL_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(h.PROXYD_BIN)), "cli", "proxyctl")

# HAProxy's `show proc` layout (mworker.c): header, master row, "# workers", worker rows.
PROC_HEADER = "#%-14s %-15s %-15s %-15s %-15s" % ("<PID>", "<type>", "<reloads>", "<uptime>", "<version>")
PROC_HEADER_TEXT = "#<PID>          <type>          <reloads>       <uptime>        <version>"
RE_UPTIME = r"\d+d\d\dh\d\dm\d\ds"
RE_MASTER_ROW = re.compile(r"^(\d+) +master +(\d+) \[failed: (\d+)\] +(%s) +(\S+) *$" % RE_UPTIME)
RE_WORKER_ROW = re.compile(r"^(\d+) +worker +(\d+) +(%s) +(\S+) *$" % RE_UPTIME)

# HAProxy 2.6 `show stat` columns, in order (the stable part, up to "algo").
STAT_HEADER_PREFIX = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
    "wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,"
    "lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,"
    "hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,"
    "cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,"
    "ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,"
    "check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,")
SERVERS_STATE_HEADER = (
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health "
    "srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord "
    "srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port")


# ---------------------------------------------------------------------------------------
# Talking to the master CLI.

def cli_connect(addr, timeout=5.0):
    """addr: a UNIX socket path, or a TCP port on 127.0.0.1."""
    if isinstance(addr, int):
        return h.connect(addr, timeout=timeout)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(addr)
    except BaseException:
        s.close()
        raise
    return s


def read_until_eof(s, timeout, what="the master CLI"):
    """Everything until EOF, with an overall deadline."""
    deadline = time.monotonic() + timeout
    out = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("%s: no EOF within %.1fs; got so far:\n%s"
                                 % (what, timeout, out.decode("utf-8", "replace")))
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return out.decode("utf-8", "replace")
        if not d:
            return out.decode("utf-8", "replace")
        out += d


def read_until(s, suffix, timeout, what="the master CLI"):
    """Reads until the received text ends with `suffix` (no EOF expected)."""
    deadline = time.monotonic() + timeout
    out = ""
    while not out.endswith(suffix):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("%s: %r not received within %.1fs; got %r" % (what, suffix, timeout, out))
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        if not d:
            raise AssertionError("%s: EOF while waiting for %r; got %r" % (what, suffix, out))
        out += d.decode("utf-8", "replace")
    return out


def mcli(addr, text, timeout=5.0, half_close=True):
    """Sends text (a newline is added if missing), half-closes, returns everything until EOF."""
    if not text.endswith("\n"):
        text += "\n"
    s = cli_connect(addr, timeout)
    try:
        s.sendall(text.encode())
        if half_close:
            s.shutdown(socket.SHUT_WR)
        return read_until_eof(s, timeout, "answer to %r" % text.strip())
    finally:
        s.close()


def timed_mcli(addr, text, timeout=5.0):
    t0 = time.monotonic()
    out = mcli(addr, text, timeout)
    return out, time.monotonic() - t0


def info_values(text):
    out = {}
    for l in text.splitlines():
        k, sep, v = l.partition(": ")
        if sep:
            out.setdefault(k, []).append(v)
    return out


def info(text, key):
    v = info_values(text).get(key)
    assert v, "no '%s:' line in:\n%s" % (key, text)
    return v[0]


def parse_show_proc(text):
    """-> {'master': (pid, reloads, failed), 'workers': [pids], 'old': [(pid, reloads)]}."""
    lines = text.split("\n")
    assert lines[0] == PROC_HEADER, "show proc header line:\n  got      %r\n  expected %r" % (lines[0], PROC_HEADER)
    assert lines[0].rstrip() == PROC_HEADER_TEXT, lines[0]
    m = RE_MASTER_ROW.match(lines[1])
    assert m, "show proc master row not in HAProxy's layout: %r\n%s" % (lines[1], text)
    pid, reloads, failed, uptime, version = m.groups()
    reloadtxt = "%s [failed: %s]" % (reloads, failed)
    assert lines[1] == "%-15s %-15s %-15s %-15s %-15s" % (pid, "master", reloadtxt, uptime, version), \
        "master row columns are not 15 wide: %r" % lines[1]
    assert lines[2] == "# workers", "third line should be '# workers': %r\n%s" % (lines[2], text)
    res = {"master": (int(pid), int(reloads), int(failed)), "workers": [], "old": [], "version": version}
    section = "workers"
    for l in lines[3:]:
        if l == "":
            break
        if l == "# old workers":
            assert section == "workers", "two '# old workers' sections:\n" + text
            section = "old"
            continue
        m = RE_WORKER_ROW.match(l)
        assert m, "show proc worker row not in HAProxy's layout: %r\n%s" % (l, text)
        wpid, wrel, wup, wver = m.groups()
        assert l == "%-15s %-15s %-15s %-15s %-15s" % (wpid, "worker", wrel, wup, wver), \
            "worker row columns are not 15 wide: %r" % l
        if section == "workers":
            res["workers"].append(int(wpid))
        else:
            res["old"].append((int(wpid), int(wrel)))
    assert text.endswith("\n\n"), "show proc answer should end with an empty line: %r" % text[-40:]
    return res


def servers_state(text):
    """`show servers state` -> {(be, srv): (op_state, admin_state, uweight)}."""
    lines = text.splitlines()
    assert lines and lines[0] == "1", "show servers state: first line should be '1':\n" + text
    assert len(lines) > 1 and lines[1] == SERVERS_STATE_HEADER, \
        "show servers state header:\n  got      %r\n  expected %r" % (lines[1] if len(lines) > 1 else None,
                                                                     SERVERS_STATE_HEADER)
    out = {}
    for l in lines[2:]:
        if not l:
            continue
        f = l.split(" ")
        assert len(f) == 25, "show servers state row has %d fields (expected 25): %r" % (len(f), l)
        out[(f[1], f[3])] = (int(f[5]), int(f[6]), int(f[7]))
    return out


def stat_rows(text):
    lines = [l for l in text.splitlines() if l]
    assert lines and lines[0].startswith(STAT_HEADER_PREFIX), \
        "show stat header is not HAProxy's:\n" + (lines[0] if lines else text)
    names = lines[0][2:].split(",")
    rows = {}
    for r in csv.reader(lines[1:]):
        d = dict(zip(names, r))
        rows[(d["pxname"], d["svname"])] = d
    return rows


def strip_worker_headers(text):
    return [l for l in text.splitlines() if l and not re.match(r"^# worker \d+ \(pid \d+\)$", l)]


# ---------------------------------------------------------------------------------------
# A proxyd with two name servers (s1, s2) behind frontend fe, an echo frontend ec, and
# master sockets: admin (mode 600), user level, and TCP on 127.0.0.1.

class Setup:
    def __init__(self, nbproc=2, sockets=True, extra_specs=()):
        self.s1 = h.name_backend("s1")
        self.s2 = h.name_backend("s2")
        self.echo = h.echo_backend()
        self.port = h.free_port()
        self.eport = h.free_port()
        self.tport = h.free_port()
        self.nbproc = nbproc
        self.p = h.Proxyd()
        self.sock = self.p.path("master.sock")
        self.usock = self.p.path("user.sock")
        self.cfg = self.config()
        self.p.write_config(self.cfg)
        args = []
        if sockets:
            args = ["-S", self.sock + ",mode,600", "-S", self.usock + ",level,user",
                    "-S", "ipv4@127.0.0.1:%d,level,operator" % self.tport]
        for spec in extra_specs:
            args += ["-S", spec]
        self.p.extra_args = args

    def config(self, broken=False):
        extra = ["bogus-keyword-for-test 1"] if broken else []
        return h.make_config(
            h.tcp_proxy("fe", "127.0.0.1:%d" % self.port, ["s1 " + self.s1.addr, "s2 " + self.s2.addr],
                        extra=extra) +
            h.tcp_proxy("ec", "127.0.0.1:%d" % self.eport, ["e1 " + self.echo.addr]),
            nbproc=self.nbproc)

    def start(self):
        self.p.start()
        return self.p.wait_workers(self.nbproc, gen=1)

    def cli(self, text, timeout=5.0, **kw):
        return mcli(self.sock, text, timeout, **kw)

    def names(self, n):
        """Backend names seen on n new connections through fe."""
        return [h.banner(self.port).decode().strip() for _ in range(n)]

    def reload(self, cmd="reload", timeout=15):
        # No half-close: the master closes the connection itself once it has answered.
        out = self.cli(cmd, timeout=timeout, half_close=False)
        assert out.startswith("Success=1\n--\n"), "%s answered:\n%s\nlog:\n%s" % (cmd, out, self.p.log_tail())
        return out


def master_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def wait_fds(pid, n, timeout=5):
    try:
        h.wait_until(lambda: master_fds(pid) <= n, timeout, "master fd count back to %d" % n)
    except AssertionError:
        fds = {}
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                fds[fd] = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                pass
        raise AssertionError("master holds %d fds, %d before the clients came: %s"
                             % (master_fds(pid), n, fds))


def proxyctl(args, env=None, timeout=20):
    if not os.access(PROXYCTL_BIN, os.X_OK):
        raise AssertionError("PROXYCTL_BIN %s is not an executable file" % PROXYCTL_BIN)
    e = dict(os.environ)
    e.pop("PROXYD_MASTER_SOCKET", None)
    if env:
        e.update(env)
    p = subprocess.Popen([PROXYCTL_BIN] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=e, stdin=subprocess.DEVNULL)
    h.track(p.pid)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        h.kill_pid(p.pid)
        p.communicate()
        raise AssertionError("proxyctl %s did not finish within %ss" % (" ".join(args), timeout))
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------
# Checks.

def check_master_commands():
    st = Setup()
    ws = st.start()
    p = st.p
    w1, w2 = ws[0].pid, ws[1].pid
    rc, vout = h.run_proxyd(["-v"])
    version = re.search(r"proxyd version (\S+)", vout).group(1)

    out = st.cli("show proc")
    sp = parse_show_proc(out)
    assert sp["master"] == (p.master_pid, 0, 0), "master row %s, expected pid %d, '0 [failed: 0]':\n%s" \
        % (sp["master"], p.master_pid, out)
    assert sp["workers"] == [w1, w2], "show proc workers %s, expected %s:\n%s" % (sp["workers"], [w1, w2], out)
    assert "# old workers" not in out, "'# old workers' shown with no old worker:\n" + out
    assert sp["version"] == version, "show proc version %s, proxyd -v says %s" % (sp["version"], version)
    print("   " + "\n   ".join(out.splitlines()))

    out = st.cli("show proc json")
    try:
        j = json.loads(out)
    except ValueError as e:
        raise AssertionError("show proc json does not parse (%s):\n%s" % (e, out))
    assert j["master"]["pid"] == p.master_pid, out
    assert [w["pid"] for w in j["workers"]] == [w1, w2], "show proc json workers:\n" + out
    assert not j.get("old_workers"), out

    out = st.cli("show version")
    assert out == version + "\n\n", "show version: %r (expected %r)" % (out, version + "\n\n")
    for prefix in ("@", "@0", "@master"):
        out = st.cli(prefix + " show version")
        assert out == version + "\n\n", "%s show version: %r" % (prefix, out)

    out = st.cli("show cli level")
    assert out == "admin\n\n", "show cli level on the default socket: %r" % out

    out = st.cli("show cli sockets")
    lines = out.splitlines()
    for needle, level in ((st.sock, "admin"), (st.usock, "user"), ("127.0.0.1:%d" % st.tport, "operator")):
        assert [l for l in lines if needle in l and re.search(r"\b%s\b" % level, l)], \
            "show cli sockets does not list %s at level %s:\n%s" % (needle, level, out)
    assert out.endswith("\n\n"), repr(out)

    out = st.cli("show startup-logs")
    for pid in (w1, w2):
        assert "New worker (%d) forked" % pid in out, "show startup-logs lacks worker %d:\n%s" % (pid, out)
    assert "Loading success." in out, "show startup-logs:\n" + out

    out = st.cli("help")
    for c in ("help", "prompt", "quit", "show proc", "show version", "show startup-logs", "show cli level",
              "show cli sockets", "operator", "user", "reload", "hard-reload", "@!<pid>", "@*", "@master"):
        assert re.search(r"^\s+%s(\s|$)" % re.escape(c), out, re.M), "help does not list %r:\n%s" % (c, out)
    assert out.endswith("\n\n"), "help should end with an empty line: %r" % out[-40:]

    out = st.cli("show nonsense")
    assert out.startswith("Unknown command"), "unknown master command: %r" % out
    for bad in ("@9", "@xyz", "@!1"):
        out = st.cli(bad + " show info")
        exp = "Can't find the target PID matching the prefix '%s'\n\n" % bad
        assert out == exp, "%s show info: %r (expected %r)" % (bad, out, exp)

    # Over TCP (ipv4@127.0.0.1, level operator).
    out = mcli(st.tport, "show cli level; show version")
    assert out == "operator\n\n%s\n\n" % version, "TCP master socket: %r" % out
    p.stop()


def check_prompt_and_ordering():
    st = Setup()
    ws = st.start()
    w1, w2 = ws[0].pid, ws[1].pid
    v = st.cli("show version").strip()

    # Non-interactive: every command answered, in order, one empty line after each.
    out = st.cli("show version;show cli level\nshow cli level ;; show version\n"
                 "@1 get weight fe_be/s1; show version\n")
    exp = "%s\n\nadmin\n\nadmin\n\n%s\n\n1 (initial 1)\n\n%s\n\n" % (v, v, v)
    assert out == exp, "';' + multi-line answers:\n  got      %r\n  expected %r" % (out, exp)

    out = st.cli("@2 show info;@1 show info; show cli level\n@!%d show info\nshow version" % w2)
    order = [(m.start(), m.group(0)) for m in re.finditer(r"^Pid: \d+$|^admin$|^%s$" % re.escape(v), out, re.M)]
    got = [x[1] for x in order]
    exp_order = ["Pid: %d" % w2, "Pid: %d" % w1, "admin", "Pid: %d" % w2, v]
    assert got == exp_order, "routed/master answers out of order: %s (expected %s)" % (got, exp_order)

    # Without prompt the connection stays open between commands until the client half-closes.
    s = cli_connect(st.sock)
    try:
        s.sendall(b"show version\n")
        read_until(s, v + "\n\n", 5)
        time.sleep(0.3)
        s.settimeout(0.3)
        try:
            d = s.recv(100)
            raise AssertionError("connection closed or extra data after an answer: %r" % d)
        except socket.timeout:
            pass
        s.sendall(b"@1 get weight fe_be/s2\n")
        read_until(s, "1 (initial 1)\n\n", 5)
        s.shutdown(socket.SHUT_WR)
        rest = read_until_eof(s, 5)
        assert rest == "", "data after half-close: %r" % rest
    finally:
        s.close()

    # Sticky target without prompt.
    out = st.cli("@2\nshow info\n@master\nshow cli level\n@!%d\nget weight fe_be/s1\n@1\nshow info" % w1)
    pids = re.findall(r"^Pid: (\d+)$", out, re.M)
    assert pids == [str(w2), str(w1)], "sticky @2 then @1: Pid lines %s (expected %s):\n%s" % (pids, [w2, w1], out)
    assert "\nadmin\n" in out and "1 (initial 1)" in out, out
    out = st.cli("@7\nshow cli level")
    assert out == "Can't find the target PID matching the prefix '@7'\n\nadmin\n\n", \
        "sticky switch to a missing worker: %r" % out

    # Interactive mode: prompts, sticky prompts, quit closes (the command after it is never run).
    out = st.cli("prompt\nshow cli level\n@1\nget weight fe_be/s1\n@!%d\n@\nshow version; show cli level\n"
                 "quit\nshow version\n" % w2)
    exp = ("master> admin\n\nmaster> %d> 1 (initial 1)\n\n%d> %d> master> %s\n\nadmin\n\nmaster> "
           % (w1, w1, w2, v))
    assert out == exp, "prompt mode:\n  got      %r\n  expected %r" % (out, exp)
    # quit closes without a half-close from the client.
    s = cli_connect(st.sock)
    try:
        s.sendall(b"prompt\nquit\n")
        rest = read_until_eof(s, 5, "quit")
        assert rest == "master> ", "prompt + quit: %r" % rest
    finally:
        s.close()
    st.p.stop()


def check_worker_commands():
    st = Setup()
    ws = st.start()
    w1, w2 = ws[0].pid, ws[1].pid
    out = st.cli("@1 show info")
    assert info(out, "Name") == "proxyd" and info(out, "Pid") == str(w1), out
    assert info(out, "Process_num") == "1" and info(out, "Nbproc") == "2", out
    assert info(out, "Stopping") == "0", out
    assert out.endswith("\n\n"), repr(out[-20:])

    out = st.cli("@2 show info json")
    try:
        j = json.loads(out)
    except ValueError as e:
        raise AssertionError("show info json does not parse (%s):\n%s" % (e, out[:500]))
    pid = [f["value"]["value"] for f in j if f["field"]["name"] == "Pid"]
    assert pid == [w2], "show info json Pid %s, expected %d" % (pid, w2)

    st.names(4)
    out = st.cli("@1 show stat")
    rows = stat_rows(out)
    for key in (("fe", "FRONTEND"), ("fe_be", "s1"), ("fe_be", "s2"), ("fe_be", "BACKEND"), ("ec", "FRONTEND")):
        assert key in rows, "show stat lacks row %s:\n%s" % (key, out)
    assert rows[("fe_be", "s1")]["status"] == "UP" and rows[("fe", "FRONTEND")]["pid"] == "1", out
    out = st.cli("@1 show stat json")
    try:
        j = json.loads(out)
    except ValueError as e:
        raise AssertionError("show stat json does not parse (%s):\n%s" % (e, out[:500]))
    assert isinstance(j, list) and all(isinstance(r, list) for r in j), \
        "show stat json should be an array of rows (arrays of fields):\n" + out[:500]
    assert {x.get("objType") for r in j for x in r} >= {"Frontend", "Backend", "Server"}, out[:500]

    ss = servers_state(st.cli("@1 show servers state"))
    assert ss[("fe_be", "s1")] == (2, 0, 1) and ss[("fe_be", "s2")] == (2, 0, 1), ss
    ss = servers_state(st.cli("@1 show servers state ec_be"))
    assert list(ss) == [("ec_be", "e1")], ss

    def state(srv="s1", target="@1"):
        return servers_state(st.cli(target + " show servers state fe_be"))[("fe_be", srv)]

    for cmd, exp in (("set server fe_be/s1 state drain", lambda s: s[1] & 0x08 and s[0] == 2),
                     ("set server fe_be/s1 state maint", lambda s: s[1] & 0x01 and s[0] == 0),
                     ("set server fe_be/s1 state ready", lambda s: s[1] == 0 and s[0] == 2),
                     ("disable server fe_be/s1", lambda s: s[1] & 0x01 and s[0] == 0),
                     ("enable server fe_be/s1", lambda s: s[1] == 0 and s[0] == 2),
                     ("set server fe_be/s1 weight 5", lambda s: s[2] == 5)):
        out = st.cli("@1 " + cmd)
        assert out == "\n", "@1 %s answered %r (expected just the empty line)" % (cmd, out)
        s = state()
        assert exp(s), "after '@1 %s': s1 (op_state, admin_state, weight) = %s" % (cmd, s)
    out = st.cli("@1 get weight fe_be/s1")
    assert out == "5 (initial 1)\n\n", "get weight after set weight 5: %r" % out

    # Unknown backend / server: a one-line error.
    for cmd, msg in (("get weight nope/s1", "No such backend."), ("get weight fe_be/nope", "No such server."),
                     ("show servers state nope", "Can't find backend.")):
        out = st.cli("@1 " + cmd)
        assert out == msg + "\n\n", "@1 %s: %r (expected %r)" % (cmd, out, msg + "\n\n")
    for cmd, msg in (("disable server fe_be/nope", "No such server."),
                     ("enable server nope/s1", "No such backend."),
                     ("set server fe_be/nope state ready", "No such server."),
                     ("set server fe_be/s1 weight 100000", None)):
        out = st.cli("@1 " + cmd)
        lines = strip_worker_headers(out)
        assert lines and out.endswith("\n\n"), "@1 %s: no error: %r" % (cmd, out)
        if msg:
            assert set(lines) == {msg}, "@1 %s: %r (expected the error %r)" % (cmd, out, msg)
        if len(lines) != 1:
            print("   note: '@1 %s' answers one error per worker:\n     %s" % (cmd, out.replace("\n", "\n     ")))

    # show sess: a held connection through fe shows up on the worker that took it.
    c = h.connect(st.port)
    try:
        assert h.recv_exact(c, 3) in (b"s1\n", b"s2\n")
        outs = h.wait_until(lambda: [o for o in (st.cli("@1 show sess"), st.cli("@2 show sess"))
                                     if "fe=fe be=fe_be" in o], 5, "the held session in show sess")
        assert re.search(r"^0x[0-9a-f]+: proto=tcpv4 src=127\.0\.0\.1:\d+ fe=fe be=fe_be srv=s[12] ",
                         outs[0], re.M), outs[0]
    finally:
        c.close()
    out = st.cli("@1 help")
    for c in ("show info", "show stat", "show servers state", "show sess", "disable server", "enable server",
              "set server"):
        assert c in out, "@1 help lacks %r:\n%s" % (c, out)
    out = st.cli("@1 frobnicate")
    assert out.startswith("Unknown command"), "@1 frobnicate: %r" % out
    st.p.stop()


def check_all_workers_and_state():
    st = Setup()
    ws = st.start()
    p = st.p
    seen = set(st.names(12))
    assert seen == {"s1", "s2"}, "roundrobin over s1/s2 before the change: %s" % seen

    out = st.cli("@* show info")
    assert info(out, "Nbproc") == "2", "@* show info Nbproc:\n" + out
    assert len(info_values(out)["Name"]) == 1, "@* show info is not merged (several Name lines):\n" + out
    # Merged show stat: one header, counters summed over the workers.
    out = st.cli("@* show stat\n@1 show stat\n@2 show stat")
    parts = out.split("\n\n")
    assert len(parts) == 4 and parts[3] == "", "three show stat answers expected:\n" + out
    assert parts[0].count("# pxname") == 1, "@* show stat has several headers:\n" + parts[0]
    merged, r1, r2 = (stat_rows(x) for x in parts[:3])
    tot = int(r1[("fe", "FRONTEND")]["stot"]) + int(r2[("fe", "FRONTEND")]["stot"])
    assert int(merged[("fe", "FRONTEND")]["stot"]) == tot == 12, \
        "@* show stat fe stot %s, workers %s + %s (12 connections made)" % (
            merged[("fe", "FRONTEND")]["stot"], r1[("fe", "FRONTEND")]["stot"], r2[("fe", "FRONTEND")]["stot"])
    print("   fe connections per worker: %s + %s" % (r1[("fe", "FRONTEND")]["stot"], r2[("fe", "FRONTEND")]["stot"]))

    out = st.cli("@* disable server fe_be/s1")
    assert out == "\n", "@* disable server answered %r" % out

    def per_worker_stot():
        out = st.cli("@1 show stat\n@2 show stat")
        parts = out.split("\n\n")
        return [(int(r[("fe_be", "s1")]["stot"]), int(r[("fe_be", "s2")]["stot"]))
                for r in (stat_rows(x) for x in parts[:2])]

    def only_s2(when):
        before = per_worker_stot()
        names = st.names(30)
        assert set(names) == {"s2"}, "%s: traffic reached %s (s1 is disabled on every worker)" % (when, set(names))
        after = per_worker_stot()
        for i in (0, 1):
            assert after[i][0] == before[i][0], "%s: worker %d sent %d connections to the disabled s1" % (
                when, i + 1, after[i][0] - before[i][0])
        print("   %s: s2 got %s connections from workers 1, 2; s1 none" % (
            when, [after[i][1] - before[i][1] for i in (0, 1)]))
        for i in (1, 2):
            s = servers_state(st.cli("@%d show servers state" % i))[("fe_be", "s1")]
            assert s[0] == 0 and s[1] & 0x01, "%s: @%d show servers state s1 = %s (expected maint)" % (when, i, s)

    only_s2("after @* disable")
    st.reload()
    p.wait_workers(2, gen=2)
    only_s2("after a reload")
    st.reload("hard-reload")
    p.wait_workers(2, gen=3)
    only_s2("after a hard-reload")

    out = st.cli("@* enable server fe_be/s1")
    assert out == "\n", "@* enable server answered %r" % out
    assert set(st.names(12)) == {"s1", "s2"}, "s1 enabled again but gets no traffic"
    st.reload()
    p.wait_workers(2, gen=4)
    assert set(st.names(12)) == {"s1", "s2"}, "after enable + reload, s1 gets no traffic (old disable replayed?)"
    ss = servers_state(st.cli("@1 show servers state"))
    assert ss[("fe_be", "s1")] == (2, 0, 1), "after enable + reload: s1 %s" % (ss[("fe_be", "s1")],)
    p.stop()


def check_old_worker_and_hard_reload():
    st = Setup()
    ws = st.start()
    p = st.p
    c = h.connect(st.eport, timeout=5)
    try:
        c.sendall(b"before\n")
        assert h.recv_exact(c, 7) == b"before\n"
        holder = h.wait_until(lambda: [w.pid for i, w in enumerate(ws, 1)
                                       if "fe=ec" in st.cli("@%d show sess" % i)], 5, "the session in show sess")
        old = holder[0]
        other = [w.pid for w in ws if w.pid != old][0]
        st.reload()
        h.wait_gone([other], 5, "old worker %d (no connection) to exit" % other)
        out = st.cli("show proc")
        sp = parse_show_proc(out)
        assert "# old workers" in out and [o[0] for o in sp["old"]] == [old], \
            "show proc should list %d under '# old workers':\n%s" % (old, out)
        assert sp["master"][1] == 1, "master reloads after one reload: %s" % (sp["master"],)
        new = sp["workers"]
        assert len(new) == 2 and old not in new, out
        if sp["old"][0][1] < 1:
            print("   note: the old worker's <reloads> column is %d after a reload (HAProxy shows 1)"
                  % sp["old"][0][1])
        print("   " + "\n   ".join(out.splitlines()))
        j = json.loads(st.cli("show proc json"))
        assert [w["pid"] for w in j["old_workers"]] == [old], "show proc json old_workers: %s" % j
        out = st.cli("@!%d show info" % old)
        assert info(out, "Pid") == str(old) and info(out, "Stopping") == "1", \
            "@!%d show info on the draining worker:\n%s" % (old, out)
        out = st.cli("@!%d show sess" % old)
        assert "fe=ec" in out, "@!%d show sess lacks the held session:\n%s" % (old, out)
        out = st.cli("@1 show info")
        assert info(out, "Stopping") == "0" and int(info(out, "Pid")) == new[0], out
        c.sendall(b"after\n")
        assert h.recv_exact(c, 6) == b"after\n", "the held connection broke across the reload"
        # A prefix alone can switch to the old worker too.
        out = st.cli("@!%d\nshow info" % old)
        assert info(out, "Pid") == str(old), out
    finally:
        c.close()
    h.wait_gone([old], 10, "old worker %d to exit after its last connection closed" % old)
    h.wait_until(lambda: "# old workers" not in st.cli("show proc"), 5, "'# old workers' to go away")
    out = st.cli("@!%d show info" % old)
    assert out == "Can't find the target PID matching the prefix '@!%d'\n\n" % old, out

    # hard-reload: the old generation stops at once even with a connection open.
    c = h.connect(st.eport, timeout=5)
    try:
        c.sendall(b"x\n")
        assert h.recv_exact(c, 2) == b"x\n"
        gen2 = p.worker_pids()
        t0 = time.monotonic()
        out = st.reload("hard-reload")
        assert "Loading success." in out, out
        h.wait_gone(gen2, 3, "generation-2 workers to stop at once after hard-reload")
        print("   hard-reload: old workers gone %.2fs after the request" % (time.monotonic() - t0))
        c.settimeout(3)
        try:
            rest = c.recv(100)
        except (ConnectionResetError, socket.timeout) as e:
            rest = repr(e)
        assert rest in (b"",) or "Reset" in str(rest), "held connection after hard-reload: %r" % rest
    finally:
        c.close()
    sp = parse_show_proc(st.cli("show proc"))
    assert not sp["old"] and len(sp["workers"]) == 2, sp
    p.stop()


def check_broken_reload():
    st = Setup()
    ws = st.start()
    p = st.p
    before = [w.pid for w in ws]
    p.write_config(st.config(broken=True))
    line = h.line_of(p.config_text, "bogus-keyword-for-test")
    # The answer comes, then the master closes the connection (no half-close from us).
    out = st.cli("reload", timeout=15, half_close=False)
    assert out.startswith("Success=0\n--\n"), "reload with a broken config answered:\n" + out
    needle = "parsing [%s:%d]" % (p.cfg_path, line)
    assert needle in out, "the reload's answer lacks the error at %s:\n%s" % (needle, out)
    assert "Loading failure!" in out, out
    print("   " + "\n   ".join(out.splitlines()))
    assert p.worker_pids() == before, "workers changed after a failed reload: %s -> %s" % (before, p.worker_pids())
    assert set(st.names(6)) == {"s1", "s2"}, "traffic after a failed reload"
    h.assert_echo(st.eport)
    sp = parse_show_proc(st.cli("show proc"))
    assert sp["workers"] == before and sp["master"][2] == 1, "show proc after a failed reload: %s" % sp
    out = st.cli("show startup-logs")
    assert needle in out, "show startup-logs lacks the failed reload's error:\n" + out
    out = st.cli("prompt\nshow cli level")
    assert out == "master[ReloadFailed]> admin\n\nmaster[ReloadFailed]> ", "prompt after a failed reload: %r" % out
    # hard-reload with the broken config fails the same way.
    out = st.cli("hard-reload", timeout=15)
    assert out.startswith("Success=0\n--\n") and needle in out, "hard-reload, broken config:\n" + out
    assert p.worker_pids() == before, "workers changed after a failed hard-reload"
    sp = parse_show_proc(st.cli("show proc"))
    assert sp["master"][2] == 2, "failed count after 2 failed reloads: %s" % (sp["master"],)

    p.write_config(st.config())
    st.reload()
    p.wait_workers(2, gen=max(w.gen for w in p.workers()))
    assert not set(p.worker_pids()) & set(before), "workers not replaced by the good reload"
    out = st.cli("prompt\nshow cli level")
    assert out == "master> admin\n\nmaster> ", "prompt after a successful reload: %r" % out
    sp = parse_show_proc(st.cli("show proc"))
    print("   master row after 2 failed + 1 good reload: %d [failed: %d]" % sp["master"][1:])
    p.stop(allow_alerts=True)


def check_reload_coalescing():
    st = Setup()
    st.start()
    p = st.p
    r0 = parse_show_proc(st.cli("show proc"))["master"][1]
    n = 3
    socks = [cli_connect(st.sock, 15) for _ in range(n)]
    results = [None] * n
    # Freeze the master so the 3 requests arrive together: the first starts a reload, the
    # next two come while it is in flight and must share one more reload.
    os.kill(p.master_pid, signal.SIGSTOP)
    try:
        for s in socks:
            s.sendall(b"reload\n")
            s.shutdown(socket.SHUT_WR)
    finally:
        os.kill(p.master_pid, signal.SIGCONT)

    def rd(i):
        try:
            results[i] = read_until_eof(socks[i], 15, "reload client %d" % i)
        except Exception as e:
            results[i] = "ERROR %r" % e
    ts = [threading.Thread(target=rd, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    for s in socks:
        s.close()
    for i, r in enumerate(results):
        assert r and r.startswith("Success=1\n--\n"), "reload client %d answered:\n%s" % (i, r)
    gens = [re.findall(r"Reloading proxyd \(generation (\d+)\)", r) for r in results]
    r1 = parse_show_proc(st.cli("show proc"))["master"][1]
    print("   3 concurrent reloads -> %d reload(s); generations per answer: %s" % (r1 - r0, gens))
    assert r1 - r0 == 2, "3 reloads requested together: %d reloads done (expected 2: one, then one " \
        "coalesced)" % (r1 - r0)
    assert results[1] == results[2], "the two coalesced requests got different answers:\n%s\n--vs--\n%s" \
        % (results[1], results[2])
    assert gens[0] != gens[1], "the first request and the coalesced ones report the same reload: %s" % gens
    p.wait_workers(2)
    p.stop()


def check_idle_and_stuck_clients():
    st = Setup()
    st.start()
    p = st.p
    base = master_fds(p.master_pid)
    idle = cli_connect(st.sock, 10)
    partial = cli_connect(st.sock, 10)
    partial.sendall(b"show pr")
    noreader = cli_connect(st.sock, 10)
    noreader.sendall(b"@1 show stat\n@* show info\n")
    try:
        out, dt = timed_mcli(st.sock, "show proc")
        parse_show_proc(out)
        assert dt < 1.0, "show proc took %.2fs with an idle client connected" % dt
        out, dt = timed_mcli(st.sock, "@1 show info")
        assert info(out, "Process_num") == "1" and dt < 1.0, (dt, out)
        t0 = time.monotonic()
        st.reload()
        print("   show proc %.3fs, reload %.3fs with idle/partial/non-reading clients" % (dt, time.monotonic() - t0))
        # The idle and partial clients were not disturbed and still work.
        idle.sendall(b"show cli level\n")
        idle.shutdown(socket.SHUT_WR)
        assert read_until_eof(idle, 5) == "admin\n\n", "the idle client after others ran"
        partial.sendall(b"oc\n")
        partial.shutdown(socket.SHUT_WR)
        parse_show_proc(read_until_eof(partial, 5))
    finally:
        for s in (idle, partial, noreader):
            s.close()
    wait_fds(p.master_pid, base)
    p.stop()


def check_aborted_clients():
    st = Setup()
    st.start()
    p = st.p
    base = master_fds(p.master_pid)
    kinds = [b"@1 show stat\n", b"@* show info\n", b"@2 show st", b"show proc\n", b"", b"@1 show sess\n@2 help\n"]
    for i in range(20):
        s = cli_connect(st.sock if i % 4 else st.tport)
        data = kinds[i % len(kinds)]
        if data:
            s.sendall(data)
        if i % 3 == 0:  # abortive close (RST)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    out, dt = timed_mcli(st.sock, "show proc")
    parse_show_proc(out)
    out2, dt2 = timed_mcli(st.sock, "@* show info; @1 show info; @2 get weight fe_be/s1")
    assert info(out2, "Nbproc") == "2" and "1 (initial 1)" in out2, out2
    assert dt < 1.0 and dt2 < 2.0, "slow answers after aborted clients: %.2fs / %.2fs" % (dt, dt2)
    wait_fds(p.master_pid, base)
    print("   20 aborted clients; master fds back to %d" % base)
    st.reload()
    p.stop()


def check_frozen_worker():
    """A worker that does not answer: the routed command times out after 10 s while every
    other session (show proc, another worker, reload) keeps being served."""
    st = Setup()
    ws = st.start()
    p = st.p
    frozen = ws[0].pid
    result = {}

    def slow():
        t0 = result["t0"] = time.monotonic()
        try:
            result["out"] = mcli(st.sock, "@1 show info", timeout=20)
        except Exception as e:
            result["out"] = "ERROR %r" % e
        result["dt"] = time.monotonic() - t0

    os.kill(frozen, signal.SIGSTOP)
    try:
        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.3)
        out, dt = timed_mcli(st.sock, "show proc")
        parse_show_proc(out)
        assert dt < 1.0, "show proc took %.2fs while a routed command waits on a frozen worker" % dt
        out, dt = timed_mcli(st.sock, "@2 show info")
        assert info(out, "Pid") == str(ws[1].pid) and dt < 1.0, (dt, out)
        t0 = time.monotonic()
        out = st.reload(timeout=12)
        print("   reload with a frozen worker and a stuck client: %.2fs" % (time.monotonic() - t0))
        h.wait_gone([ws[1].pid], 5, "the other old worker to exit")
        base = master_fds(p.master_pid)
        # Clients that send a command to the frozen (now old) worker and go away (FIN or RST).
        for i in range(10):
            c = cli_connect(st.sock if i % 2 else st.tport)
            c.sendall(b"@!%d show %s\n" % (frozen, b"stat" if i % 2 else b"info"))
            if i % 3 == 0:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.close()
        out, dt = timed_mcli(st.sock, "show proc")
        assert dt < 1.0, dt
        assert [o[0] for o in parse_show_proc(out)["old"]] == [frozen], out
        # Nothing else happens in the master from now on: the 10 s timeout must fire by itself.
        problems = []
        t.join(max(0.0, result["t0"] + 13 - time.monotonic()))
        if t.is_alive():
            late = timed_mcli(st.sock, "show version")[1]
            t.join(2)
            problems.append(
                "'@1 show info' to a frozen worker: no answer %.1fs after it was sent (routed "
                "commands time out after 10 s); %s" % (
                    time.monotonic() - result["t0"],
                    "it came only once another client woke the master up: %r after %.1fs"
                    % (result.get("out"), result.get("dt")) if not t.is_alive()
                    else "still none after another client's command (%.2fs)" % late))
        else:
            print("   '@1 show info' to a frozen worker answered after %.1fs: %r" % (result["dt"], result["out"]))
            if not 9.0 <= result["dt"] <= 12.5:
                problems.append("routed timeout after %.1fs (expected ~10 s)" % result["dt"])
        if not t.is_alive() and not (result["out"].endswith("\n\n") and "10 s" in result["out"]):
            problems.append("answer of a timed-out routed command: %r" % result["out"])
        # The clients that went away while waiting on the frozen worker have freed their slots.
        try:
            wait_fds(p.master_pid, base, timeout=3)
        except AssertionError as e:
            problems.append(str(e))
        assert not problems, "\n".join(problems)
    finally:
        if h.is_alive(frozen):
            os.kill(frozen, signal.SIGCONT)
    p.stop()


def check_levels():
    st = Setup()
    ws = st.start()
    p = st.p
    u = st.usock
    assert mcli(u, "show cli level") == "user\n\n"
    out = mcli(u, "@1 show info")
    assert info(out, "Pid") == str(ws[0].pid), "user level can run @1 show info:\n" + out
    out = mcli(u, "disable server fe_be/s1")
    assert out.strip(), "'disable server' on the master at user level answered nothing"
    out = mcli(u, "@1 disable server fe_be/s1")
    assert out == "Permission denied\n\n", "@1 disable server at user level: %r" % out
    out = mcli(u, "@* disable server fe_be/s1")
    lines = strip_worker_headers(out)
    assert lines and set(lines) == {"Permission denied"}, "@* disable server at user level: %r" % out
    out = mcli(u, "@1 set server fe_be/s1 state maint")
    assert out == "Permission denied\n\n", "@1 set server at user level: %r" % out
    out = mcli(u, "@1 show sess")
    assert out == "Permission denied\n\n", "@1 show sess (operator) at user level: %r" % out
    for cmd in ("reload", "hard-reload", "show proc"):
        out = mcli(u, cmd)
        assert out == "Permission denied!\n\n", "%s at user level: %r" % (cmd, out)
    for i in (1, 2):
        s = servers_state(st.cli("@%d show servers state" % i))[("fe_be", "s1")]
        assert s == (2, 0, 1), "s1 changed by a user-level session on worker %d: %s" % (i, s)
    assert p.worker_pids() == [w.pid for w in ws], "a user-level reload happened"
    assert set(st.names(8)) == {"s1", "s2"}

    # Lowering: operator then user works; user then operator is denied.
    out = st.cli("operator; show cli level; @1 disable server fe_be/s1\n"
                 "user; show cli level; show proc; @1 show sess; operator; show cli level")
    exp = ("operator\n\nPermission denied\n\n"
           "user\n\nPermission denied!\n\nPermission denied\n\nPermission denied!\n\nuser\n\n")
    assert out == exp, "operator then user:\n  got      %r\n  expected %r" % (out, exp)
    out = st.cli("operator; @1 show sess; show proc")
    assert "Permission denied" not in out and PROC_HEADER in out, "operator level: %r" % out
    # The level belongs to the session: a new connection is admin again.
    assert st.cli("show cli level") == "admin\n\n"
    out = mcli(st.tport, "show proc; @1 disable server fe_be/s1; user; show proc")
    assert out.startswith(PROC_HEADER) and "Permission denied\n\n" in out and \
        out.endswith("Permission denied!\n\n"), "operator TCP socket: %r" % out
    out = mcli(u, "operator")
    assert out == "Permission denied!\n\n", "'operator' from user level: %r" % out
    p.stop()


def check_socket_options():
    st = Setup(extra_specs=())
    p = st.p
    own = p.path("owned.sock")
    named = p.path("named.sock")
    root = os.geteuid() == 0
    if root:
        p.extra_args += ["-S", own + ",mode,660,uid,65534,gid,65534",
                         "-S", named + ",user,nobody,group,nogroup,mode,640"]
    p.start(wait=False)
    seen = {}
    deadline = time.monotonic() + h.START_TIMEOUT
    # Poll while it starts: the socket must never be visible with another mode.
    while "Loading success." not in p.log() and time.monotonic() < deadline:
        for path in (st.sock, own) if root else (st.sock,):
            try:
                m = stat.S_IMODE(os.lstat(path).st_mode)
                seen.setdefault(path, set()).add(m)
            except FileNotFoundError:
                pass
        if p.proc.poll() is not None:
            raise AssertionError("proxyd exited %s:\n%s" % (p.proc.returncode, p.log_tail()))
    p.wait_ready()
    sst = os.lstat(st.sock)
    assert stat.S_ISSOCK(sst.st_mode), "%s is not a socket" % st.sock
    assert stat.S_IMODE(sst.st_mode) == 0o600, "mode,600: socket mode %o" % stat.S_IMODE(sst.st_mode)
    for path, modes in seen.items():
        exp = 0o600 if path == st.sock else 0o660
        assert modes == {exp}, "%s was visible with modes %s (expected only %o)" % (
            path, sorted("%o" % m for m in modes), exp)
    if root:
        o = os.lstat(own)
        assert (stat.S_IMODE(o.st_mode), o.st_uid, o.st_gid) == (0o660, 65534, 65534), \
            "mode,660,uid,65534,gid,65534: %o %d:%d" % (stat.S_IMODE(o.st_mode), o.st_uid, o.st_gid)
        import pwd
        import grp
        n = os.lstat(named)
        exp = (0o640, pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid)
        assert (stat.S_IMODE(n.st_mode), n.st_uid, n.st_gid) == exp, \
            "user,nobody,group,nogroup,mode,640: %o %d:%d" % (stat.S_IMODE(n.st_mode), n.st_uid, n.st_gid)
        assert mcli(own, "show cli level") == "admin\n\n"
    print("   modes seen during startup: %s" % {os.path.basename(k): sorted("%o" % m for m in v)
                                                  for k, v in seen.items()})
    p.stop()


def check_bad_socket_specs():
    st = Setup(sockets=False)
    d = st.p.dir
    port = h.free_port()
    cases = [
        (d + "/a.sock,mode,abc", ["mode", "abc"]),
        (d + "/a.sock,mode", ["mode"]),
        (d + "/a.sock,mode,", ["mode"]),
        (d + "/a.sock,bogus-option", ["bogus-option"]),
        (d + "/a.sock,level,root", ["level", "root"]),
        (d + "/a.sock,uid,alice", ["uid"]),
        (d + "/a.sock,mode,999", ["mode"]),
        ("ipv4@0.0.0.0:%d" % port, ["0.0.0.0"]),
        ("ipv4@192.0.2.1:%d" % port, ["192.0.2.1"]),
    ]
    for spec, needles in cases:
        t0 = time.monotonic()
        rc, out = h.run_proxyd(["-W", "-f", st.p.cfg_path, "-S", spec], timeout=5)
        assert rc == 1, "-S %s: exit %d (expected 1):\n%s" % (spec, rc, out)
        for n in needles:
            assert n in out, "-S %s: the message does not name %r:\n%s" % (spec, n, out)
        assert "New worker" not in out, "-S %s: workers were started:\n%s" % (spec, out)
        assert time.monotonic() - t0 < 3, "-S %s: took %.1fs to fail" % (spec, time.monotonic() - t0)
        print("   -S %s -> %s" % (spec.replace(d, "<dir>"), out.strip().splitlines()[0].replace(d, "<dir>")))
    assert not os.path.exists(d + "/a.sock"), "a refused -S left its socket behind"
    rc, out = h.run_proxyd(["-W", "-f", st.p.cfg_path, "-S", "ipv4@0.0.0.0:%d" % port], timeout=5)
    assert "allow-remote" in out, "refusing a non-loopback -S should mention allow-remote:\n" + out


def check_proxyctl():
    st = Setup()
    ws = st.start()
    p = st.p
    rc, out, err = proxyctl(["-S", st.sock, "show", "proc"])
    assert rc == 0, "proxyctl show proc: rc %d\n%s%s" % (rc, out, err)
    assert parse_show_proc(out)["workers"] == [w.pid for w in ws], out
    rc, out, err = proxyctl(["show", "version"], env={"PROXYD_MASTER_SOCKET": st.sock})
    assert rc == 0 and out.strip() == st.cli("show version").strip(), \
        "PROXYD_MASTER_SOCKET: rc %d %r %r" % (rc, out, err)
    rc, out, err = proxyctl(["-S", st.sock, "@2", "show", "info"])
    assert rc == 0 and info(out, "Pid") == str(ws[1].pid), (rc, out, err)
    rc, out, err = proxyctl(["-S", st.sock, "--json", "show", "proc"])
    assert rc == 0, (rc, out, err)
    j = json.loads(out)
    assert [w["pid"] for w in j["workers"]] == [w.pid for w in ws], out
    rc, out, err = proxyctl(["-S", st.sock, "--json", "@1", "show", "info"])
    assert rc == 0, (rc, out, err)
    assert [f["value"]["value"] for f in json.loads(out) if f["field"]["name"] == "Pid"] == [ws[0].pid], out
    rc, out, err = proxyctl(["-S", st.sock, "frobnicate"])
    assert rc == 1, "proxyctl with an unknown command: rc %d %r" % (rc, out)

    rc, out, err = proxyctl(["-S", st.sock, "reload"], timeout=30)
    assert rc == 0 and out.startswith("Success=1\n--\n"), "proxyctl reload: rc %d\n%s%s" % (rc, out, err)
    p.wait_workers(2, gen=2)
    p.write_config(st.config(broken=True))
    line = h.line_of(p.config_text, "bogus-keyword-for-test")
    rc, out, err = proxyctl(["-S", st.sock, "reload"], timeout=30)
    assert rc == 1 and out.startswith("Success=0\n--\n"), "proxyctl reload, broken config: rc %d\n%s%s" % (rc, out, err)
    assert "%s:%d" % (p.cfg_path, line) in out, out
    rc, out, err = proxyctl(["reload"], env={"PROXYD_MASTER_SOCKET": st.sock}, timeout=30)
    assert rc == 1, "proxyctl reload (socket from the env), broken config: rc %d" % rc
    p.write_config(st.config())
    rc, out, err = proxyctl(["-S", st.sock, "hard-reload"], timeout=30)
    assert rc == 0 and out.startswith("Success=1"), "proxyctl hard-reload: rc %d\n%s%s" % (rc, out, err)

    missing = p.path("missing.sock")
    for args, env in ((["-S", missing, "reload"], None), (["-S", missing, "show", "proc"], None),
                      (["reload"], {"PROXYD_MASTER_SOCKET": missing})):
        rc, out, err = proxyctl(args, env=env)
        assert rc == 2, "proxyctl %s (no master there): rc %d (expected 2) %r %r" % (args, rc, out, err)
        assert err.strip(), "proxyctl %s: no error message on stderr" % args
    print("   proxyctl, missing socket: " + err.strip())
    p.stop(allow_alerts=True)


def check_all_workers_json():
    """`@* show info json` / `@* show stat json` (what `proxyctl --json @* show info` sends):
    @* merges show info / show stat, so the json forms must stay one JSON document."""
    st = Setup()
    ws = st.start()
    problems = []
    for cmd in ("@* show info json", "@* show stat json"):
        out = st.cli(cmd)
        try:
            j = json.loads(out)
        except ValueError as e:
            problems.append("%s is not one JSON document (%s); it starts:\n%s"
                            % (cmd, e, "\n".join(l[:100] for l in out.splitlines()[:4])))
            continue
        flat = [x for r in j for x in (r if isinstance(r, list) else [r])]
        nums = {x.get("processNum") for x in flat}
        if nums != {1, 2}:
            problems.append("%s: processNum values %s (expected both workers 1, 2)" % (cmd, nums))
    rc, out, err = proxyctl(["-S", st.sock, "--json", "@*", "show", "info"])
    try:
        json.loads(out)
    except ValueError:
        problems.append("proxyctl --json @* show info (rc %d) prints no JSON document" % rc)
    st.p.stop()
    assert not problems, "\n".join(problems)


def main():
    h.run_checks("test_master_cli", [
        ("master commands (show proc layout/json, version, startup-logs, cli level/sockets, help)",
         check_master_commands),
        ("';', multi-line ordering, sticky prefix, prompt mode", check_prompt_and_ordering),
        ("worker commands via @N", check_worker_commands),
        ("@* merged stats; state change on every worker kept across reloads", check_all_workers_and_state),
        ("@!<old pid> on a draining worker; hard-reload", check_old_worker_and_hard_reload),
        ("reload with a broken config: Success=0, file:line, old workers serve", check_broken_reload),
        ("concurrent reloads are coalesced", check_reload_coalescing),
        ("idle / partial / non-reading clients do not block", check_idle_and_stuck_clients),
        ("20 clients disconnecting mid-command", check_aborted_clients),
        ("frozen worker: 10 s routed timeout, others served", check_frozen_worker),
        ("levels: user / operator / admin", check_levels),
        ("-S mode/uid/gid applied atomically", check_socket_options),
        ("malformed -S options and non-loopback addresses", check_bad_socket_specs),
        ("proxyctl", check_proxyctl),
        ("@* show info json / show stat json are one JSON document", check_all_workers_json),
    ])


if __name__ == "__main__":
    main()
