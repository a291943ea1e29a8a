#!/usr/bin/env python3
"""sd_notify: READY/MAINPID/STATUS at start, RELOADING+MONOTONIC_USEC then READY on reload,
"failed" STATUS on a broken reload, STOPPING on SIGTERM; workers never see NOTIFY_SOCKET."""
import os
import re
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


class Notify:
    """A NOTIFY_SOCKET: an AF_UNIX datagram socket in the instance's temp dir."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.log = []

    def recv(self, timeout=10):
        """Next datagram as (raw text, {key: value}); fails after timeout."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError("no sd_notify datagram within %ss (got so far: %s)" % (timeout, self.log))
        text = data.decode("utf-8", "replace")
        self.log.append(text)
        kv = {}
        for line in text.split("\n"):
            if "=" in line:
                k, v = line.split("=", 1)
                kv[k] = v
        return text, kv

    def recv_until(self, key, timeout=10):
        """Datagrams until one has `key`; returns (that one's dict, all dicts seen)."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no sd_notify datagram with %s within %ss; got %s" % (key, timeout, seen))
            _, kv = self.recv(left)
            seen.append(kv)
            if key in kv:
                return kv, seen

    def close(self):
        self.sock.close()


def start(mode_args=("-Ws",)):
    be = h.echo_backend()
    port = h.free_port()
    good = h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 " + be.addr]), nbproc=2)
    p = h.Proxyd(good, args=mode_args)
    n = Notify(p.path("notify.sock"))
    p.env = {"NOTIFY_SOCKET": n.path}
    p.start()
    return p, n, port, good


def check_notify_sequence():
    p, n, port, good = start()
    try:
        text, kv = n.recv()
        print("   start: %r" % text)
        assert kv.get("READY") == "1", "first datagram lacks READY=1: %r" % text
        assert kv.get("MAINPID") == str(p.master_pid), "MAINPID=%s, master is %d" % (kv.get("MAINPID"), p.master_pid)
        assert "STATUS" in kv, "first datagram lacks STATUS=: %r" % text
        ws = p.wait_workers(2)
        for w in ws:
            env = h.proc_environ(w.pid)
            assert not [e for e in env if e.startswith("NOTIFY_SOCKET=")], \
                "worker %d environment has NOTIFY_SOCKET" % w.pid

        # Good reload: RELOADING=1 + MONOTONIC_USEC (CLOCK_MONOTONIC), then READY=1.
        t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        p.send_signal(signal.SIGUSR2)
        text, kv = n.recv()
        t1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        print("   reload: %r" % text)
        assert kv.get("RELOADING") == "1", "first datagram after SIGUSR2 lacks RELOADING=1: %r" % text
        us = kv.get("MONOTONIC_USEC", "")
        assert re.fullmatch(r"\d+", us), "RELOADING=1 without MONOTONIC_USEC=<digits>: %r" % text
        assert t0 <= int(us) <= t1, "MONOTONIC_USEC=%s is not CLOCK_MONOTONIC between %d and %d" % (us, t0, t1)
        kv, seen = n.recv_until("READY")
        print("   reload done: %s" % kv)
        assert kv.get("READY") == "1"
        assert not re.search(r"reload failed", kv.get("STATUS", ""), re.I), \
            "good reload reported as failed: %s" % kv
        p.wait_workers(2, timeout=15)

        # Broken reload: RELOADING=1, then READY=1 with a STATUS that says it failed.
        p.write_config(good + "\nthis-is-not-a-section\n")
        p.send_signal(signal.SIGUSR2)
        kv, seen = n.recv_until("RELOADING")
        kv, seen = n.recv_until("READY")
        print("   broken reload done: %s" % kv)
        # "(0 failed)"-style counters also contain "fail": look for the failure statement.
        assert re.search(r"reload failed", kv.get("STATUS", ""), re.I), \
            "READY=1 after a failed reload: STATUS does not say 'Reload failed': %s" % kv
        h.assert_echo(port)

        # Stop: STOPPING=1.
        p.send_signal(signal.SIGTERM)
        kv, seen = n.recv_until("STOPPING", timeout=5)
        print("   stop: %s" % kv)
        assert kv.get("STOPPING") == "1"
        p.stop(allow_alerts=True)
    finally:
        n.close()


def check_notify_socket_alone():
    # NOTIFY_SOCKET set without -Ws also enables the protocol.
    p, n, port, good = start(mode_args=("-W",))
    try:
        text, kv = n.recv()
        assert kv.get("READY") == "1" and kv.get("MAINPID") == str(p.master_pid), \
            "with NOTIFY_SOCKET and -W: first datagram %r" % text
        h.assert_echo(port)
        p.stop()
    finally:
        n.close()


def main():
    h.run_checks("test_sdnotify", [
        ("-Ws: READY, RELOADING/READY, failed reload, STOPPING", check_notify_sequence),
        ("NOTIFY_SOCKET without -Ws", check_notify_socket_alone),
    ])


if __name__ == "__main__":
    main()
