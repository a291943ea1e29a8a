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
  curl http://127.0.0.1:8080/          # alternates between web1 and web2 (one httplog line each, below)
  curl http://127.0.0.1:8080/health    # answered by proxyd itself (http-request return)
  curl -H 'Host: a b' http://127.0.0.1:8080/   # malformed: 400 from proxyd, never reaches a server
Master CLI (HAProxy-compatible):
  echo 'show proc' | socat $run/master.sock -
  echo '@1 show info' | socat $run/master.sock -
  echo '@* show stat' | socat $run/master.sock - | cut -d, -f1-10
  echo reload | socat -t 60 $run/master.sock -          # synchronous: Success=1 + logs
  build/cli/proxyctl -S $run/master.sock               # interactive prompt
Signals: kill -USR2 \$(cat $run/proxyd.pid) reloads, kill -USR1 soft-stops; Ctrl-C here stops all.

MSG
build/proxyd -W -S "$run/master.sock,mode,600" -f examples/quickstart.cfg -p "$run/proxyd.pid" &
pids+=($!)
wait "${pids[-1]}" || true
