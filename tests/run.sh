#!/usr/bin/env bash
# The whole test suite, as a newcomer and CI run it (README command 2):
# installs the build dependencies (Debian 12, as root), builds proxyd twice (normal, and
# ASan+UBSan), runs every unit, fuzz-replay and integration test on both builds, and ends
# with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

deps=(meson ninja-build pkg-config g++ catch2 libssl-dev libpcre2-dev libcap-ng-dev libsystemd-dev
      python3 socat netcat-openbsd curl)
missing=()
for p in "${deps[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then echo "run as root to install: ${missing[*]}" >&2; exit 1; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null || { echo "apt-get install failed" >&2; exit 1; }
fi

werror=false
[ "${CI:-}" = true ] && werror=true
jobs=$(nproc)
status=0

build() {  # dir, extra meson args...
    local dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" -Dwerror=$werror "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
    fi
    ninja -C "$dir" >"$dir.ninja.log" 2>&1 || { tail -50 "$dir.ninja.log"; return 1; }
}

run_suite() {  # dir, label, meson test args..., -- env...
    local dir=$1 label=$2; shift 2
    local args=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift
    echo "== $label"
    env "$@" meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes "$jobs" "${args[@]}" || status=1
    python3 - "$dir/meson-logs/testlog.json" "$label" >>"$top/build-counts.txt" <<'PY'
import json, sys
p = f = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL", "SKIP"): p += 1
    else: f += 1
print(p, f)
PY
}

rm -f "$top/build-counts.txt"
build build || { echo "0 passed, 1 failed"; exit 1; }
run_suite build "normal build"

build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug || { echo "0 passed, 1 failed"; exit 1; }
# Workers chroot and set RLIMIT_NPROC=0: LeakSanitizer cannot run there (it needs /proc and a
# thread), so leak detection is on for unit and fuzz tests and off for the integration tests.
san="abort_on_error=1:detect_stack_use_after_return=1"
run_suite build-asan "asan+ubsan build: unit, fuzz" --suite unit --suite fuzz -- \
    ASAN_OPTIONS="detect_leaks=1:$san" UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
run_suite build-asan "asan+ubsan build: integration" --suite integration -- \
    ASAN_OPTIONS="detect_leaks=0:$san" UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

read -r passed failed < <(awk '{p+=$1; f+=$2} END {print p+0, f+0}' "$top/build-counts.txt")
rm -f "$top/build-counts.txt"
[ "$failed" -gt 0 ] && status=1
echo "$passed passed, $failed failed"
exit $status
