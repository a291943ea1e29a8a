#!/usr/bin/env python3
"""Command line: -v, -vv, -c, usage errors, -f DIR, ${VAR} expansion."""
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def check_version():
    rc, out = h.run_proxyd(["-v"])
    assert rc == 0, "-v exited %d: %s" % (rc, out)
    assert re.search(r"^proxyd version \d+\.\d+\.\d+ \d{4}/\d{2}/\d{2}$", out, re.M), \
        "-v output lacks 'proxyd version X.Y.Z YYYY/MM/DD':\n" + out
    assert "Feature list" not in out, "-v should not print the feature list:\n" + out
    print("   " + out.strip().splitlines()[0])


def check_version_verbose():
    rc, out = h.run_proxyd(["-vv"])
    assert rc == 0, "-vv exited %d: %s" % (rc, out)
    assert re.search(r"^proxyd version \d+\.\d+\.\d+", out, re.M), "-vv lacks the version line:\n" + out
    m = re.search(r"^Feature list\s*:.*$", out, re.M)
    assert m, "-vv lacks 'Feature list':\n" + out
    print("   " + m.group(0))


def valid_config(port, backend):
    return h.make_config(h.tcp_proxy("fe", "127.0.0.1:%d" % port, ["s1 " + backend]))


def check_c_valid():
    p = h.Proxyd(valid_config(h.free_port(), "127.0.0.1:9"))
    rc, out = h.run_proxyd(["-c", "-f", p.cfg_path])
    assert rc == 0, "-c on a valid config exited %d:\n%s" % (rc, out)
    assert "Configuration file is valid" in out, "-c output lacks 'Configuration file is valid':\n" + out
    assert not h.our_children(), "-c left a process behind"


def check_c_two_errors():
    cfg = h.make_config(
        "frontend fe\n"
        "    bind 127.0.0.1:%d\n"
        "    this-is-not-a-keyword 42\n"
        "    default_backend be\n"
        "\n"
        "backend be\n"
        "    server s1 127.0.0.1:9 weight 1000\n" % h.free_port())
    p = h.Proxyd(cfg)
    l1 = h.line_of(cfg, "this-is-not-a-keyword")
    l2 = h.line_of(cfg, "weight 1000")
    rc, out = h.run_proxyd(["-c", "-f", p.cfg_path])
    assert rc == 1, "-c with 2 errors exited %d (expected 1):\n%s" % (rc, out)
    for line in (l1, l2):
        needle = "%s:%d" % (p.cfg_path, line)
        assert needle in out, "error at %s not reported:\n%s" % (needle, out)
    assert "Configuration file is valid" not in out, out
    print("   " + "\n   ".join(l for l in out.splitlines() if p.cfg_path in l))


def check_unknown_flag():
    rc, out = h.run_proxyd(["-Z", "-f", "/dev/null"])
    assert rc == 1, "unknown flag -Z exited %d (expected 1):\n%s" % (rc, out)
    assert re.search(r"usage", out, re.I), "unknown flag: no usage text:\n" + out


def check_missing_f_argument():
    rc, out = h.run_proxyd(["-f"])
    assert rc == 1, "'-f' without argument exited %d (expected 1):\n%s" % (rc, out)
    assert re.search(r"usage", out, re.I), "'-f' without argument: no usage text:\n" + out
    rc, out = h.run_proxyd(["-W"])
    assert rc == 1, "no -f at all exited %d (expected 1):\n%s" % (rc, out)
    assert re.search(r"usage", out, re.I), "no -f: no usage text:\n" + out


def check_config_dir():
    be = h.echo_backend()
    port = h.free_port()
    p = h.Proxyd()
    d = p.path("conf.d")
    os.mkdir(d)
    files = {
        "10-global.cfg": "global\n    nbproc 1\n\n" + h.DEFAULTS,
        "20-frontend.cfg": "frontend fe\n    bind 127.0.0.1:%d\n    default_backend be\n" % port,
        "30-backend.cfg": "backend be\n    server s1 %s\n" % be.addr,
        "notes.txt": "this is not a configuration file and must be ignored\n",
        "40-disabled.cfg.bak": "garbage that must be ignored\n",
    }
    for name in sorted(files, reverse=True):  # created in reverse order on purpose
        with open(os.path.join(d, name), "w") as f:
            f.write(files[name])
    rc, out = h.run_proxyd(["-c", "-f", d])
    assert rc == 0 and "Configuration file is valid" in out, "-c -f DIR exited %d:\n%s" % (rc, out)
    p.cfg_path = d
    p.start()
    h.assert_echo(port)
    p.stop()

    # Lexical order: "10-a.cfg" is read before "9-b.cfg", so the duplicate is in 9-b.cfg.
    d2 = p.path("order.d")
    os.mkdir(d2)
    for name in ("9-b.cfg", "10-a.cfg"):
        with open(os.path.join(d2, name), "w") as f:
            f.write("backend dup\n    server s1 %s\n" % be.addr)
    rc, out = h.run_proxyd(["-c", "-f", d2])
    assert rc == 1, "duplicate backend across files: -c exited %d:\n%s" % (rc, out)
    alerts = "\n".join(l for l in out.splitlines() if "[ALERT]" in l)
    assert re.search(r"parsing \[[^\]]*/9-b\.cfg:1\]", alerts), \
        "the duplicate should be reported at 9-b.cfg:1 (read after 10-a.cfg):\n" + out
    assert not re.search(r"parsing \[[^\]]*/10-a\.cfg:1\]", alerts), \
        "10-a.cfg is read first, its backend is not the duplicate:\n" + out
    print("   " + next(l for l in alerts.splitlines() if "9-b.cfg:1]" in l))


def check_env_expansion():
    be = h.echo_backend()
    port = h.free_port()
    cfg = h.make_config(
        "frontend fe\n    bind ${PXT_ADDR}:${PXT_PORT}\n    default_backend be\n\n"
        "backend be\n    server s1 ${PXT_BACKEND}\n")
    p = h.Proxyd(cfg, env={"PXT_ADDR": "127.0.0.1", "PXT_PORT": str(port), "PXT_BACKEND": be.addr})
    p.start()
    h.assert_echo(port)
    p.stop()
    # An unset variable must not silently become a valid config pointing elsewhere.
    rc, out = h.run_proxyd(["-c", "-f", p.cfg_path], env={"PXT_ADDR": "127.0.0.1",
                                                          "PXT_BACKEND": be.addr})
    assert rc == 1, "unset ${PXT_PORT}: -c exited %d (expected 1):\n%s" % (rc, out)


def main():
    h.run_checks("test_cli", [
        ("-v", check_version),
        ("-vv", check_version_verbose),
        ("-c valid config", check_c_valid),
        ("-c config with 2 errors", check_c_two_errors),
        ("unknown flag", check_unknown_flag),
        ("missing -f argument / no -f", check_missing_f_argument),
        ("-f directory (*.cfg, lexical order)", check_config_dir),
        ("${VAR} expansion", check_env_expansion),
    ])


if __name__ == "__main__":
    main()
