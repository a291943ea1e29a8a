#!/usr/bin/env bash
# README command 1: install build dependencies (Debian 12, as root), build proxyd, and run it
# in the foreground on examples/quickstart.cfg in front of two tiny local web servers.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

deps=(meson ninja-build pkg-config g++ catch2 libssl-dev libpcre2-dev libcap-ng-dev libsystemd-dev python3 curl socat)
missing=()
for p in "${deps[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "run as root to install: ${missing[*]}" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null

run=$(mktemp -d /tmp/proxyd-quickstart.XXXXXX)
chmod 755 "$run"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$run"
}
trap cleanup EXIT INT TERM
for n in 1 2; do
    mkdir -p "$run/web$n"
    echo "hello from web$n, through proxyd" >"$run/web$n/index.html"
    python3 -m http.server --bind 127.0.0.1 --directory "$run/web$n" "808$n" >"$run/web$n.log" 2>&1 &
    pids+=($!)
done
sleep 0.5
cat <<MSG

proxyd is starting on examples/quickstart.cfg (master pid printed below). Try, from another shell:
  curl http://127.0.0.1:8080/          # alternates between web1 and web2
  echo | nc 127.0.0.1 8080             # plain TCP works too
  kill -USR2 \$(cat $run/proxyd.pid)   # seamless reload (SIGHUP works too)
  kill -USR1 \$(cat $run/proxyd.pid)   # soft stop; Ctrl-C here is a hard stop
Master CLI: not in this build yet (see docs/management.md); workers are visible with
  ps --ppid \$(cat $run/proxyd.pid) -o pid,user,args

MSG
build/proxyd -W -f examples/quickstart.cfg -p "$run/proxyd.pid" &
pids+=($!)
wait "${pids[-1]}" || true
