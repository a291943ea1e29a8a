#!/usr/bin/env python3
"""Process lifecycle: worker respawn, SIGTERM/SIGUSR1 stops, pidfile, -D daemon mode."""
import os
import shutil
import signal
import socket
import stat
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def simple(nbproc=2):
    be = h.echo_backend()
    port = h.free_port()
    p = h.Proxyd(h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 " + be.addr]), nbproc=nbproc))
    return p, port


def check_worker_respawn():
    p, port = simple(2)
    p.start()
    ws = p.wait_workers(2)
    victim = ws[0]
    os.kill(victim.pid, signal.SIGKILL)
    h.wait_gone([victim.pid], 5, "killed worker %d" % victim.pid)
    p.wait_log(r"Current worker \(%d\) exited with code" % victim.pid, timeout=10)

    def replaced():
        now = p.workers()
        return len(now) == 2 and victim.pid not in [w.pid for w in now] and now
    now = h.wait_until(replaced, 15, "a replacement for worker %d" % victim.pid)
    new = [w for w in now if w.pid not in [x.pid for x in ws]]
    assert len(new) == 1, "expected one new worker: before %s, now %s" % (ws, now)
    assert new[0].idx == victim.idx, "replacement has index %d, the dead worker had %d" \
        % (new[0].idx, victim.idx)
    p.wait_log(r"New worker \(%d\) forked" % new[0].pid, timeout=5)
    for _ in range(6):
        h.assert_echo(port)
    line = next(l for l in p.log().splitlines() if "Current worker (%d)" % victim.pid in l)
    print("   " + line.strip())
    print("   replaced by %s" % new[0])
    # The death of a worker is logged as an alert by HAProxy; do not count it against us.
    p.stop(allow_alerts=True)


def check_exit_on_failure():
    """`master-worker exit-on-failure`: HAProxy's behaviour, a dead worker stops everything and
    the master exits with that worker's status (137 for SIGKILL)."""
    be = h.echo_backend()
    port = h.free_port()
    p = h.Proxyd(h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 " + be.addr]), nbproc=2,
                               global_lines=["master-worker exit-on-failure"]))
    p.start()
    ws = p.wait_workers(2)
    h.assert_echo(port)
    os.kill(ws[0].pid, signal.SIGKILL)
    code = h.wait_until(lambda: p.proc.poll() is not None and (p.proc.returncode,),
                        10, "the master to exit after a worker died")[0]
    assert code == 137, "master exit code %s, expected 137 (the worker's SIGKILL)" % code
    h.wait_gone([w.pid for w in ws], 5, "the other worker")
    p.wait_log(r"exit-on-failure: killing every processes", timeout=2)
    print("   master exited with %d; log: %s" % (code, [l for l in p.log().splitlines() if "exit-on-failure" in l][0].strip()))
    p.stop(expect_code=None, allow_alerts=True)


def check_sigterm():
    p, port = simple(2)
    p.start()
    pids = [w.pid for w in p.wait_workers(2)] + [p.master_pid]
    h.assert_echo(port)
    code = p.stop(signal.SIGTERM)  # asserts exit 143 and no survivor
    assert code == 143, "SIGTERM: master exited %s, expected 143" % code
    for pid in pids:
        assert not h.is_alive(pid), "pid %d still alive after SIGTERM" % pid
    assert not os.path.exists(p.pidfile), "pidfile %s left after exit" % p.pidfile
    h.wait_refused(port, 5)
    assert "Exiting" in p.log(), "no 'All workers exited. Exiting...' line:\n" + p.log_tail()
    print("   master exit 143, %d processes gone, pidfile removed" % len(pids))


def check_sigint():
    p, port = simple(1)
    p.start()
    pids = [w.pid for w in p.wait_workers(1)] + [p.master_pid]
    code = p.stop(signal.SIGINT)
    assert code == 130, "SIGINT: master exited %s, expected 130" % code
    for pid in pids:
        assert not h.is_alive(pid), "pid %d still alive after SIGINT" % pid
    print("   master exit 130")


def check_sigusr1():
    p, port = simple(2)
    p.start()
    pids = [w.pid for w in p.wait_workers(2)] + [p.master_pid]
    h.assert_echo(port)
    code = p.stop(signal.SIGUSR1)
    assert code == 0, "SIGUSR1: master exited %s, expected 0" % code
    for pid in pids:
        assert not h.is_alive(pid), "pid %d still alive after SIGUSR1" % pid
    assert not os.path.exists(p.pidfile), "pidfile %s left after exit" % p.pidfile
    print("   soft stop: master exit 0, %d processes gone" % len(pids))


def check_pidfile():
    p, port = simple(1)
    p.start()
    with open(p.pidfile, "rb") as f:
        content = f.read()
    assert content == b"%d\n" % p.master_pid, "pidfile contains %r, expected %r" \
        % (content, b"%d\n" % p.master_pid)
    st = os.lstat(p.pidfile)
    assert stat.S_ISREG(st.st_mode), "pidfile is not a regular file"
    p.stop()
    assert not os.path.exists(p.pidfile), "pidfile not removed after exit"


def check_pidfile_symlink():
    tdir = tempfile.mkdtemp(prefix="proxyd-it-target-")
    target = os.path.join(tdir, "target")
    with open(target, "w") as f:
        f.write("untouched\n")
    p, port = simple(1)
    os.symlink(target, p.pidfile)
    try:
        p.start()
        with open(target) as f:
            assert f.read() == "untouched\n", "the symlink target was written through the pidfile"
        st = os.lstat(p.pidfile)
        assert stat.S_ISREG(st.st_mode), "pidfile path is still not a regular file (mode %o)" % st.st_mode
        with open(p.pidfile) as f:
            assert f.read() == "%d\n" % p.master_pid
        p.stop()
        with open(target) as f:
            assert f.read() == "untouched\n", "the symlink target changed after exit"
        print("   symlink replaced by a regular pidfile; target untouched")
    finally:
        shutil.rmtree(tdir, ignore_errors=True)


def check_daemon():
    p, port = simple(2)
    rc, out = p.start_daemon()
    assert rc == 0, "proxyd -D parent exited %d:\n%s" % (rc, out)
    # Right after the parent's exit, the proxy must already serve.
    h.assert_echo(port)
    assert p.daemon_pid, "no pid in the pidfile after -D returned"
    assert p.daemon_pid != p.proc.pid, "pidfile holds the parent's pid, not the daemon master's"
    assert h.is_alive(p.daemon_pid), "daemon master %d not running" % p.daemon_pid
    ws = p.wait_workers(2)
    print("   -D returned 0; daemon master %d, workers %s" % (p.daemon_pid, [w.pid for w in ws]))
    code = p.stop(signal.SIGTERM)
    assert not os.path.exists(p.pidfile), "pidfile left after the daemon exited"
    print("   daemon master exit code %s" % code)


def check_daemon_bad_bind():
    be = h.echo_backend()
    port = h.free_port()
    busy = socket.create_server(("127.0.0.1", port))  # the test owns the port
    try:
        p = h.Proxyd(h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 " + be.addr])))
        rc, out = p.start_daemon()
        assert rc != 0, "proxyd -D with a port in use exited 0:\n" + out
        assert str(port) in out, "the error does not name the port %d:\n%s" % (port, out)
        assert not os.path.exists(p.pidfile), "pidfile written although startup failed"
        p.stopped = True
        left = [c for c in h.our_children() if h.is_alive(c)]
        h.wait_until(lambda: not [c for c in h.our_children() if h.is_alive(c)], 5,
                     "no proxyd process left after a failed -D start (%s)" % left)
        print("   -D exit %d: %s" % (rc, next((l for l in out.splitlines() if str(port) in l), "")))
    finally:
        busy.close()


def main():
    h.run_checks("test_lifecycle", [
        ("SIGKILL a worker -> replaced", check_worker_respawn),
        ("master-worker exit-on-failure", check_exit_on_failure),
        ("SIGTERM -> exit 143, all gone", check_sigterm),
        ("SIGINT -> exit 130", check_sigint),
        ("SIGUSR1 -> soft stop, exit 0", check_sigusr1),
        ("pidfile content and removal", check_pidfile),
        ("pidfile symlink not followed", check_pidfile_symlink),
        ("-D returns when serving", check_daemon),
        ("-D with a port in use fails", check_daemon_bad_bind),
    ])


if __name__ == "__main__":
    main()
