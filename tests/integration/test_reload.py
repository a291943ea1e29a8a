#!/usr/bin/env python3
"""Seamless reload: no failed connection under load, broken-config reload keeps the old
generation, frontends added/removed, no fd leak in the master, draining and hard-stop-after."""
import os
import random
import signal
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def check_reload_under_load():
    be = h.echo_backend()
    port = h.free_port()
    p = h.Proxyd(h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 " + be.addr]), nbproc=2))
    p.start()
    p.wait_workers(2)
    stop = threading.Event()
    lock = threading.Lock()
    stats = {"ok": 0, "failed": 0}
    failures = []

    def client(tid):
        n = 0
        while not stop.is_set():
            n += 1
            line = b"thread %d conn %d %d\n" % (tid, n, random.getrandbits(32))
            try:
                s = h.connect(port, timeout=5)
                try:
                    s.sendall(line)
                    s.shutdown(socket.SHUT_WR)
                    got = h.recv_all(s)
                finally:
                    s.close()
                err = None if got == line else "short/wrong reply %r for %r" % (got, line)
            except OSError as e:
                err = "%s: %s" % (type(e).__name__, e)
            with lock:
                if err:
                    stats["failed"] += 1
                    if len(failures) < 10:
                        failures.append("%.3f %s" % (time.monotonic(), err))
                else:
                    stats["ok"] += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    before = len(p.outcomes())
    signals = 0
    try:
        for _ in range(10):
            time.sleep(1)
            assert p.master_alive(), "master died under load"
            p.send_signal(signal.SIGUSR2)
            signals += 1
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    # Wait for the last (possibly coalesced) reload to finish.
    # Wait for the last (possibly coalesced) reload to finish: no new outcome for 1.5 s.
    last = [len(p.outcomes()), time.monotonic()]

    def settled():
        n = len(p.outcomes())
        if n != last[0]:
            last[0], last[1] = n, time.monotonic()
        return time.monotonic() - last[1] >= 1.5
    h.wait_until(settled, 15, "the last reload to finish")
    outcomes = p.outcomes()[before:]
    reloads = len(outcomes)
    print("reload-under-load: %d connections, %d failed, %d reloads (%d SIGUSR2 sent)"
          % (stats["ok"] + stats["failed"], stats["failed"], reloads, signals), flush=True)
    assert stats["failed"] == 0, "%d connections failed during reloads, first ones:\n  %s" \
        % (stats["failed"], "\n  ".join(failures))
    assert reloads >= 1, "no reload happened"
    assert outcomes == ["success"] * reloads, "reload outcomes: %s" % outcomes
    assert stats["ok"] > 0
    p.wait_workers(2, timeout=15)
    p.stop()


def check_broken_reload():
    be = h.echo_backend()
    port = h.free_port()
    good = h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 " + be.addr]), nbproc=2)
    p = h.Proxyd(good)
    p.start()
    ws = p.wait_workers(2)
    pids = sorted(w.pid for w in ws)
    bad = good.replace("    default_backend fe_be\n",
                       "    default_backend fe_be\n    this-is-not-a-keyword {\n")
    bad_line = h.line_of(bad, "this-is-not-a-keyword")
    p.write_config(bad)
    r = p.reload()
    assert r == "failure", "reload with a syntax error: %s (expected 'Loading failure!')" % r
    needle = "%s:%d" % (p.cfg_path, bad_line)
    assert needle in p.log(), "the error at %s is not in the log:\n%s" % (needle, p.log_tail())
    after = sorted(w.pid for w in p.workers())
    assert after == pids, "workers changed after a failed reload: %s -> %s" % (pids, after)
    for _ in range(5):
        h.assert_echo(port)
    print("   " + next(l for l in p.log().splitlines() if needle in l).strip())
    # Back to a good config: reload works again (SIGHUP is a reload too).
    p.write_config(good)
    assert p.reload(signal.SIGHUP) == "success", "SIGHUP reload after fixing the config " \
        "failed:\n" + p.log_tail()
    p.wait_workers(2, timeout=15)
    h.assert_echo(port)
    p.stop(allow_alerts=True)


def check_add_remove_frontend():
    be = h.echo_backend()
    pa, pb, pc = h.free_port(), h.free_port(), h.free_port()
    fa = h.tcp_proxy("fa", "127.0.0.1:%d" % pa, ["s1 " + be.addr])
    fb = h.tcp_proxy("fb", "127.0.0.1:%d" % pb, ["s1 " + be.addr])
    fc = h.tcp_proxy("fc", "127.0.0.1:%d" % pc, ["s1 " + be.addr])
    p = h.Proxyd(h.make_config(fa + fb, nbproc=2))
    p.start()
    p.wait_workers(2)
    h.assert_echo(pa)
    h.assert_echo(pb)
    p.write_config(h.make_config(fa + fc, nbproc=2))
    assert p.reload() == "success", "reload failed:\n" + p.log_tail()
    h.assert_echo(pc)  # the new frontend serves right after the reload
    h.assert_echo(pa)
    gen = p.generation()
    p.wait_workers(2, gen=gen, timeout=15)
    h.wait_refused(pb, timeout=10)
    h.assert_echo(pa)
    h.assert_echo(pc)
    print("   port %d added and served, port %d removed and refused" % (pc, pb))
    p.stop()


def master_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def check_master_fd_leak():
    be = h.echo_backend()
    port = h.free_port()
    p = h.Proxyd(h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 " + be.addr]), nbproc=1))
    p.start()
    p.wait_workers(1, gen=1)
    before = master_fds(p.master_pid)
    fds_before = sorted(os.listdir("/proc/%d/fd" % p.master_pid), key=int)
    for i in range(20):
        assert p.reload() == "success", "reload %d failed:\n%s" % (i + 1, p.log_tail())
        p.wait_workers(1, gen=p.generation(), timeout=10)
        h.assert_echo(port)
    # The master may close a reaped worker's channel a moment after the reap: bounded wait.
    try:
        h.wait_until(lambda: master_fds(p.master_pid) == before, 5, "master fd count %d" % before)
    except AssertionError:
        pass
    after = master_fds(p.master_pid)
    print("   master fds: %d before, %d after 20 reloads" % (before, after), flush=True)
    if after != before:
        fds = {}
        for fd in sorted(os.listdir("/proc/%d/fd" % p.master_pid), key=int):
            try:
                fds[fd] = os.readlink("/proc/%d/fd/%s" % (p.master_pid, fd))
            except OSError:
                pass
        raise AssertionError("master fd count changed: %d before, %d after 20 reloads\n"
                             "before: %s\nnow: %s" % (before, after, fds_before, fds))
    p.stop()


def check_long_lived_connection():
    be = h.echo_backend()
    port = h.free_port()
    p = h.Proxyd(h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 " + be.addr]), nbproc=1))
    p.start()
    (old,) = p.wait_workers(1, gen=1)
    s = h.connect(port, timeout=5)
    s.sendall(b"before reload\n")
    assert h.recv_exact(s, 14) == b"before reload\n"
    assert p.reload() == "success", "reload failed:\n" + p.log_tail()
    h.wait_until(lambda: [w for w in p.workers() if w.gen == 2], 10, "a generation-2 worker")
    h.assert_echo(port)  # new connections go to the new generation
    assert h.is_alive(old.pid), "old worker %d exited while a connection was open (no " \
        "hard-stop-after configured)" % old.pid
    time.sleep(1)
    assert h.is_alive(old.pid), "old worker %d exited while draining" % old.pid
    s.sendall(b"after reload\n")
    assert h.recv_exact(s, 13) == b"after reload\n", "long-lived connection broken by the reload"
    s.shutdown(socket.SHUT_WR)
    assert h.recv_all(s) == b"", "expected EOF after half-close"
    s.close()
    h.wait_gone([old.pid], 10, "old worker %d to exit once its last connection closed" % old.pid)
    p.wait_log(r"Former worker \(%d\) exited with code 0" % old.pid, timeout=5)
    print("   old worker %d drained its connection across the reload, then exited" % old.pid)
    p.stop()


def check_hard_stop_after():
    be = h.echo_backend()
    port = h.free_port()
    p = h.Proxyd(h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 " + be.addr]),
                               nbproc=1, global_lines=["hard-stop-after 1s"]))
    p.start()
    (old,) = p.wait_workers(1, gen=1)
    s = h.connect(port, timeout=15)
    s.sendall(b"hold\n")
    assert h.recv_exact(s, 5) == b"hold\n"
    assert p.reload() == "success", "reload failed:\n" + p.log_tail()
    h.wait_gone([old.pid], 15, "hard-stop-after 1s to end old worker %d holding a connection"
                % old.pid)
    try:
        rest = s.recv(100)
    except (ConnectionResetError, socket.timeout) as e:
        rest = e
    s.close()
    assert rest == b"" or isinstance(rest, ConnectionResetError), \
        "the held connection should be closed once the old worker is gone, got %r" % (rest,)
    h.assert_echo(port)
    print("   old worker %d stopped by hard-stop-after; connection closed (%r)" % (old.pid, rest))
    p.stop(allow_alerts=True)


def check_start_deadline():
    """A new generation that never reports READY (its worker is frozen with SIGSTOP right after
    the fork) is killed after mworker-start-timeout; the old generation keeps serving and the
    next reload works."""
    be = h.echo_backend()
    port = h.free_port()
    cfg = h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 " + be.addr]), nbproc=1,
                        global_lines=["mworker-start-timeout 2s"])
    p = h.Proxyd(cfg)
    p.start()
    old = p.wait_workers(1)[0]
    frozen = None
    for attempt in range(8):
        gen = p.generation() + 1
        successes = p.log().count("Loading success.")
        os.kill(p.master_pid, signal.SIGUSR2)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and frozen is None:
            for pid in h.children_of(p.master_pid):
                w = h.worker_info(pid)
                if w is not None and w.gen >= gen:
                    try:
                        os.kill(pid, signal.SIGSTOP)
                        frozen = w
                    except ProcessLookupError:
                        pass
                    break
        # Too late if that generation already reported READY: try again.
        time.sleep(0.2)
        if frozen is not None and p.log().count("Loading success.") == successes:
            break
        if frozen is not None:
            os.kill(frozen.pid, signal.SIGCONT)
            frozen = None
        p.wait_log(r"Loading success\.", count=successes + 1, timeout=10)
        old = p.wait_workers(1)[-1]
    assert frozen is not None, "could not freeze a new worker before it was ready in 8 attempts"
    p.wait_log(r"did not become ready within mworker-start-timeout", timeout=10)
    p.wait_log(r"Loading failure!", timeout=5)
    h.wait_gone([frozen.pid], 10, "the frozen worker %d (must be killed)" % frozen.pid)
    serving = [w.pid for w in p.workers()]
    assert serving == [old.pid], "after the deadline, workers %s (expected the old one %d)" % (serving, old.pid)
    for _ in range(5):
        h.assert_echo(port)
    print("   " + next(l for l in p.log().splitlines() if "did not become ready" in l).strip())
    assert p.reload() == "success", "the next reload failed:\n" + p.log_tail()
    h.assert_echo(port)
    p.stop(allow_alerts=True)


def main():
    h.run_checks("test_reload", [
        ("reload under load", check_reload_under_load),
        ("broken config reload", check_broken_reload),
        ("reload adds and removes frontends", check_add_remove_frontend),
        ("master fd count across 20 reloads", check_master_fd_leak),
        ("long-lived connection drains", check_long_lived_connection),
        ("hard-stop-after", check_hard_stop_after),
        ("new generation past mworker-start-timeout", check_start_deadline),
    ])


if __name__ == "__main__":
    main()
