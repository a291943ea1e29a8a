#!/usr/bin/env bash
# Runs HAProxy 2.6's own regression tests (reg-tests/*.vtc, driven by VTest) against proxyd,
# and optionally against a real HAProxy side by side. Manual tool: NOT part of CI or of
# tests/run.sh. See docs/regtests.md for how to get VTest and the tests.
#
# usage: tests/regtests/run.sh [--haproxy BIN] [--proxyd BIN] [--vtest BIN] [--reg-tests DIR]
#                              [--timeout SEC] [--keep-logs DIR] [AREA|FILE.vtc ...]
#
#   --proxyd BIN     binary under test (default: build/proxyd). HAPROXY_PROGRAM is set to it.
#   --haproxy BIN    also run every test against this HAProxy (e.g. /usr/sbin/haproxy) and show
#                    both results side by side. The final line always counts the --proxyd run.
#   --vtest BIN      VTest binary (default: $VTEST_PROGRAM, the cache, or `vtest` in PATH)
#   --reg-tests DIR  HAProxy's reg-tests/ directory at tag v2.6.0 (default: $REGTESTS_DIR or
#                    the cache)
#   --timeout SEC    wall-clock limit per test (default 20); vtest's own -t is 10 s
#   --keep-logs DIR  where the per-test vtest -v logs go (default: a new /tmp/proxyd-regtests.*)
#   AREA             a directory of reg-tests (e.g. mcli): the entries of list.txt in that area,
#                    or, if list.txt has none, every .vtc under it
#   FILE.vtc         one test (absolute, relative to the cwd, or relative to reg-tests/)
# With no AREA/FILE the tests of tests/regtests/list.txt are run in order.
#
# Skip rules (as HAProxy's scripts/run-regtests.sh): #REQUIRE_OPTIONS / #REQUIRE_OPTION name a
# feature absent from the binary's "-vv" "Feature list" (a|b alternatives allowed);
# #REQUIRE_SERVICES names a service absent from "Available services"; #REQUIRE_VERSION above
# the binary's version; #REQUIRE_VERSION_BELOW at or under it; #EXCLUDE_TARGETS naming its
# TARGET; #REGTEST_TYPE not in $REGTESTS_TYPES (default "default,bug,devel,slow"). The version
# is taken from "HAProxy version X" / "HA-Proxy version X" in -vv; a binary that prints no such
# line (proxyd) is treated as the version it is compatible with, $REGTESTS_COMPAT_VERSION
# (default 2.6). vtest itself reports "skipped" when a "feature cmd" line of the test fails.
# $HAPROXY_ARGS is passed on to vtest unchanged (run-regtests.sh defaults it to -dM; here the
# default is empty).
#
# Output: one line per test "RESULT(proxyd) [RESULT(haproxy)] area/test.vtc [reason]", a
# per-area table, then a last line exactly "N passed, N failed[, N skipped]".
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

proxyd_bin="$top/build/proxyd"
haproxy_bin=""
vtest_bin="${VTEST_PROGRAM:-}"
regtests_dir="${REGTESTS_DIR:-}"
per_test_timeout=20
logdir=""
args=()

while [ $# -gt 0 ]; do
    case "$1" in
        --proxyd)    proxyd_bin=$2; shift 2 ;;
        --haproxy)   haproxy_bin=$2; shift 2 ;;
        --vtest)     vtest_bin=$2; shift 2 ;;
        --reg-tests) regtests_dir=$2; shift 2 ;;
        --timeout)   per_test_timeout=$2; shift 2 ;;
        --keep-logs) logdir=$2; shift 2 ;;
        -h|--help)   sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        --*)         echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
        *)           args+=("$1"); shift ;;
    esac
done

# Where VTest and the HAProxy sources may have been put (never inside the repository).
cache_dirs=()
[ -n "${REGTESTS_CACHE:-}" ] && cache_dirs+=("$REGTESTS_CACHE")
cache_dirs+=("$top/../regtests-cache" "/work/regtests-cache" "${HOME:-/root}/.cache/proxyd-regtests")

if [ -z "$vtest_bin" ]; then
    for d in "${cache_dirs[@]}"; do
        if [ -x "$d/VTest/vtest" ]; then vtest_bin="$d/VTest/vtest"; break; fi
    done
    [ -z "$vtest_bin" ] && vtest_bin=$(command -v vtest 2>/dev/null || true)
fi
if [ -z "$regtests_dir" ]; then
    for d in "${cache_dirs[@]}"; do
        if [ -d "$d/haproxy-2.6.0/reg-tests" ]; then regtests_dir="$d/haproxy-2.6.0/reg-tests"; break; fi
    done
fi

missing_help() {
    cat <<EOF
$1
These tests are not part of the repository. To get them (see docs/regtests.md):
  mkdir -p /work/regtests-cache && cd /work/regtests-cache
  git clone https://github.com/vtest/VTest && make -C VTest FLAGS='-O2 -s -Wall'
      (needs gcc, make, zlib1g-dev, libpcre2-dev)
  git clone https://github.com/haproxy/haproxy haproxy-src
  git -C haproxy-src archive v2.6.0 | (mkdir -p haproxy-2.6.0 && tar -x -C haproxy-2.6.0)
then run again, or pass --vtest BIN / --reg-tests DIR (or set VTEST_PROGRAM / REGTESTS_DIR).
0 passed, 0 failed
EOF
    exit 0
}
[ -n "$vtest_bin" ] && [ -x "$vtest_bin" ] || missing_help "VTest not found (looked for \$VTEST_PROGRAM, <cache>/VTest/vtest, vtest in PATH)."
[ -n "$regtests_dir" ] && [ -d "$regtests_dir" ] || missing_help "HAProxy reg-tests/ not found (looked for \$REGTESTS_DIR, <cache>/haproxy-2.6.0/reg-tests)."
regtests_dir=$(cd "$regtests_dir" && pwd)
vtest_bin=$(realpath "$vtest_bin")

for b in "$proxyd_bin" ${haproxy_bin:+"$haproxy_bin"}; do
    [ -x "$b" ] || { echo "binary not found or not executable: $b" >&2; exit 2; }
done
proxyd_bin=$(cd "$(dirname "$proxyd_bin")" && pwd)/$(basename "$proxyd_bin")
[ -n "$haproxy_bin" ] && haproxy_bin=$(cd "$(dirname "$haproxy_bin")" && pwd)/$(basename "$haproxy_bin")

# ---- the test list ---------------------------------------------------------------------------
list_file="$here/list.txt"
list_entries=()
if [ -f "$list_file" ]; then
    while IFS= read -r l; do
        l=${l%%#*}; l=$(echo "$l" | tr -d '[:space:]')
        [ -n "$l" ] && list_entries+=("$l")
    done < "$list_file"
fi

tests=()   # paths relative to reg-tests/ when possible, else absolute
add_test() { tests+=("$1"); }
if [ ${#args[@]} -eq 0 ]; then
    for e in "${list_entries[@]}"; do add_test "$e"; done
else
    for a in "${args[@]}"; do
        a=${a%/}
        a=${a#reg-tests/}
        if [[ "$a" == *.vtc ]]; then
            if [ -f "$regtests_dir/$a" ]; then add_test "$a"
            elif [ -f "$a" ]; then
                abs=$(cd "$(dirname "$a")" && pwd)/$(basename "$a")
                add_test "${abs#$regtests_dir/}"
            else echo "no such test: $a" >&2; exit 2; fi
        elif [ -d "$regtests_dir/$a" ]; then
            found=0
            for e in "${list_entries[@]}"; do
                if [[ "$e" == "$a"/* ]]; then add_test "$e"; found=1; fi
            done
            if [ $found -eq 0 ]; then
                while IFS= read -r f; do add_test "${f#$regtests_dir/}"; done \
                    < <(find "$regtests_dir/$a" -name '*.vtc' | sort)
            fi
        else
            echo "no such area or test: $a (under $regtests_dir)" >&2; exit 2
        fi
    done
fi
if [ ${#tests[@]} -eq 0 ]; then
    echo "no tests selected (empty $list_file?)"
    echo "0 passed, 0 failed"
    exit 0
fi

# ---- what each binary offers -------------------------------------------------------------------
# _version: up to 4 components, each padded to 3 digits (same arithmetic as run-regtests.sh).
_version() {
    local IFS=.
    set -- $1
    local a=${1:-0} b=${2:-0} c=${3:-0} d=${4:-0}
    a=${a%%[!0-9]*}; b=${b%%[!0-9]*}; c=${c%%[!0-9]*}; d=${d%%[!0-9]*}
    printf '%d%03d%03d%03d\n' "${a:-0}" "$((10#${b:-0}))" "$((10#${c:-0}))" "$((10#${d:-0}))"
}

declare -A B_VERSION B_TARGET B_FEATURES B_SERVICES
probe() {  # name bin
    local name=$1 bin=$2 vv ver
    vv=$("$bin" ${HAPROXY_ARGS:-} -vv 2>&1)
    ver=$(echo "$vv" | sed -n 's/^HA-\{0,1\}Proxy version \([^ ]*\).*/\1/p' | head -1)
    if [ -z "$ver" ]; then ver=${REGTESTS_COMPAT_VERSION:-2.6}; ver="$ver (assumed)"; fi
    B_VERSION[$name]=$ver
    B_TARGET[$name]=$(echo "$vv" | sed -n 's/^ *TARGET *= *\([^ ]*\).*/\1/p' | head -1)
    B_FEATURES[$name]=" $(echo "$vv" | sed -n 's/^Feature list : //p' | head -1) "
    B_SERVICES[$name]=" $(echo "$vv" | sed -n 's/^Available services : //p' | head -1) "
}

# skip_reason name file -> prints a reason and returns 0 if the test must be skipped
skip_reason() {
    local name=$1 f=$2 line k v
    local req_ver="" req_below="" opts="" svcs="" excl="" type=""
    while IFS= read -r line; do
        k=${line%%=*}; v=${line#*=}
        case "$k" in
            "#REQUIRE_VERSION")       req_ver=$v ;;
            "#REQUIRE_VERSION_BELOW") req_below=$v ;;
            "#REQUIRE_OPTIONS")       opts="$opts,$v" ;;
            "#REQUIRE_OPTION")        opts="$opts,${v%,*}" ;;
            "#REQUIRE_SERVICES")      svcs="$svcs,$v" ;;
            "#REQUIRE_SERVICE")       svcs="$svcs,${v%,*}" ;;
            "#EXCLUDE_TARGETS")       excl="$excl,$v" ;;
            "#EXCLUDE_TARGET")        excl="$excl,${v%,*}" ;;
            "#REGTEST_TYPE")          type=$v ;;
        esac
    done < <(grep -E '^#[0-9A-Z_]*=' "$f")
    local ver=${B_VERSION[$name]%% *}
    local types=",${REGTESTS_TYPES:-default,bug,devel,slow},"
    if [[ "$types" != *,any,* && "$types" != *,"${type:-default}",* ]]; then
        echo "type '${type}' not in REGTESTS_TYPES"; return 0
    fi
    if [ -n "$req_ver" ] && [ "$(_version "$ver")" -lt "$(_version "$req_ver")" ]; then
        echo "REQUIRE_VERSION=$req_ver > $ver"; return 0
    fi
    if [ -n "$req_below" ] && [ "$(_version "$ver")" -ge "$(_version "$req_below")" ]; then
        echo "REQUIRE_VERSION_BELOW=$req_below <= $ver"; return 0
    fi
    local t o alt ok IFS_OLD=$IFS
    IFS=,; for t in $excl; do
        [ -n "$t" ] && [ "$t" = "${B_TARGET[$name]}" ] && { IFS=$IFS_OLD; echo "EXCLUDE_TARGETS has $t"; return 0; }
    done
    for o in $opts; do
        [ -z "$o" ] && continue
        ok=0; IFS='|'
        for alt in $o; do [[ "${B_FEATURES[$name]}" == *" +$alt "* ]] && ok=1; done
        IFS=,
        [ $ok -eq 0 ] && { IFS=$IFS_OLD; echo "REQUIRE_OPTIONS $o not in Feature list"; return 0; }
    done
    for o in $svcs; do
        [ -z "$o" ] && continue
        ok=0; IFS='|'
        for alt in $o; do [[ "${B_SERVICES[$name]}" == *" $alt "* ]] && ok=1; done
        IFS=,
        [ $ok -eq 0 ] && { IFS=$IFS_OLD; echo "REQUIRE_SERVICES $o not available"; return 0; }
    done
    IFS=$IFS_OLD
    return 1
}

# ---- running ---------------------------------------------------------------------------------
[ -z "$logdir" ] && logdir=$(mktemp -d /tmp/proxyd-regtests.XXXXXX)
mkdir -p "$logdir" || exit 2
logdir=$(cd "$logdir" && pwd)

kill_leftovers() {  # end processes still running from one test's temp dir (by pid)
    local tmp=$1 pid
    for pid in $(pgrep -f -- "$tmp" 2>/dev/null); do
        [ "$pid" = "$$" ] && continue
        kill -TERM "$pid" 2>/dev/null
    done
    sleep 0.2
    for pid in $(pgrep -f -- "$tmp" 2>/dev/null); do
        [ "$pid" = "$$" ] && continue
        kill -KILL "$pid" 2>/dev/null
    done
}

# run_one name bin test -> sets R_RESULT (PASS/FAIL/SKIP/TIMEOUT) and R_WHY, log in $R_LOG
run_one() {
    local name=$1 bin=$2 t=$3 f why rc
    if [[ "$t" == /* ]]; then f=$t; else f="$regtests_dir/$t"; fi
    local tag=${t//\//_}; tag=${tag%.vtc}
    R_LOG="$logdir/$name/$tag.log"
    mkdir -p "$logdir/$name"
    if why=$(skip_reason "$name" "$f"); then
        R_RESULT=SKIP; R_WHY=$why; echo "skipped by run.sh: $why" > "$R_LOG"; return
    fi
    # vtest's temp dir must stay short: HAProxy refuses unix socket paths over 97 bytes and the
    # tests put "<tmpdir>/vtc.<pid>.<rand>/h1/stats.sock" in every configuration.
    local tmp
    tmp=$(mktemp -d /tmp/vt.XXXXXX)
    echo "$tmp" > "$logdir/$name/$tag.tmpdir"
    # Test files refer to neighbouring files relative to their own directory.
    ( cd "$(dirname "$f")" &&
      echo "# HAPROXY_PROGRAM=$bin HAPROXY_ARGS='${HAPROXY_ARGS:-}' TMPDIR=$tmp $vtest_bin -b 2097152 -k -t 10 -v $f" &&
      exec env HAPROXY_PROGRAM="$bin" TMPDIR="$tmp" \
          timeout -k 5 "$per_test_timeout" "$vtest_bin" -b 2097152 -k -t 10 -v "$f" ) > "$R_LOG" 2>&1 < /dev/null
    rc=$?
    kill_leftovers "$tmp"
    local alert skipcmd
    alert=$(grep -E '\[ALERT\]|debug\|.*unknown option' "$R_LOG" | grep -v -E 'Fatal errors found|Error\(s\) found' | head -1 | sed 's/.*\[ALERT\] *([0-9]*) : //; s/.*debug|//; s/parsing \[[^]]*\/cfg:/cfg:/' | cut -c1-110)
    skipcmd=$(grep -B2 'SKIPPING test' "$R_LOG" | grep -m1 '=== feature' | sed 's/.*=== //')
    case $rc in
        0)   R_RESULT=PASS; R_WHY="" ;;
        77)  R_RESULT=SKIP; R_WHY="vtest skipped: ${skipcmd:-$(grep -m1 'SKIPPING' "$R_LOG" | sed 's/^[* ]*top *//')}" ;;
        124|137) R_RESULT=FAIL; R_WHY="timeout after ${per_test_timeout}s${alert:+; first ALERT: $alert}" ;;
        *)   R_RESULT=FAIL
             R_WHY=$(grep -m1 -E '^---- ' "$R_LOG" | sed 's/^---- *//' | cut -c1-110)
             [ -n "$alert" ] && R_WHY+="; first ALERT: $alert" ;;
    esac
    if [ "$R_RESULT" = PASS ]; then rm -rf "$tmp" "$logdir/$name/$tag.tmpdir"; fi
}

names=(proxyd); [ -n "$haproxy_bin" ] && names+=(haproxy)
declare -A BIN=([proxyd]="$proxyd_bin" [haproxy]="$haproxy_bin")
for n in "${names[@]}"; do probe "$n" "${BIN[$n]}"; done

echo "vtest:     $vtest_bin"
echo "reg-tests: $regtests_dir"
for n in "${names[@]}"; do
    echo "$n: ${BIN[$n]} (version ${B_VERSION[$n]}, target ${B_TARGET[$n]:-?})"
done
echo "logs:      $logdir/<binary>/<area>_<test>.log"
echo

declare -A CNT    # CNT[name,area,result]
areas=()
for t in "${tests[@]}"; do
    area=$(dirname "$t"); [[ "$t" == /* ]] && area=other
    [[ " ${areas[*]} " == *" $area "* ]] || areas+=("$area")
    line=""; reasons=""
    for n in "${names[@]}"; do
        run_one "$n" "${BIN[$n]}" "$t"
        CNT[$n,$area,$R_RESULT]=$(( ${CNT[$n,$area,$R_RESULT]:-0} + 1 ))
        line+=$(printf '%-5s ' "$R_RESULT")
        [ -n "$R_WHY" ] && reasons+="${reasons:+ | }$n: $R_WHY"
    done
    printf '%s%s%s\n' "$line" "$t" "${reasons:+  [$reasons]}"
done

echo
header=$(printf '%-18s' area); for n in "${names[@]}"; do header+=$(printf ' | %-26s' "$n run/pass/fail/skip"); done
echo "$header"
declare -A TOT
for a in "${areas[@]}"; do
    row=$(printf '%-18s' "$a")
    for n in "${names[@]}"; do
        p=${CNT[$n,$a,PASS]:-0}; fl=${CNT[$n,$a,FAIL]:-0}; s=${CNT[$n,$a,SKIP]:-0}
        row+=$(printf ' | %-26s' "$((p+fl))/$p/$fl/$s")
        TOT[$n,p]=$(( ${TOT[$n,p]:-0} + p )); TOT[$n,f]=$(( ${TOT[$n,f]:-0} + fl )); TOT[$n,s]=$(( ${TOT[$n,s]:-0} + s ))
    done
    echo "$row"
done
if [ -n "$haproxy_bin" ]; then
    echo "haproxy ($haproxy_bin): ${TOT[haproxy,p]:-0} passed, ${TOT[haproxy,f]:-0} failed, ${TOT[haproxy,s]:-0} skipped"
fi
echo "logs kept in $logdir"
line="${TOT[proxyd,p]:-0} passed, ${TOT[proxyd,f]:-0} failed"
[ "${TOT[proxyd,s]:-0}" -gt 0 ] && line+=", ${TOT[proxyd,s]} skipped"
echo "$line"
[ "${TOT[proxyd,f]:-0}" -eq 0 ]
