#!/usr/bin/env python3
"""Workers drop privileges: user/group, no supplementary groups, no capabilities,
NoNewPrivs, chroot; the master still binds a privileged port; no NOTIFY_SOCKET in workers."""
import grp
import os
import pwd
import socket
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CAP_KEYS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
ZERO_CAPS = "0000000000000000"


def need_root():
    if os.geteuid() != 0:
        raise h.Skip("not root")


def assert_unprivileged(pid, uid, gid):
    st = h.proc_status(pid)
    lines = h.proc_status_lines(pid, ("Uid", "Gid", "Groups", "NoNewPrivs") + CAP_KEYS)
    for l in lines:
        print("   worker %d %s" % (pid, l))
    assert st["Uid"].split() == [str(uid)] * 4, "worker %d Uid: %r, expected %d x4" % (pid, st["Uid"], uid)
    assert st["Gid"].split() == [str(gid)] * 4, "worker %d Gid: %r, expected %d x4" % (pid, st["Gid"], gid)
    assert st["Groups"] == "", "worker %d has supplementary groups: %r" % (pid, st["Groups"])
    for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"):
        assert st[k] == ZERO_CAPS, "worker %d %s: %s, expected %s" % (pid, k, st[k], ZERO_CAPS)
    assert st["NoNewPrivs"] == "1", "worker %d NoNewPrivs: %s" % (pid, st["NoNewPrivs"])


def check_user_group_chroot_privport():
    need_root()
    be = h.echo_backend()
    port = h.free_privileged_port()
    uid = pwd.getpwnam("nobody").pw_uid
    gid = grp.getgrnam("nogroup").gr_gid
    p = h.Proxyd()
    jail = p.path("jail")
    os.mkdir(jail, 0o755)
    notify = p.path("notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(notify)
    p.env = {"NOTIFY_SOCKET": notify}  # must not reach the workers
    p.write_config(h.make_config(
        h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 " + be.addr]), nbproc=2,
        global_lines=["user nobody", "group nogroup", "chroot %s" % jail]))
    p.start()
    ws = p.wait_workers(2)
    for w in ws:
        assert_unprivileged(w.pid, uid, gid)
        root = os.readlink("/proc/%d/root" % w.pid)
        assert root == os.path.realpath(jail), "worker %d root is %r, expected the jail %r" \
            % (w.pid, root, jail)
        env = h.proc_environ(w.pid)
        assert not [e for e in env if e.startswith("NOTIFY_SOCKET=")], \
            "worker %d environment has NOTIFY_SOCKET: %s" % (w.pid, env)
    print("   workers chrooted in %s; privileged port %d:" % (jail, port))
    for _ in range(4):
        h.assert_echo(port)
    # The master stays root (it binds and re-binds listeners on reload).
    mst = h.proc_status(p.master_pid)
    assert mst["Uid"].split()[1] == "0", "master euid is %s" % mst["Uid"]
    p.stop()
    ns.close()


def check_default_user_is_nobody():
    need_root()
    be = h.echo_backend()
    port = h.free_port()
    uid = pwd.getpwnam("nobody").pw_uid
    gid = grp.getgrnam("nogroup").gr_gid
    p = h.Proxyd(h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 " + be.addr]), nbproc=1))
    p.start()
    (w,) = p.wait_workers(1)
    assert_unprivileged(w.pid, uid, gid)
    warn = [l for l in p.log().splitlines() if "[WARNING]" in l and "nobody" in l]
    assert warn, "no warning that workers run as nobody/nogroup by default:\n" + p.log_tail()
    h.assert_echo(port)
    print("   " + warn[0])
    p.stop()


def check_chroot_nonexistent():
    p = h.Proxyd(h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % h.free_port(), ["s1 127.0.0.1:9"]),
                               global_lines=["chroot /nonexistent"]))
    rc, out = h.run_proxyd(["-c", "-f", p.cfg_path])
    assert rc == 1, "-c with 'chroot /nonexistent' exited %d (expected 1):\n%s" % (rc, out)
    assert "/nonexistent" in out, "the error does not name /nonexistent:\n" + out
    print("   " + next(l for l in out.splitlines() if "/nonexistent" in l))


def main():
    h.run_checks("test_privileges", [
        ("user/group/chroot, privileged port", check_user_group_chroot_privport),
        ("default user nobody/nogroup", check_default_user_is_nobody),
        ("chroot /nonexistent rejected by -c", check_chroot_nonexistent),
    ])


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP test_privileges: not root")
        sys.exit(0)
    main()
