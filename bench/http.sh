#!/usr/bin/env bash
# bench/http.sh - proxyd vs HAProxy in `mode http` (+ one TCP throughput line), on 127.0.0.1,
# in one run, in under 3 minutes. Not part of the test suite.
#
# Starts, pinned with taskset: the proxies (proxyd 1 worker, HAProxy nbthread 1) on one CPU,
# the backend (bench_tool, built here from bench/bench_tool.cpp) and the load generator (wrk,
# bench_tool send) on the other. Measures, for each proxy, alternating runs:
#   - http keep-alive: wrk -c50 GET of 100 B over long-lived connections: req/s, p50/p99;
#   - http close: the same with "Connection: close" (a new client and server connection per
#     request): req/s, p50/p99;
#   - tcp throughput: one connection moving --bytes (default 2 GiB) through a `mode tcp` frontend
#     to a sink, upload (client -> server) and download: MB/s (10^6 bytes/s).
# Prints a table (and saves it with every raw run to bench/results/<date>-http.txt). Every
# process started here is stopped by pid on exit. See bench/README.md.
#
# Usage: sudo bench/http.sh [options]   (--help)

set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")

# ---------------------------------------------------------------------------------- options
DURATION=6          # seconds per wrk run
RUNS=3              # runs per proxy per HTTP test (median reported)
TCP_RUNS=3          # transfers per proxy per direction
CONNS=50            # wrk -c
BYTES=$((2 * 1024 * 1024 * 1024))
BODY=100            # response body bytes
PROXY_CPU=0
LOAD_CPU=1
PROXYD_BIN="$REPO_DIR/build/proxyd"
HAPROXY_BIN=""
PROXYD_HTTP_FALLBACK=none   # none | tcp: what the proxyd column shows when its mode http does not work
AB_TEST=0           # 1: the proxyd column is a second HAProxy (calibration: ratios should be ~1.00)
INSTALL=1
KEEP_TMP=0
RESULTS_FILE=""
TIME_LIMIT=175      # refuse settings whose estimate exceeds this, and abort past it
PAUSE=0.5
TESTS="ka,close,tcp"
HTTP_REUSE=safe     # http-reuse of the HTTP backends (both proxies)
WAIT_QUIET=0        # seconds to wait, before starting, for the box to be idle (0 = don't)

usage() {
    cat <<EOF
Usage: $0 [options]
  -d, --duration S        seconds per wrk run (default $DURATION)
  -r, --runs R            wrk runs per proxy per HTTP test, median reported (default $RUNS)
      --tcp-runs R        transfers per proxy per direction, median reported (default $TCP_RUNS)
  -c, --connections C     wrk connections (default $CONNS)
      --bytes N           bytes per TCP transfer (default $BYTES = 2 GiB)
      --body N            HTTP response body bytes (default $BODY)
      --proxy-cpu N       CPU for proxyd and HAProxy (default $PROXY_CPU)
      --load-cpu N        CPU for the backend and the load generator (default $LOAD_CPU)
      --proxyd PATH       proxyd binary (default build/proxyd)
      --haproxy PATH      haproxy binary (default: haproxy in PATH)
      --proxyd-http-fallback none|tcp
                          when proxyd's mode http does not work: report n/a (none, default) or
                          measure proxyd with the HTTP frontend in mode tcp (tcp, labelled so)
      --haproxy-vs-haproxy  the proxyd column is a second HAProxy: calibrates the noise (ratios ~1)
  -t, --tests LIST        comma list of ka (http keep-alive), close (http close), tcp (default $TESTS)
      --http-reuse MODE   http-reuse of both proxies' HTTP backend: safe (default), never, aggressive,
                          always (e.g. 'never' to see the close test without idle server connections)
      --wait-quiet S      before anything else, wait up to S seconds for 3 s in a row with < 0.3
                          CPUs busy (other jobs), then start anyway (not counted in the time limit)
      --time-limit S      refuse settings estimated to take longer, abort past it (default $TIME_LIMIT)
      --no-install        do not apt-get install missing tools
      --keep              keep the temp dir (configs, logs, outputs)
  -o, --output FILE       results file (default bench/results/<date>-http.txt)
  -h, --help
EOF
}

die() { echo "http.sh: error: $*" >&2; exit 1; }
need_int() { [[ "$2" =~ ^[0-9]+$ ]] || die "$1 needs a non-negative integer, got '$2'"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        -d|--duration) need_int "$1" "${2-}"; DURATION=$2; shift 2 ;;
        -r|--runs) need_int "$1" "${2-}"; RUNS=$2; shift 2 ;;
        --tcp-runs) need_int "$1" "${2-}"; TCP_RUNS=$2; shift 2 ;;
        -c|--connections) need_int "$1" "${2-}"; CONNS=$2; shift 2 ;;
        --bytes) need_int "$1" "${2-}"; BYTES=$2; shift 2 ;;
        --body) need_int "$1" "${2-}"; BODY=$2; shift 2 ;;
        --proxy-cpu) need_int "$1" "${2-}"; PROXY_CPU=$2; shift 2 ;;
        --load-cpu) need_int "$1" "${2-}"; LOAD_CPU=$2; shift 2 ;;
        --proxyd) PROXYD_BIN=${2-}; shift 2 ;;
        --haproxy) HAPROXY_BIN=${2-}; shift 2 ;;
        --proxyd-http-fallback) PROXYD_HTTP_FALLBACK=${2-}; shift 2 ;;
        --haproxy-vs-haproxy) AB_TEST=1; shift ;;
        -t|--tests) TESTS=${2-}; shift 2 ;;
        --http-reuse) HTTP_REUSE=${2-}; shift 2 ;;
        --wait-quiet) need_int "$1" "${2-}"; WAIT_QUIET=$2; shift 2 ;;
        --time-limit) need_int "$1" "${2-}"; TIME_LIMIT=$2; shift 2 ;;
        --no-install) INSTALL=0; shift ;;
        --keep) KEEP_TMP=1; shift ;;
        -o|--output) RESULTS_FILE=${2-}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option '$1'" ;;
    esac
done
(( DURATION >= 1 && RUNS >= 1 && TCP_RUNS >= 0 && CONNS >= 1 )) || die "need duration, runs, connections >= 1"
IFS=',' read -r -a TEST_LIST <<<"$TESTS"
HTTP_TESTS=(); DO_TCP=0
for t in "${TEST_LIST[@]}"; do
    case $t in ka|close) HTTP_TESTS+=("$t") ;; tcp) DO_TCP=1 ;; *) die "unknown test '$t' (ka, close, tcp)" ;; esac
done
(( DO_TCP )) || TCP_RUNS=0
(( BYTES >= 1024 )) || die "--bytes must be >= 1024"
[[ $HTTP_REUSE =~ ^(safe|never|aggressive|always)$ ]] || die "--http-reuse: safe, never, aggressive or always"
[[ $PROXYD_HTTP_FALLBACK == none || $PROXYD_HTTP_FALLBACK == tcp ]] || die "--proxyd-http-fallback: none or tcp"
NCPU=$(nproc --all)
(( PROXY_CPU < NCPU && LOAD_CPU < NCPU )) || die "this box has CPUs 0..$((NCPU - 1))"
(( PROXY_CPU != LOAD_CPU )) || echo "http.sh: warning: proxies and load share CPU $PROXY_CPU" >&2
[[ -z "$RESULTS_FILE" || "$RESULTS_FILE" == /* ]] || RESULTS_FILE="$PWD/$RESULTS_FILE"
[[ "$PROXYD_BIN" == /* ]] || PROXYD_BIN="$PWD/$PROXYD_BIN"
[[ $(id -u) -eq 0 ]] || die "run as root (proxies drop to nobody; apt-get)"

# Estimated wall time: warm-ups, 2 HTTP tests x 2 proxies x runs, TCP transfers (~1.5 s each
# with setup at ~2-4 GB/s for 2 GiB; 3 targets: proxyd, haproxy, haproxy+splice), start-up.
EST=$(awk -v d="$DURATION" -v r="$RUNS" -v p="$PAUSE" -v t="$TCP_RUNS" -v b="$BYTES" -v n="${#HTTP_TESTS[@]}" 'BEGIN{
    tcp = 2 * 3 * t * (b / 1.0e9 + 0.7); printf "%d", n * 2 * (1.6 + r * (d + p + 0.3)) + tcp + 8 }')
(( EST <= TIME_LIMIT )) || die "estimated ${EST}s exceeds --time-limit $TIME_LIMIT: fewer runs, shorter --duration or --bytes"

# ---------------------------------------------------------------------------------- tools
install_missing() {
    local pkgs=()
    command -v wrk >/dev/null || pkgs+=(wrk)
    [[ -n "$HAPROXY_BIN" ]] || command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || pkgs+=(haproxy)
    command -v curl >/dev/null || pkgs+=(curl)
    command -v ss >/dev/null || pkgs+=(iproute2)
    command -v taskset >/dev/null || pkgs+=(util-linux)
    command -v g++ >/dev/null || pkgs+=(g++)
    [[ ${#pkgs[@]} -eq 0 ]] && return 0
    (( INSTALL )) || die "missing: ${pkgs[*]} (and --no-install given)"
    echo "installing: ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1 || {
        apt-get update >/dev/null 2>&1
        apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null || die "apt-get install ${pkgs[*]} failed"
    }
}
install_missing
export PATH="$PATH:/usr/sbin:/sbin"
[[ -n "$HAPROXY_BIN" ]] || HAPROXY_BIN=$(command -v haproxy) || die "haproxy not found"
[[ -x "$PROXYD_BIN" ]] || (( AB_TEST )) || die "proxyd binary '$PROXYD_BIN' not found (ninja -C build, or --proxyd PATH)"
CLK_TCK=$(getconf CLK_TCK)

if (( WAIT_QUIET > 0 )); then
    quiet=0 waited=0
    while (( waited < WAIT_QUIET && quiet < 3 )); do
        b0=$(awk '/^cpu /{t=0; for(i=2;i<=NF;i++) t+=$i; print t-$5-$6; exit}' /proc/stat); sleep 1
        b1=$(awk '/^cpu /{t=0; for(i=2;i<=NF;i++) t+=$i; print t-$5-$6; exit}' /proc/stat)
        waited=$((waited + 1))
        if (( (b1 - b0) * 10 < 3 * $(getconf CLK_TCK) )); then quiet=$((quiet + 1)); else quiet=0; fi
    done
    (( quiet >= 3 )) && echo "box quiet after ${waited}s" || echo "box still busy after ${waited}s: starting anyway"
fi

# ---------------------------------------------------------------------------------- cleanup
TMP=$(mktemp -d /tmp/proxyd-bench-http.XXXXXX) || die "mktemp failed"
PIDS=""          # every long-lived process started here (masters and servers), stopped on exit
PID_LOAD=""      # the wrk / send currently running
FAILED=1
START=$SECONDS

stop_pid() {  # stop_pid PID [grace_seconds]: TERM, wait, KILL
    local pid=$1 grace=${2:-5} i
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < grace * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
}
children_of() {  # direct children pids of $1, one per line
    local f=/proc/$1/task/$1/children
    if [[ -r $f ]]; then tr ' ' '\n' <"$f" | grep -v '^$'; else pgrep -P "$1"; fi
}
cleanup() {
    local rc=$? p kids
    trap - EXIT INT TERM
    [[ -n "$PID_LOAD" ]] && stop_pid "$PID_LOAD" 2
    for p in $PIDS; do
        kids=$(children_of "$p" 2>/dev/null | tr '\n' ' ')
        stop_pid "$p" 5
        for k in $kids; do stop_pid "$k" 2; done   # only if the master left them behind
    done
    wait 2>/dev/null
    if (( FAILED )); then
        echo "http.sh: failed; logs:" >&2
        for f in "$TMP"/*.log; do [[ -s $f ]] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }; done
    fi
    if (( KEEP_TMP )); then echo "temp dir kept: $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


# ---------------------------------------------------------------------------------- helpers
USED_PORTS=""
free_port() {  # a free TCP port below the ephemeral range
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 10000))
        [[ " $USED_PORTS " == *" $p "* ]] && continue
        if [[ -z $(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null) ]]; then
            USED_PORTS="$USED_PORTS $p"; echo "$p"; return 0
        fi
    done
    die "no free port found"
}
# Port assignment happens in this shell (not in $(...)) so USED_PORTS accumulates.
take_port() { local p; p=$(free_port) || exit 1; USED_PORTS="$USED_PORTS $p"; printf -v "$1" '%s' "$p"; }

wait_body() {  # wait_body PORT BYTES [curl args]: until a GET returns that many bytes (5 s)
    local port=$1 want=$2 i got; shift 2
    for ((i = 0; i < 50; i++)); do
        got=$(curl -s --max-time 2 "$@" "http://127.0.0.1:$port/" 2>/dev/null | wc -c)
        [[ "$got" == "$want" ]] && return 0
        sleep 0.1
    done
    return 1
}

# raw_http PORT: sends a request with a malformed header line, prints the status line back.
# An HTTP-mode proxy rejects it itself (400); a TCP-mode one passes it to bench_tool, which
# answers 200 to anything ending in an empty line.
raw_http() {
    local port=$1 line="" fd
    exec {fd}<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET / HTTP/1.1\r\nHost: bench\r\nthis line is not a header\r\n\r\n' >&"$fd"
    IFS= read -r -t 3 line <&"$fd"
    exec {fd}>&-
    printf '%s\n' "${line%$'\r'}"
}

cpu_ticks() {  # utime+stime ticks summed over pids (threads included)
    local sum=0 p line rest
    local -a f
    for p in "$@"; do
        line=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        rest=${line##*) }; read -r -a f <<<"$rest"
        sum=$((sum + f[11] + f[12]))
    done
    echo "$sum"
}
cpu_busy() {  # "busy total" jiffies of CPU $1 from /proc/stat
    awk -v c="cpu$1" '$1==c{t=0; for(i=2;i<=NF;i++) t+=$i; print t-$5-$6, t; exit}' /proc/stat
}
median() {
    printf '%s\n' "$@" | grep -v -e '^-$' -e '^$' | sort -g | awk '{a[NR]=$1} END{
        if (NR==0) {print "-"; exit}
        if (NR%2) printf "%.6g\n", a[(NR+1)/2]; else printf "%.6g\n", (a[NR/2]+a[NR/2+1])/2 }'
}
to_ms() {  # wrk duration -> ms
    awk -v v="$1" 'BEGIN{
        if (v ~ /us$/) {sub(/us$/,"",v); printf "%.3f\n", v/1000}
        else if (v ~ /ms$/) {sub(/ms$/,"",v); printf "%.3f\n", v}
        else if (v ~ /m$/) {sub(/m$/,"",v); printf "%.3f\n", v*60000}
        else if (v ~ /s$/) {sub(/s$/,"",v); printf "%.3f\n", v*1000}
        else print "-" }'
}
# Noise: CPU used on the whole box during a run by anything but this benchmark (other jobs,
# builds): all CPUs' busy time - irq/softirq - the proxies, backend, sink and load generator.
shell_children_cpu() {  # CHILD_CPU = user+sys seconds of this shell's reaped children (wrk, send)
    times >"$TMP/times.txt"   # not in $(...): a subshell would report its own (empty) children
    CHILD_CPU=$(awk 'NR==2{ for (i = 1; i <= 2; i++) { split($i, m, "m"); sub(/s$/, "", m[2]); t += m[1] * 60 + m[2] }
                printf "%.2f\n", t }' "$TMP/times.txt")
}
box_snapshot() {  # SNAP="busy_jiffies irq_jiffies ours_ticks children_cpu_s now_s" (all CPUs)
    local b q
    read -r b q <<<"$(awk '/^cpu /{t=0; for(i=2;i<=NF;i++) t+=$i; print t-$5-$6, $7+$8; exit}' /proc/stat)"
    shell_children_cpu
    # shellcheck disable=SC2086
    SNAP="$b $q $(cpu_ticks $OUR_PIDS) $CHILD_CPU $(date +%s.%N)"
}
other_cores() {  # other_cores SNAP_BEFORE SNAP_AFTER -> cores used by others during the interval
    awk -v a="$1" -v b="$2" -v h="$CLK_TCK" 'BEGIN{ split(a, x, " "); split(b, y, " ")
        wall = y[5] - x[5]; if (wall <= 0) { print "-"; exit }
        o = ((y[1]-x[1]) - (y[2]-x[2]) - (y[3]-x[3])) / h - (y[4]-x[4]); if (o < 0) o = 0
        printf "%.2f", o / wall }'
}
NOISE_MAX=0.25

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="-" || b=="-" || a=="" || b=="" || b==0) print "-"; else printf "%.2f", a/b }'; }
fmt() { awk -v v="$1" -v f="$2" 'BEGIN{ if (v=="-" || v=="") print "-"; else printf f, v }'; }

# ---------------------------------------------------------------------------------- setup
# One backend port per proxy: server connections one proxy leaves open must not slow down the
# other's connect() (the kernel's ephemeral-port search is per destination; seen with 16k
# idle server connections left by one proxy: 88 % of the other's CPU in __inet_hash_connect).
take_port BACKEND_PORT_P; take_port BACKEND_PORT_H; take_port SINK_PORT
take_port P_HTTP; take_port P_TCP            # proxyd
take_port H_HTTP; take_port H_TCP; take_port H_TCPS   # haproxy (TCPS: with splice)
chmod 755 "$TMP"
cd "$TMP" || die "cd $TMP"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

g++ -O2 -std=c++20 -pthread -o "$TMP/bench_tool" "$BENCH_DIR/bench_tool.cpp" 2>"$TMP/build.log" ||
    die "cannot build bench_tool: $(head -5 "$TMP/build.log")"
if (( ! AB_TEST )); then cp "$PROXYD_BIN" "$TMP/proxyd" && chmod 755 "$TMP/proxyd"; fi

# proxy_cfg FLAVOUR HTTP_PORT TCP_PORT BACKEND_PORT [SPLICE_PORT]: FLAVOUR proxyd|haproxy|proxyd-tcp
# (proxyd-tcp: the HTTP frontend in mode tcp, the fallback when mode http does not work).
proxy_cfg() {
    local flavour=$1 hp=$2 tp=$3 bp=$4 sp=${5-} procs httpmode=http
    if [[ $flavour == haproxy ]]; then procs="nbthread 1"; else procs="nbproc 1"; fi
    [[ $flavour == proxyd-tcp ]] && httpmode=tcp
    cat <<EOF
global
    $procs
    maxconn 4096
    user nobody
    group nogroup

defaults
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend fe_http
    mode $httpmode
$( [[ $httpmode == http ]] && echo "    option http-keep-alive" )
    bind 127.0.0.1:$hp
    default_backend be_http

backend be_http
    mode $httpmode
$( [[ $httpmode == http ]] && printf '    option http-keep-alive\n    http-reuse %s\n' "$HTTP_REUSE" )
    server s1 127.0.0.1:$bp

frontend fe_tcp
    mode tcp
    bind 127.0.0.1:$tp
    default_backend be_tcp

backend be_tcp
    mode tcp
    server sink 127.0.0.1:$SINK_PORT
EOF
    if [[ -n $sp ]]; then
        cat <<EOF

frontend fe_tcp_splice
    mode tcp
    option splice-request
    option splice-response
    bind 127.0.0.1:$sp
    default_backend be_tcp_splice

backend be_tcp_splice
    mode tcp
    option splice-request
    option splice-response
    server sink 127.0.0.1:$SINK_PORT
EOF
    fi
}

# Background processes are started as `taskset -c N prog &` (taskset execs prog, so $! is
# prog's pid); never through a shell function, whose `&` would add a subshell in between.

taskset -c "$LOAD_CPU" "$TMP/bench_tool" http-server "$BACKEND_PORT_P" "$BODY" >"$TMP/backend-p.log" 2>&1 &
PIDS+=" $!"
taskset -c "$LOAD_CPU" "$TMP/bench_tool" http-server "$BACKEND_PORT_H" "$BODY" >"$TMP/backend-h.log" 2>&1 &
PIDS+=" $!"
taskset -c "$LOAD_CPU" "$TMP/bench_tool" sink "$SINK_PORT" >"$TMP/sink.log" 2>&1 &
PIDS+=" $!"

# start_proxy NAME BIN CFG: starts a master-worker proxy pinned to the proxy CPU; sets PID_<NAME>
start_proxy() {
    local name=$1 bin=$2 cfg=$3
    taskset -c "$PROXY_CPU" "$bin" -W -f "$cfg" -p "$TMP/$name.pid" >"$TMP/$name.log" 2>&1 &
    local pid=$!
    PIDS+=" $pid"
    printf -v "PID_$name" '%s' "$pid"
}

proxy_cfg haproxy "$H_HTTP" "$H_TCP" "$BACKEND_PORT_H" "$H_TCPS" >"$TMP/haproxy.cfg"
start_proxy haproxy "$HAPROXY_BIN" "$TMP/haproxy.cfg"

PROXYD_HTTP_STATUS="ok"
if (( AB_TEST )); then
    proxy_cfg haproxy "$P_HTTP" "$P_TCP" "$BACKEND_PORT_P" >"$TMP/proxyd.cfg"
    start_proxy proxyd "$HAPROXY_BIN" "$TMP/proxyd.cfg"
    PROXYD_LABEL="haproxy#2"
else
    PROXYD_LABEL="proxyd"
    proxy_cfg proxyd "$P_HTTP" "$P_TCP" "$BACKEND_PORT_P" >"$TMP/proxyd.cfg"
    start_proxy proxyd "$TMP/proxyd" "$TMP/proxyd.cfg"
fi

wait_body "$BACKEND_PORT_P" "$BODY" || die "backend did not come up on 127.0.0.1:$BACKEND_PORT_P"
wait_body "$BACKEND_PORT_H" "$BODY" || die "backend did not come up on 127.0.0.1:$BACKEND_PORT_H"
wait_body "$H_HTTP" "$BODY" || die "haproxy did not come up on 127.0.0.1:$H_HTTP"
[[ $(raw_http "$H_HTTP") == "HTTP/1.1 400"* ]] || die "haproxy's fe_http did not reject a malformed request: not in mode http?"

# Does proxyd's mode http work? It must serve the body, keep-alive and close, and answer a
# malformed request itself (a TCP-mode forwarder would pass it to the backend, which says 200).
if (( ! AB_TEST )); then
    why=""
    if ! wait_body "$P_HTTP" "$BODY"; then
        if kill -0 "$PID_proxyd" 2>/dev/null; then
            why="no valid response through proxyd's fe_http"
        else
            why="proxyd exited: $(grep -m1 -iE 'alert|error|unknown|not supported' "$TMP/proxyd.log" | cut -c1-160)"
        fi
    elif ! wait_body "$P_HTTP" "$BODY" -H 'Connection: close'; then
        why="no valid 'Connection: close' response through proxyd's fe_http"
    else
        st=$(raw_http "$P_HTTP")
        [[ $st == "HTTP/1.1 400"* ]] || why="a malformed request got '${st:-no answer}' from proxyd (the backend's answer: forwarded as TCP)"
    fi
    if [[ -n $why ]]; then
        PROXYD_HTTP_STATUS="proxyd: mode http not available ($why)"
        echo "$PROXYD_HTTP_STATUS"
        # Keep proxyd for the TCP line (and, with --proxyd-http-fallback tcp, the HTTP lines).
        kids=$(children_of "$PID_proxyd" 2>/dev/null | tr '\n' ' ')
        stop_pid "$PID_proxyd" 5
        for k in $kids; do stop_pid "$k" 2; done
        mv "$TMP/proxyd.log" "$TMP/proxyd-http-attempt.log"
        proxy_cfg proxyd-tcp "$P_HTTP" "$P_TCP" "$BACKEND_PORT_P" >"$TMP/proxyd.cfg"
        start_proxy proxyd "$TMP/proxyd" "$TMP/proxyd.cfg"
        wait_body "$P_HTTP" "$BODY" || die "proxyd (mode tcp fallback) did not come up on 127.0.0.1:$P_HTTP"
        [[ $PROXYD_HTTP_FALLBACK == tcp ]] && PROXYD_LABEL="proxyd(tcp)"
    fi
fi

workers_of() { children_of "$1" | tr '\n' ' '; }
W_proxyd=$(workers_of "$PID_proxyd"); W_haproxy=$(workers_of "$PID_haproxy")
[[ $(wc -w <<<"$W_proxyd") -eq 1 ]] || die "proxyd has workers '$W_proxyd', expected 1"
[[ $(wc -w <<<"$W_haproxy") -eq 1 ]] || die "haproxy has workers '$W_haproxy', expected 1"
affinity() {  # affinity PID: the CPU lists of all its threads, deduplicated
    local t; for t in /proc/"$1"/task/*; do taskset -pc "${t##*/}" 2>/dev/null | awk '{print $NF}'; done | sort -u | xargs
}
nthreads() { local p; p=$(echo $1); ls /proc/"$p"/task 2>/dev/null | wc -l; }
for w in $W_proxyd $W_haproxy; do
    [[ $(affinity "$w") == "$PROXY_CPU" ]] || die "worker $w runs on CPUs '$(affinity "$w")', not $PROXY_CPU"
done

OUR_PIDS="$PIDS $W_proxyd $W_haproxy"   # for the noise estimate (wrk/send counted separately)
OTHER=""
HTTP_OK=1
[[ $PROXYD_HTTP_STATUS == ok || $PROXYD_HTTP_FALLBACK == tcp ]] || HTTP_OK=0

# ---------------------------------------------------------------------------------- header
DATE=$(date +%Y-%m-%d_%H%M%S)
[[ -n "$RESULTS_FILE" ]] || RESULTS_FILE="$BENCH_DIR/results/$DATE-http.txt"
RAW="$TMP/raw.txt"; : >"$RAW"
{
    echo "# proxyd vs HAProxy, mode http + tcp throughput, $(date -Is)"
    echo "host: $(uname -srm), $NCPU CPUs ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)), loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    if (( AB_TEST )); then
        echo "proxyd column: a second HAProxy (--haproxy-vs-haproxy, calibration)"
    else
        echo "proxyd: $("$TMP/proxyd" -vv 2>&1 | head -1) ($(awk '/BUILD/{print $3; exit}' <("$TMP/proxyd" -vv 2>&1))), binary $PROXYD_BIN built $(date -r "$PROXYD_BIN" '+%F %T'), sha256 $(sha256sum "$TMP/proxyd" | cut -c1-12); worktree HEAD $(git -C "$REPO_DIR" log -1 --format='%h' 2>/dev/null || echo '?')"
    fi
    echo "haproxy: $("$HAPROXY_BIN" -v 2>&1 | head -1)"
    echo "pinning: proxies (proxyd nbproc 1 = 1 worker, $(nthreads "$W_proxyd") thread(s); haproxy nbthread 1 = 1 worker, $(nthreads "$W_haproxy") thread(s)) on CPU $PROXY_CPU; backend, sink, wrk and sender on CPU $LOAD_CPU (taskset)"
    echo "backend: bench/bench_tool.cpp http-server (epoll, fixed 200, $BODY B body); wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}') -t1 -c$CONNS -d${DURATION}s --latency, $RUNS runs per proxy, alternating; tcp: bench_tool send/sink, $BYTES bytes per transfer, $TCP_RUNS per proxy and direction"
    echo "config: mode http, option http-keep-alive, http-reuse $HTTP_REUSE, timeouts 5s/30s/30s, maxconn 4096; tcp line: mode tcp frontend -> sink; haproxy splice off unless said (HAProxy's default), proxyd splices bulk transfers by itself"
    echo "mode http: $PROXYD_HTTP_STATUS"
    echo "estimated duration: ~${EST}s"
} | tee "$TMP/header.txt"

# ---------------------------------------------------------------------------------- runs
declare -A RPS P50 P99 EFF BUSY LBUSY ERRS MBPS TCPCPU SRVOPEN
# wrk_run TEST TARGET ROUND: TEST ka|close, TARGET proxyd|haproxy
wrk_run() {
    local test=$1 target=$2 round=$3 port pid out extra=() c0 c1 b0 t0 b1 t1
    local bport
    if [[ $target == proxyd ]]; then port=$P_HTTP; pid=$W_proxyd; bport=$BACKEND_PORT_P; else port=$H_HTTP; pid=$W_haproxy; bport=$BACKEND_PORT_H; fi
    [[ $test == close ]] && extra=(-H "Connection: close")
    out="$TMP/wrk-$test-$target-$round.txt"
    local lb0 lt0 lb1 lt1
    c0=$(cpu_ticks $pid); read -r b0 t0 <<<"$(cpu_busy "$PROXY_CPU")"; read -r lb0 lt0 <<<"$(cpu_busy "$LOAD_CPU")"
    box_snapshot; local s0=$SNAP
    taskset -c "$LOAD_CPU" timeout -k 3 $((DURATION + 15)) wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "${extra[@]}" \
        "http://127.0.0.1:$port/" >"$out" 2>&1 &
    PID_LOAD=$!; wait "$PID_LOAD"; local rc=$?; PID_LOAD=""
    c1=$(cpu_ticks $pid); read -r b1 t1 <<<"$(cpu_busy "$PROXY_CPU")"; read -r lb1 lt1 <<<"$(cpu_busy "$LOAD_CPU")"
    box_snapshot; local other
    other=$(other_cores "$s0" "$SNAP")
    # Server connections the proxy still holds open once the load stopped (idle pool, or leaks).
    local srv_open; srv_open=$(ss -Htan state established "( dport = :$bport )" 2>/dev/null | wc -l)
    [[ $rc -eq 0 ]] || { cat "$out" >&2; die "wrk failed (rc $rc) for $test/$target"; }
    local rps reqs p50 p99 errs non2xx cpu eff busy
    rps=$(awk '/^Requests\/sec:/{print $2}' "$out"); reqs=$(awk '/requests in/{print $1}' "$out")
    p50=$(to_ms "$(awk '$1=="50%"{print $2}' "$out")"); p99=$(to_ms "$(awk '$1=="99%"{print $2}' "$out")")
    errs=$(awk '/Socket errors/{gsub(/,/,""); print $4+$6+$8+$10}' "$out"); errs=${errs:-0}
    non2xx=$(awk '/Non-2xx/{print $NF}' "$out"); non2xx=${non2xx:-0}
    [[ -n "$rps" && -n "$reqs" ]] || { cat "$out" >&2; die "cannot parse wrk output for $test/$target"; }
    cpu=$(awk -v a="$c0" -v b="$c1" -v h="$CLK_TCK" 'BEGIN{printf "%.2f", (b-a)/h}')
    eff=$(awk -v r="$reqs" -v c="$cpu" 'BEGIN{ if (c>0) printf "%.0f", r/c; else print "-"}')
    busy=$(awk -v a="$b0" -v b="$b1" -v c="$t0" -v d="$t1" 'BEGIN{ if (d>c) printf "%.0f", 100*(b-a)/(d-c); else print "-"}')
    local lbusy; lbusy=$(awk -v a="$lb0" -v b="$lb1" -v c="$lt0" -v d="$lt1" 'BEGIN{ if (d>c) printf "%.0f", 100*(b-a)/(d-c); else print "-"}')
    printf 'run test=%s target=%s round=%s req_s=%s requests=%s p50_ms=%s p99_ms=%s errors=%s non2xx=%s worker_cpu_s=%s req_per_cpu_s=%s proxy_cpu%s_busy_pct=%s load_cpu%s_busy_pct=%s other_load_cores=%s server_conns_open_after=%s\n' \
        "$test" "$target" "$round" "$rps" "$reqs" "$p50" "$p99" "$errs" "$non2xx" "$cpu" "$eff" "$PROXY_CPU" "$busy" "$LOAD_CPU" "$lbusy" "$other" "$srv_open" | tee -a "$RAW"
    LBUSY[$test,$target]+="$lbusy "
    (( srv_open > ${SRVOPEN[$test,$target]:-0} )) && SRVOPEN[$test,$target]=$srv_open
    OTHER+="$other "
    RPS[$test,$target]+="$rps "; P50[$test,$target]+="$p50 "; P99[$test,$target]+="$p99 "
    EFF[$test,$target]+="$eff "; BUSY[$test,$target]+="$busy "
    ERRS[$test,$target]=$(( ${ERRS[$test,$target]:-0} + errs + non2xx ))
    sleep "$PAUSE"
}

# tcp_run DIR TARGET ROUND: DIR up|down, TARGET proxyd|haproxy|haproxy_splice
tcp_run() {
    local dir=$1 target=$2 round=$3 port pid out c0 c1
    case $target in
        proxyd) port=$P_TCP; pid=$W_proxyd ;;
        haproxy) port=$H_TCP; pid=$W_haproxy ;;
        haproxy_splice) port=$H_TCPS; pid=$W_haproxy ;;
    esac
    out="$TMP/tcp-$dir-$target-$round.txt"
    local left=$((TIME_LIMIT - (SECONDS - START) - 5))
    if (( left < 5 )); then
        echo "tcp dir=$dir target=$target round=$round skipped: time limit" | tee -a "$RAW"
        return 0
    fi
    (( left > 60 )) && left=60
    c0=$(cpu_ticks $pid); box_snapshot; local s0=$SNAP
    taskset -c "$LOAD_CPU" timeout -k 3 "$left" "$TMP/bench_tool" send 127.0.0.1 "$port" "$BYTES" "$dir" >"$out" 2>&1 &
    PID_LOAD=$!; wait "$PID_LOAD"; local rc=$?; PID_LOAD=""
    c1=$(cpu_ticks $pid); box_snapshot; local other
    other=$(other_cores "$s0" "$SNAP"); OTHER+="$other "
    local mbps secs cpu
    mbps=$(sed -n 's/.*mbps=\([0-9.]*\).*/\1/p' "$out"); secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$out")
    cpu=$(awk -v a="$c0" -v b="$c1" -v h="$CLK_TCK" 'BEGIN{printf "%.2f", (b-a)/h}')
    if [[ $rc -ne 0 || -z $mbps ]]; then
        echo "tcp $dir through $target failed (rc $rc): $(tr '\n' ' ' <"$out")" | tee -a "$RAW" >&2
        mbps="-"
    fi
    printf 'tcp dir=%s target=%s round=%s bytes=%s seconds=%s mb_per_s=%s worker_cpu_s=%s other_load_cores=%s\n' \
        "$dir" "$target" "$round" "$BYTES" "${secs:--}" "$mbps" "$cpu" "$other" | tee -a "$RAW"
    MBPS[$dir,$target]+="$mbps "
    [[ $mbps != "-" ]] && TCPCPU[$dir,$target]+="$(awk -v c="$cpu" -v b="$BYTES" 'BEGIN{printf "%.3f", c / (b / 1e9)}') "
    sleep 0.2
}

# Order: tcp, then keep-alive, then close. The close test leaves thousands of idle server
# connections behind in a proxy that pools them without bound (proxyd, 2026-11-24); their purge
# a few seconds later is one long loop iteration. Last, it disturbs no other test.
if (( TCP_RUNS > 0 )); then
    echo "== tcp throughput (1 connection, $BYTES bytes)"
    for dir in up down; do
        for ((r = 1; r <= TCP_RUNS; r++)); do
            if (( r % 2 )); then order="proxyd haproxy haproxy_splice"; else order="haproxy_splice haproxy proxyd"; fi
            for target in $order; do tcp_run "$dir" "$target" "$r"; done
        done
    done
fi

for test in "${HTTP_TESTS[@]}"; do
    echo "== http $test"
    # Warm-up (not recorded): 1 s of this test through each proxy.
    extra=(); [[ $test == close ]] && extra=(-H 'Connection: close')
    for target in proxyd haproxy; do
        [[ $target == proxyd ]] && (( ! HTTP_OK )) && continue
        port=$P_HTTP; [[ $target == haproxy ]] && port=$H_HTTP
        taskset -c "$LOAD_CPU" timeout -k 3 10 wrk -t1 -c"$CONNS" -d1s "${extra[@]}" "http://127.0.0.1:$port/" >/dev/null 2>&1
    done
    for ((r = 1; r <= RUNS; r++)); do
        if (( r % 2 )); then order="proxyd haproxy"; else order="haproxy proxyd"; fi
        for target in $order; do
            [[ $target == proxyd ]] && (( ! HTTP_OK )) && continue
            wrk_run "$test" "$target" "$r"
        done
    done
done
for w in $W_proxyd $W_haproxy; do kill -0 "$w" 2>/dev/null || die "worker $w vanished during the run"; done

# ---------------------------------------------------------------------------------- report
TABLE="$TMP/table.txt"
row() { printf '%-36s %-16s %-16s %s\n' "$@"; }
{
    row "test" "$PROXYD_LABEL" "haproxy" "ratio"
    for test in "${HTTP_TESTS[@]}"; do
        name="keep-alive"; [[ $test == close ]] && name="close"
        if (( HTTP_OK )); then
            # shellcheck disable=SC2086
            {
                pr=$(median ${RPS[$test,proxyd]}); hr=$(median ${RPS[$test,haproxy]})
                p5=$(median ${P50[$test,proxyd]}); h5=$(median ${P50[$test,haproxy]})
                p9=$(median ${P99[$test,proxyd]}); h9=$(median ${P99[$test,haproxy]})
                pe=$(median ${EFF[$test,proxyd]}); he=$(median ${EFF[$test,haproxy]})
                pb=$(median ${BUSY[$test,proxyd]}); hb=$(median ${BUSY[$test,haproxy]})
            }
        else
            pr="-"; p5="-"; p9="-"; pe="-"; pb="-"
            # shellcheck disable=SC2086
            { hr=$(median ${RPS[$test,haproxy]}); h5=$(median ${P50[$test,haproxy]}); h9=$(median ${P99[$test,haproxy]})
              he=$(median ${EFF[$test,haproxy]}); hb=$(median ${BUSY[$test,haproxy]}); }
        fi
        na() { if (( HTTP_OK )); then echo "$1"; else echo "n/a"; fi; }
        row "http $name req/s" "$(na "$(fmt "$pr" %.0f)")" "$(fmt "$hr" %.0f)" "$(ratio "$pr" "$hr")"
        row "http $name p50/p99 ms" "$(na "$(fmt "$p5" %.2f)/$(fmt "$p9" %.2f)")" "$(fmt "$h5" %.2f)/$(fmt "$h9" %.2f)" \
            "$(ratio "$p5" "$h5")/$(ratio "$p9" "$h9")"
        row "  req per proxy cpu-second" "$(na "$(fmt "$pe" %.0f)")" "$(fmt "$he" %.0f)" "$(ratio "$pe" "$he")"
        # shellcheck disable=SC2086
        { plb=$(median ${LBUSY[$test,proxyd]}); hlb=$(median ${LBUSY[$test,haproxy]}); }
        row "  busy % cpu $PROXY_CPU (proxy)/$LOAD_CPU (load)" "$(na "$(fmt "$pb" %.0f)/$(fmt "$plb" %.0f)")" "$(fmt "$hb" %.0f)/$(fmt "$hlb" %.0f)" ""
        row "  errors (socket + non-2xx)" "$(na "${ERRS[$test,proxyd]:-0}")" "${ERRS[$test,haproxy]:-0}" ""
        row "  server conns left open (max)" "$(na "${SRVOPEN[$test,proxyd]:-0}")" "${SRVOPEN[$test,haproxy]:-0}" ""
    done
    if (( TCP_RUNS > 0 )); then
        for dir in up down; do
            # shellcheck disable=SC2086
            { pm=$(median ${MBPS[$dir,proxyd]}); hm=$(median ${MBPS[$dir,haproxy]}); hs=$(median ${MBPS[$dir,haproxy_splice]}); }
            d="upload"; [[ $dir == down ]] && d="download"
            row "tcp $d MB/s (1 conn)" "$(fmt "$pm" %.0f)" "$(fmt "$hm" %.0f)" "$(ratio "$pm" "$hm")"
            row "  vs haproxy with option splice-*" "$(fmt "$pm" %.0f)" "$(fmt "$hs" %.0f)" "$(ratio "$pm" "$hs")"
            # shellcheck disable=SC2086
            { pc=$(median ${TCPCPU[$dir,proxyd]}); hc=$(median ${TCPCPU[$dir,haproxy]}); sc=$(median ${TCPCPU[$dir,haproxy_splice]}); }
            row "  proxy cpu-s per GB (haproxy/splice)" "$(fmt "$pc" %.3f)" "$(fmt "$hc" %.3f)/$(fmt "$sc" %.3f)" "$(ratio "$pc" "$hc")/$(ratio "$pc" "$sc")"
        done
    fi
} >"$TABLE"
{
    echo
    cat "$TABLE"
    echo "ratio = $PROXYD_LABEL / haproxy: > 1 is better for proxyd on req/s, req/cpu-s and MB/s; < 1 is better on latency."
    echo "medians of $RUNS wrk runs (${DURATION}s, $CONNS conns) and $TCP_RUNS transfers; proxies on CPU $PROXY_CPU, backend + load generator on CPU $LOAD_CPU."
    [[ $PROXYD_HTTP_STATUS == ok ]] || echo "$PROXYD_HTTP_STATUS$( [[ $PROXYD_HTTP_FALLBACK == tcp ]] && echo "; its HTTP lines were measured in mode tcp" )"
    # shellcheck disable=SC2086
    noisy=$(printf '%s\n' $OTHER | awk -v m="$NOISE_MAX" '$1 != "-" && $1 > m {n++} END{print n+0}')
    # shellcheck disable=SC2086
    echo "other load: median $(median $OTHER) cores, max $(printf '%s\n' $OTHER | sort -g | tail -1) over $(wc -w <<<"$OTHER") runs$( (( noisy > 0 )) && echo "; WARNING: $noisy runs had other jobs using > $NOISE_MAX cores: numbers are noisy, rerun on a quiet box")"
    echo "elapsed: $((SECONDS - START))s"
} | tee "$TMP/summary.txt"

mkdir -p "$(dirname "$RESULTS_FILE")"
{ cat "$TMP/header.txt" "$TMP/summary.txt"; echo; echo "## raw runs"; cat "$RAW"; } >"$RESULTS_FILE"
echo "results: $RESULTS_FILE"
FAILED=0
