#!/usr/bin/env bash
# bench/run.sh - proxyd vs HAProxy, side by side, TCP mode, on 127.0.0.1.
#
# Starts one nginx backend, one proxyd and one HAProxy (both `mode tcp`, same timeouts, same
# number of workers/threads) in a private temp dir, then for each scenario runs wrk directly
# against nginx (baseline) and alternately through proxyd and HAProxy, measuring req/s, p99
# latency and the CPU time the proxy processes used. Prints a table and writes the raw results
# to bench/results/<date>.txt. Everything started here is stopped on exit (pass or fail).
#
# Usage: sudo bench/run.sh [options]      (see --help; bench/README.md explains the columns)

set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")

# ---------------------------------------------------------------------------------- options
WORKERS=1          # proxyd nbproc / haproxy nbthread
DURATION=10        # seconds per wrk run
RUNS=3             # runs per proxy per scenario (median reported)
DIRECT_RUNS=1      # runs of the direct-to-nginx baseline per scenario
CONNS=50           # wrk -c
THREADS=1          # wrk -t
STRACE_DURATION=3  # seconds of the syscall-count run per proxy per scenario; 0 = skip
SYSCALL_TOOL=auto  # perf (tracepoints, low overhead), strace (-c), none; auto = perf, else strace
SCENARIOS="small,large,close"
PROXYD_BIN="$REPO_DIR/build/proxyd"
HAPROXY_BIN=""
INSTALL=1
KEEP_TMP=0
RESULTS_FILE=""
PAUSE=1            # seconds of rest between runs
NOISE_MAX=0.25     # a run where other jobs used more CPU than this (cores) is "noisy"
HAPROXY_SPLICE=0   # 1: HAProxy gets 'option splice-request' + 'option splice-response'

usage() {
    cat <<EOF
Usage: $0 [options]
  -w, --workers N         proxyd nbproc N and haproxy nbthread N (default $WORKERS)
  -d, --duration S        seconds per wrk run (default $DURATION)
  -r, --runs R            runs per proxy per scenario, median reported (default $RUNS)
      --direct-runs R     runs of the direct-to-nginx baseline per scenario (default $DIRECT_RUNS)
  -c, --connections C     wrk connections (default $CONNS)
  -t, --threads T         wrk threads (default $THREADS)
  -s, --scenarios LIST    comma list of small,large,close (default $SCENARIOS)
      --syscalls TOOL     count syscalls per request with perf|strace|none (default auto: perf
                          if its syscall tracepoints work, else strace, else none)
      --strace-duration S seconds of that extra syscall-count run per proxy and scenario, 0 = skip
                          (default $STRACE_DURATION)
      --proxyd PATH       proxyd binary (default build/proxyd)
      --haproxy PATH      haproxy binary (default: haproxy in PATH)
      --noise-max CORES   a run during which other jobs used more than CORES of CPU is noisy; the
                          table uses only quiet runs when both proxies have some (default $NOISE_MAX)
      --haproxy-splice    give HAProxy 'option splice-request' + 'option splice-response' (off by
                          default in HAProxy; proxyd always splices bulk transfers)
      --no-install        do not apt-get install missing tools
      --keep              keep the temp dir (configs, logs, wrk outputs)
  -o, --output FILE       raw results file (default bench/results/<date>-w<N>.txt)
  -h, --help
Scenarios: small = keep-alive GET of a 100-byte file; large = keep-alive GET of a 64 KiB file;
close = 100-byte file with 'Connection: close' (one TCP connection per request).
EOF
}

die() { echo "run.sh: error: $*" >&2; exit 1; }
need_int() { [[ "$2" =~ ^[0-9]+$ ]] || die "$1 needs a non-negative integer, got '$2'"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        -w|--workers) need_int "$1" "${2-}"; WORKERS=$2; shift 2 ;;
        -d|--duration) need_int "$1" "${2-}"; DURATION=$2; shift 2 ;;
        -r|--runs) need_int "$1" "${2-}"; RUNS=$2; shift 2 ;;
        --direct-runs) need_int "$1" "${2-}"; DIRECT_RUNS=$2; shift 2 ;;
        -c|--connections) need_int "$1" "${2-}"; CONNS=$2; shift 2 ;;
        -t|--threads) need_int "$1" "${2-}"; THREADS=$2; shift 2 ;;
        -s|--scenarios) SCENARIOS=${2-}; shift 2 ;;
        --strace-duration|--syscall-duration) need_int "$1" "${2-}"; STRACE_DURATION=$2; shift 2 ;;
        --syscalls) SYSCALL_TOOL=${2-}; shift 2 ;;
        --proxyd) PROXYD_BIN=${2-}; shift 2 ;;
        --haproxy) HAPROXY_BIN=${2-}; shift 2 ;;
        --no-install) INSTALL=0; shift ;;
        --haproxy-splice) HAPROXY_SPLICE=1; shift ;;
        --noise-max) [[ "${2-}" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--noise-max needs a number"; NOISE_MAX=$2; shift 2 ;;
        --keep) KEEP_TMP=1; shift ;;
        -o|--output) RESULTS_FILE=${2-}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option '$1'" ;;
    esac
done
(( WORKERS >= 1 && WORKERS <= 64 )) || die "--workers must be 1..64"
(( DURATION >= 1 )) || die "--duration must be >= 1"
(( RUNS >= 1 )) || die "--runs must be >= 1"
(( CONNS >= THREADS && THREADS >= 1 )) || die "need connections >= threads >= 1"
IFS=',' read -r -a SCEN_LIST <<<"$SCENARIOS"
for s in "${SCEN_LIST[@]}"; do
    case "$s" in small|large|close) ;; *) die "unknown scenario '$s' (small, large, close)" ;; esac
done
[[ -z "$RESULTS_FILE" || "$RESULTS_FILE" == /* ]] || RESULTS_FILE="$PWD/$RESULTS_FILE"   # the script cd's to its temp dir
[[ -x "$PROXYD_BIN" && "$PROXYD_BIN" != /* ]] && PROXYD_BIN="$PWD/$PROXYD_BIN"
[[ $(id -u) -eq 0 ]] || die "run as root (nginx/haproxy/proxyd run as root in a temp dir; apt-get)"

# ---------------------------------------------------------------------------------- tools
install_missing() {
    local pkgs=()
    command -v wrk >/dev/null || pkgs+=(wrk)
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || pkgs+=(nginx-light)
    [[ -n "$HAPROXY_BIN" ]] || command -v haproxy >/dev/null || pkgs+=(haproxy)
    command -v curl >/dev/null || pkgs+=(curl)
    command -v ss >/dev/null || pkgs+=(iproute2)
    [[ ${#pkgs[@]} -eq 0 ]] && return 0
    if (( ! INSTALL )); then die "missing: ${pkgs[*]} (and --no-install given)"; fi
    echo "installing: ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1 || {
        apt-get update >/dev/null 2>&1
        # nginx-light is gone from some releases: fall back to nginx.
        local p2=("${pkgs[@]/nginx-light/nginx}")
        apt-get install -y --no-install-recommends "${p2[@]}" >/dev/null || die "apt-get install ${p2[*]} failed"
    }
}
install_missing
export PATH="$PATH:/usr/sbin:/sbin"
NGINX_BIN=$(command -v nginx) || die "nginx not found"
[[ -n "$HAPROXY_BIN" ]] || HAPROXY_BIN=$(command -v haproxy) || die "haproxy not found"
[[ -x "$PROXYD_BIN" ]] || die "proxyd binary '$PROXYD_BIN' not found (ninja -C build, or --proxyd PATH)"
perf_works() {
    command -v perf >/dev/null && [[ -d /sys/kernel/tracing/events/raw_syscalls || -d /sys/kernel/debug/tracing/events/raw_syscalls ]] &&
        timeout 10 perf stat -x';' -e raw_syscalls:sys_enter -- true 2>&1 | grep -q '^[0-9]'
}
case "$SYSCALL_TOOL" in
    auto) if perf_works; then SYSCALL_TOOL=perf; elif command -v strace >/dev/null; then SYSCALL_TOOL=strace; else SYSCALL_TOOL=none; fi ;;
    perf) perf_works || die "--syscalls perf: perf or its syscall tracepoints are not usable" ;;
    strace) command -v strace >/dev/null || die "--syscalls strace: strace not found" ;;
    none) ;;
    *) die "--syscalls takes perf, strace or none" ;;
esac
(( STRACE_DURATION > 0 )) || SYSCALL_TOOL=none
HAVE_STRACE=0; [[ $SYSCALL_TOOL == none ]] || HAVE_STRACE=1
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------------------------- cleanup
TMP=$(mktemp -d /tmp/proxyd-bench.XXXXXX) || die "mktemp failed"
PIDS_NGINX=""; PIDS_PROXYD=""; PIDS_HAPROXY=""; PID_LOAD=""; PID_STRACE=""
FAILED=1

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

children_of() { # direct children pids of $1 (one per line)
    local p=$1 f
    f=/proc/$p/task/$p/children
    if [[ -r $f ]]; then tr ' ' '\n' <"$f" | grep -v '^$'; else pgrep -P "$p"; fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n "$PID_STRACE" ]] && kill -INT "$PID_STRACE" 2>/dev/null && sleep 0.5 && stop_pid "$PID_STRACE" 2
    [[ -n "$PID_LOAD" ]] && stop_pid "$PID_LOAD" 2
    local master kids
    for master in $PIDS_PROXYD $PIDS_HAPROXY $PIDS_NGINX; do
        kids=$(children_of "$master" 2>/dev/null | tr '\n' ' ')
        stop_pid "$master" 5
        for k in $kids; do stop_pid "$k" 2; done   # only if the master left them behind
    done
    wait 2>/dev/null
    if (( FAILED )); then
        echo "run.sh: failed; logs:" >&2
        for f in "$TMP"/*.log; do
            [[ -s $f ]] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
        done
    fi
    if (( KEEP_TMP )); then echo "temp dir kept: $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------- helpers
free_port() {  # a free TCP port below the ephemeral range (so client ports never collide)
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 10000))
        [[ " $USED_PORTS " == *" $p "* ]] && continue
        if [[ -z $(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null) ]]; then
            USED_PORTS="$USED_PORTS $p"
            echo "$p"
            return 0
        fi
    done
    die "no free port found"
}
USED_PORTS=""

wait_http() {  # wait_http PORT PATH EXPECTED_BYTES: until a GET returns that many bytes
    local port=$1 path=$2 want=$3 i got
    for ((i = 0; i < 100; i++)); do
        got=$(curl -s --max-time 2 "http://127.0.0.1:$port$path" 2>/dev/null | wc -c)
        [[ "$got" == "$want" ]] && return 0
        sleep 0.1
    done
    return 1
}

cpu_ticks() {  # sum of utime+stime (ticks) over the given pids; a pid that vanished counts 0
    local sum=0 p line rest
    local -a f
    for p in "$@"; do
        line=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        rest=${line##*) }      # fields after "(comm) ": state is field 3
        read -r -a f <<<"$rest"
        # utime = field 14, stime = field 15 -> index 11, 12 of rest (which starts at field 3)
        sum=$((sum + f[11] + f[12]))
    done
    echo "$sum"
}

shell_children_cpu() {  # CHILD_CPU = user+sys seconds of this shell's reaped children (wrk, via timeout)
    # Must not run in $(...): a subshell would report its own (empty) children.
    times >"$TMP/times.txt"
    CHILD_CPU=$(awk 'NR==2{ for (i = 1; i <= 2; i++) { split($i, m, "m"); sub(/s$/, "", m[2]); t += m[1] * 60 + m[2] }
                printf "%.2f\n", t }' "$TMP/times.txt")
}

sys_busy() {  # "busy total irq+softirq" jiffies of all CPUs from /proc/stat
    # Loopback TCP work done in (soft)interrupt context is accounted there, not to any process.
    awk '/^cpu /{t=0; for(i=2;i<=NF;i++) t+=$i; idle=$5+$6; print t-idle, t, $7+$8; exit}' /proc/stat
}

median() {  # median of the arguments (numbers); "-" ignored; "-" if none
    printf '%s\n' "$@" | grep -v -e '^-$' -e '^$' | sort -g | awk '{a[NR]=$1} END{
        if (NR==0) {print "-"; exit}
        if (NR%2) printf "%.6g\n", a[(NR+1)/2]; else printf "%.6g\n", (a[NR/2]+a[NR/2+1])/2 }'
}

to_ms() {  # wrk duration (e.g. 530.12us, 1.20ms, 1.05s, 2.00m) -> ms
    awk -v v="$1" 'BEGIN{
        if (v ~ /us$/) {sub(/us$/,"",v); printf "%.3f\n", v/1000}
        else if (v ~ /ms$/) {sub(/ms$/,"",v); printf "%.3f\n", v}
        else if (v ~ /m$/) {sub(/m$/,"",v); printf "%.3f\n", v*60000}
        else if (v ~ /s$/) {sub(/s$/,"",v); printf "%.3f\n", v*1000}
        else print "-" }'
}

fmt_int() { [[ "$1" == "-" ]] && { echo "-"; return; }; printf "%.0f" "$1"; }

# ---------------------------------------------------------------------------------- setup
NGINX_PORT=$(free_port); PROXYD_PORT=$(free_port); HAPROXY_PORT=$(free_port)
mkdir -p "$TMP/www" "$TMP/nginx" "$BENCH_DIR/results"
chmod 755 "$TMP"
head -c 99 /dev/zero | tr '\0' 'a' >"$TMP/www/small.txt"; echo >>"$TMP/www/small.txt"  # 100 bytes
yes 'proxyd benchmark payload 0123456789abcdefghijklmnopqrstuvwxyz' | head -c 65536 >"$TMP/www/large.bin"
# A private copy: another build replacing build/proxyd mid-run cannot change what is measured.
cp "$PROXYD_BIN" "$TMP/proxyd" && chmod 755 "$TMP/proxyd"

cat >"$TMP/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
user root;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; multi_accept on; }
http {
    access_log off;
    sendfile on;
    # tcp_nopush (TCP_CORK) with sendfile gave ~1-3% of 64 KiB responses a ~40 ms stall here, even
    # direct (p99 30 ms instead of 1 ms): off, so the p99 columns measure the proxies.
    tcp_nopush off;
    tcp_nodelay on;
    keepalive_timeout 65s;
    keepalive_requests 10000000;
    open_file_cache max=64 inactive=600s;
    open_file_cache_valid 600s;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$NGINX_PORT backlog=4096;
        root $TMP/www;
        location / { }
    }
}
EOF

COMMON_DEFAULTS="defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend fe_bench
    bind 127.0.0.1:@PORT@
    default_backend be_nginx

backend be_nginx
    balance roundrobin
    server nginx1 127.0.0.1:$NGINX_PORT"

cat >"$TMP/proxyd.cfg" <<EOF
global
    nbproc $WORKERS
    maxconn 4096
    user nobody
    group nogroup

${COMMON_DEFAULTS//@PORT@/$PROXYD_PORT}
EOF

cat >"$TMP/haproxy.cfg" <<EOF
global
    nbthread $WORKERS
    maxconn 4096
    user nobody
    group nogroup

${COMMON_DEFAULTS//@PORT@/$HAPROXY_PORT}
EOF
if (( HAPROXY_SPLICE )); then
    sed -i 's/^    mode tcp$/    mode tcp\n    option splice-request\n    option splice-response/' "$TMP/haproxy.cfg"
fi

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true   # maxconn 4096 needs ~8.2k fds
cd "$TMP" || die "cd $TMP"

"$NGINX_BIN" -t -q -c "$TMP/nginx.conf" -p "$TMP" -e "$TMP/nginx.log" >>"$TMP/nginx.log" 2>&1 || die "nginx config test failed"
"$NGINX_BIN" -c "$TMP/nginx.conf" -p "$TMP" -e "$TMP/nginx.log" >>"$TMP/nginx.log" 2>&1 &
PIDS_NGINX=$!
"$TMP/proxyd" -W -f "$TMP/proxyd.cfg" -p "$TMP/proxyd.pid" >"$TMP/proxyd.log" 2>&1 &
PIDS_PROXYD=$!
"$HAPROXY_BIN" -W -f "$TMP/haproxy.cfg" -p "$TMP/haproxy.pid" >"$TMP/haproxy.log" 2>&1 &
PIDS_HAPROXY=$!

wait_http "$NGINX_PORT" /small.txt 100 || die "nginx did not come up on 127.0.0.1:$NGINX_PORT"
wait_http "$PROXYD_PORT" /small.txt 100 || die "proxyd did not come up on 127.0.0.1:$PROXYD_PORT"
wait_http "$HAPROXY_PORT" /small.txt 100 || die "haproxy did not come up on 127.0.0.1:$HAPROXY_PORT"
wait_http "$PROXYD_PORT" /large.bin 65536 || die "proxyd: 64 KiB GET failed"
wait_http "$HAPROXY_PORT" /large.bin 65536 || die "haproxy: 64 KiB GET failed"

# The processes whose CPU is counted: master + workers (the master is idle during runs).
proxy_pids() {  # proxy_pids proxyd|haproxy -> "master kid kid..."
    local m
    if [[ $1 == proxyd ]]; then m=$PIDS_PROXYD; else m=$PIDS_HAPROXY; fi
    echo "$m $(children_of "$m" | tr '\n' ' ')"
}
worker_pids() { children_of "$( [[ $1 == proxyd ]] && echo "$PIDS_PROXYD" || echo "$PIDS_HAPROXY")" | tr '\n' ' '; }
NGINX_ALL="$PIDS_NGINX $(children_of "$PIDS_NGINX" | tr '\n' ' ')"
n_proxyd_workers=$(worker_pids proxyd | wc -w)
n_haproxy_workers=$(worker_pids haproxy | wc -w)
n_haproxy_threads=$(ls /proc/"$(worker_pids haproxy | awk '{print $1}')"/task 2>/dev/null | wc -l)
[[ $n_proxyd_workers -eq $WORKERS ]] || die "proxyd has $n_proxyd_workers workers, expected $WORKERS"

# ---------------------------------------------------------------------------------- runs
DATE=$(date +%Y-%m-%d_%H%M%S)
[[ -n "$RESULTS_FILE" ]] || RESULTS_FILE="$BENCH_DIR/results/$DATE-w$WORKERS.txt"
RAW="$TMP/raw.txt"
: >"$RAW"

url_of() { # url_of scenario port
    case "$1" in large) echo "http://127.0.0.1:$2/large.bin" ;; *) echo "http://127.0.0.1:$2/small.txt" ;; esac
}
set_wrk_extra() { # set_wrk_extra scenario: extra wrk arguments in WRK_EXTRA
    WRK_EXTRA=()
    if [[ $1 == close ]]; then WRK_EXTRA=(-H "Connection: close"); fi
}
port_of() { case "$1" in direct) echo "$NGINX_PORT" ;; proxyd) echo "$PROXYD_PORT" ;; haproxy) echo "$HAPROXY_PORT" ;; esac; }

declare -A RPS CPUEFF P99 P50 ERRS SYSC OTHER RPS_Q CPUEFF_Q P99_Q NQ NALL STALLS
# one_run SCENARIO TARGET ROUND: runs wrk, records one "run" line into $RAW
one_run() {
    local scen=$1 target=$2 round=$3 out pids c0 c1 n0 n1 b0 b1 t0 t1 w0 w1 q0 q1
    out="$TMP/wrk-$scen-$target-$round.txt"
    if [[ $target == direct ]]; then pids=""; else pids=$(proxy_pids "$target"); fi
    set_wrk_extra "$scen"
    c0=$(cpu_ticks $pids); n0=$(cpu_ticks $NGINX_ALL); read -r b0 t0 q0 <<<"$(sys_busy)"; shell_children_cpu; w0=$CHILD_CPU
    timeout -k 5 $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "${WRK_EXTRA[@]}" \
        "$(url_of "$scen" "$(port_of "$target")")" >"$out" 2>&1 &
    PID_LOAD=$!
    wait "$PID_LOAD"; local wrc=$?; PID_LOAD=""
    c1=$(cpu_ticks $pids); n1=$(cpu_ticks $NGINX_ALL); read -r b1 t1 q1 <<<"$(sys_busy)"; shell_children_cpu; w1=$CHILD_CPU
    [[ $wrc -eq 0 ]] || { cat "$out" >&2; die "wrk failed (rc $wrc) for $scen/$target"; }
    local maxl rps reqs p50 p99 errs non2xx cpu_s ngx_s eff busy wrk_s other_s sirq_s
    rps=$(awk '/^Requests\/sec:/{print $2}' "$out")
    reqs=$(awk '/requests in/{print $1}' "$out")
    p50=$(to_ms "$(awk '$1=="50%"{print $2}' "$out")")
    p99=$(to_ms "$(awk '$1=="99%"{print $2}' "$out")")
    maxl=$(to_ms "$(awk '$1=="Latency" && NF>=4 {print $4; exit}' "$out")")
    errs=$(awk '/Socket errors/{gsub(/,/,""); print $4+$6+$8+$10}' "$out"); errs=${errs:-0}
    non2xx=$(awk '/Non-2xx/{print $NF}' "$out"); non2xx=${non2xx:-0}
    [[ -n "$rps" && -n "$reqs" ]] || { cat "$out" >&2; die "cannot parse wrk output for $scen/$target"; }
    ngx_s=$(awk -v a="$n0" -v b="$n1" -v h="$CLK_TCK" 'BEGIN{printf "%.2f", (b-a)/h}')
    busy=$(awk -v a="$b0" -v b="$b1" -v c="$t0" -v d="$t1" 'BEGIN{ if (d>c) printf "%.0f", 100*(b-a)/(d-c); else print "-"}')
    wrk_s=$(awk -v a="$w0" -v b="$w1" 'BEGIN{printf "%.2f", b-a}')
    sirq_s=$(awk -v a="$q0" -v b="$q1" -v h="$CLK_TCK" 'BEGIN{printf "%.2f", (b-a)/h}')
    if [[ $target == direct ]]; then
        cpu_s="-"; eff="-"
    else
        cpu_s=$(awk -v a="$c0" -v b="$c1" -v h="$CLK_TCK" 'BEGIN{printf "%.2f", (b-a)/h}')
        eff=$(awk -v r="$reqs" -v c="$cpu_s" 'BEGIN{ if (c>0) printf "%.0f", r/c; else print "-"}')
    fi
    # CPU used on the box by anything else (other jobs, kernel threads, the idle proxy): noise.
    other_s=$(awk -v a="$b0" -v b="$b1" -v h="$CLK_TCK" -v p="${cpu_s/-/0}" -v n="$ngx_s" -v w="$wrk_s" -v q="$sirq_s" \
        'BEGIN{o=(b-a)/h-p-n-w-q; if (o<0) o=0; printf "%.2f", o}')
    # A proxy that leaves connections hanging (wrk counts no error for a response that never
    # comes) shows up as a handful of requests per connection: flag it loudly.
    local stalled=0
    if [[ $target != direct ]] && (( reqs < CONNS * 20 )); then
        stalled=1
        echo "WARNING: $target completed only $reqs requests in ${DURATION}s over $CONNS connections ($scen): stalled connections?" |
            tee -a "$RAW" >&2
        STALLS[$scen,$target]=$(( ${STALLS[$scen,$target]:-0} + 1 ))
    fi
    local quiet
    quiet=$(awk -v o="$other_s" -v d="$DURATION" -v m="$NOISE_MAX" 'BEGIN{print (o / d <= m) ? 1 : 0}')
    printf 'run scenario=%s target=%s round=%s quiet=%s stalled=%s req_s=%s requests=%s p50_ms=%s p99_ms=%s max_ms=%s sock_errors=%s non2xx=%s proxy_cpu_s=%s req_per_cpu_s=%s nginx_cpu_s=%s wrk_cpu_s=%s irq_cpu_s=%s other_cpu_s=%s box_busy_pct=%s\n' \
        "$scen" "$target" "$round" "$quiet" "$stalled" "$rps" "$reqs" "$p50" "$p99" "$maxl" "$errs" "$non2xx" "$cpu_s" "$eff" "$ngx_s" "$wrk_s" "$sirq_s" "$other_s" "$busy" | tee -a "$RAW"
    RPS[$scen,$target]+="$rps "
    NALL[$scen,$target]=$(( ${NALL[$scen,$target]:-0} + 1 ))
    if (( quiet )); then
        RPS_Q[$scen,$target]+="$rps "; CPUEFF_Q[$scen,$target]+="$eff "; P99_Q[$scen,$target]+="$p99 "
        NQ[$scen,$target]=$(( ${NQ[$scen,$target]:-0} + 1 ))
    fi
    CPUEFF[$scen,$target]+="$eff "
    P99[$scen,$target]+="$p99 "
    P50[$scen,$target]+="$p50 "
    ERRS[$scen,$target]=$(( ${ERRS[$scen,$target]:-0} + errs + non2xx ))
    OTHER[$scen]+="$(awk -v o="$other_s" -v d="$DURATION" 'BEGIN{printf "%.2f", o/d}') "
    sleep "$PAUSE"
}

# perf_run SCENARIO TARGET: syscalls per request over a short fixed run, counted with perf's
# syscall tracepoints (in-kernel counters: the workers run at nearly full speed, unlike strace).
PERF_SYSCALLS="read recvfrom recvmsg readv write sendto sendmsg writev splice epoll_wait epoll_pwait epoll_ctl
    accept4 accept connect socket close shutdown setsockopt getsockopt fcntl ioctl clock_gettime getpid"
perf_run() {
    local scen=$1 target=$2
    local out="$TMP/perf-$scen-$target.txt" wout="$TMP/wrk-perf-$scen-$target.txt" evs=() sc tdir
    tdir=/sys/kernel/tracing; [[ -d $tdir/events ]] || tdir=/sys/kernel/debug/tracing
    evs=(-e raw_syscalls:sys_enter -e raw_syscalls:sys_exit --filter 'ret == -11')
    for sc in $PERF_SYSCALLS; do
        [[ -d $tdir/events/syscalls/sys_enter_$sc ]] && evs+=(-e "syscalls:sys_enter_$sc")
    done
    timeout -k 5 $((STRACE_DURATION + 40)) perf stat -x';' -o "$out" "${evs[@]}" \
        -p "$(worker_pids "$target" | xargs | tr ' ' ',')" 2>>"$TMP/perf.log" &
    PID_STRACE=$!
    sleep 1
    set_wrk_extra "$scen"
    timeout -k 5 $((STRACE_DURATION + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${STRACE_DURATION}s" "${WRK_EXTRA[@]}" \
        "$(url_of "$scen" "$(port_of "$target")")" >"$wout" 2>&1
    kill -INT "$PID_STRACE" 2>/dev/null
    wait "$PID_STRACE" 2>/dev/null
    PID_STRACE=""
    local reqs calls eagain per
    reqs=$(awk '/requests in/{print $1}' "$wout")
    calls=$(awk -F';' '$3=="raw_syscalls:sys_enter"{print $1}' "$out" 2>/dev/null)
    eagain=$(awk -F';' '$3=="raw_syscalls:sys_exit"{print $1}' "$out" 2>/dev/null)
    if [[ "$reqs" =~ ^[0-9]+$ && "$calls" =~ ^[0-9]+$ && "$reqs" -gt 0 ]]; then
        per=$(awk -v c="$calls" -v r="$reqs" 'BEGIN{printf "%.2f", c/r}')
    else
        per="-"
    fi
    SYSC[$scen,$target]=$per
    {
        echo "syscalls(perf) scenario=$scen target=$target requests=${reqs:-?} syscalls=${calls:-?} syscalls_per_req=$per eagain=${eagain:-?} ($(awk -v e="${eagain:-0}" -v r="${reqs:-0}" 'BEGIN{ if (r>0) printf "%.2f", e/r; else print "-"}')/req)"
        awk -F';' -v r="${reqs:-0}" '$3 ~ /^syscalls:sys_enter_/ && $1 ~ /^[0-9]+$/ && $1 > 0 && r > 0 {
                n = $3; sub(/^syscalls:sys_enter_/, "", n)
                printf "%d\t    %-16s %8.3f/req  (%s calls)\n", $1, n, $1/r, $1}' "$out" 2>/dev/null |
            sort -t$'\t' -k1,1nr | cut -f2-
    } | tee -a "$RAW"
    sleep "$PAUSE"
}

# strace_run SCENARIO TARGET: syscalls per request over a short fixed run
strace_run() {
    local scen=$1 target=$2
    local out="$TMP/strace-$scen-$target.txt" wout="$TMP/wrk-strace-$scen-$target.txt" w pargs=()
    for w in $(worker_pids "$target"); do pargs+=(-p "$w"); done
    strace -c -f -qq -o "$out" "${pargs[@]}" 2>>"$TMP/strace.log" &
    PID_STRACE=$!
    sleep 1   # attach to every thread before the load starts
    set_wrk_extra "$scen"
    timeout -k 5 $((STRACE_DURATION + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${STRACE_DURATION}s" "${WRK_EXTRA[@]}" \
        "$(url_of "$scen" "$(port_of "$target")")" >"$wout" 2>&1
    kill -INT "$PID_STRACE" 2>/dev/null
    wait "$PID_STRACE" 2>/dev/null
    PID_STRACE=""
    local reqs calls per
    reqs=$(awk '/requests in/{print $1}' "$wout")
    calls=$(awk '$NF=="total"{print $4}' "$out" 2>/dev/null)
    if [[ -n "$reqs" && -n "$calls" && "$reqs" -gt 0 ]]; then
        per=$(awk -v c="$calls" -v r="$reqs" 'BEGIN{printf "%.2f", c/r}')
    else
        per="-"
    fi
    SYSC[$scen,$target]=$per
    {
        echo "syscalls(strace) scenario=$scen target=$target requests=${reqs:-?} syscalls=${calls:-?} syscalls_per_req=$per"
        # per-syscall calls/request, biggest first
        awk -v r="${reqs:-0}" '/^-/{sep++; next} sep==1 && NF>=5 && r>0 {
                printf "%d\t    %-16s %8.3f/req  (%s calls, %s errors)\n", $4, $NF, $4/r, $4, (NF==6?$5:0)}' \
            "$out" 2>/dev/null | sort -t$'\t' -k1,1nr | cut -f2-
    } | tee -a "$RAW"
    sleep "$PAUSE"
}

n_scen=${#SCEN_LIST[@]}
est=$(( n_scen * ((DIRECT_RUNS + 2 * RUNS) * (DURATION + PAUSE + 1) + (HAVE_STRACE ? 2 * (STRACE_DURATION + PAUSE + 2) : 0)) + 5 ))
cat <<EOF | tee "$TMP/header.txt"
# proxyd vs HAProxy, TCP mode, $(date -Is)
host: $(uname -srm), $(nproc) CPUs ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)), loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)
proxyd: $("$TMP/proxyd" -vv 2>&1 | head -1) ($(awk '/BUILD/{print $3; exit}' <("$TMP/proxyd" -vv 2>&1))), binary $PROXYD_BIN built $(date -r "$PROXYD_BIN" '+%F %T'), sha256 $(sha256sum "$TMP/proxyd" | cut -c1-12); worktree HEAD $(git -C "$REPO_DIR" log -1 --format='%h %cd' --date=format:'%F %T' 2>/dev/null || echo '?')
haproxy: $("$HAPROXY_BIN" -v 2>&1 | head -1)
nginx: $("$NGINX_BIN" -v 2>&1), worker_processes 1, keep-alive; wrk: $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')
settings: workers=$WORKERS (proxyd nbproc $WORKERS: $n_proxyd_workers worker processes; haproxy nbthread $WORKERS: $n_haproxy_workers worker process, $n_haproxy_threads threads) wrk -t$THREADS -c$CONNS -d${DURATION}s, runs=$RUNS (direct $DIRECT_RUNS), syscall counts: $SYSCALL_TOOL, ${STRACE_DURATION}s, haproxy splice: $HAPROXY_SPLICE
scenarios: small = GET 100 B keep-alive; large = GET 64 KiB keep-alive; close = GET 100 B with Connection: close
estimated duration: ~${est}s
EOF

if awk -v l="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN{exit !(l > 0.5)}'; then
    echo "WARNING: load average $(cut -d' ' -f1 /proc/loadavg) before the benchmark: other jobs share the CPUs, expect noise (see 'other load')" | tee -a "$TMP/header.txt"
fi

# Warm-up: a short run through each target (not recorded).
for tgt in direct proxyd haproxy; do
    timeout -k 5 10 wrk -t1 -c"$CONNS" -d1s "$(url_of small "$(port_of "$tgt")")" >/dev/null 2>&1
done

for scen in "${SCEN_LIST[@]}"; do
    echo "== scenario $scen"
    for ((r = 1; r <= DIRECT_RUNS; r++)); do one_run "$scen" direct "$r"; done
    for ((r = 1; r <= RUNS; r++)); do
        # Alternate which proxy goes first (p h h p p h ...) so slow drift hits both alike.
        if (( r % 2 )); then order="proxyd haproxy"; else order="haproxy proxyd"; fi
        for tgt in $order; do one_run "$scen" "$tgt" "$r"; done
    done
    if (( HAVE_STRACE )); then
        for tgt in proxyd haproxy; do
            if [[ $SYSCALL_TOOL == perf ]]; then perf_run "$scen" "$tgt"; else strace_run "$scen" "$tgt"; fi
        done
    fi
    # A crashed/restarted worker would make the numbers meaningless: check they are the same.
    for tgt in proxyd haproxy; do
        for w in $(worker_pids "$tgt"); do kill -0 "$w" 2>/dev/null || die "$tgt worker $w vanished"; done
    done
done

# ---------------------------------------------------------------------------------- report
TABLE="$TMP/table.md"
{
    echo "| scenario | direct req/s | proxyd req/s | haproxy req/s | proxyd/haproxy | proxyd req/cpu-s | haproxy req/cpu-s | p99 direct | p99 proxyd | p99 haproxy | syscalls/req proxyd | syscalls/req haproxy | errors d/p/h | other load | runs used d/p/h |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |"
    for scen in "${SCEN_LIST[@]}"; do
        # Quiet runs only, when both proxies have at least one (and direct when it has one).
        if (( ${NQ[$scen,proxyd]:-0} > 0 && ${NQ[$scen,haproxy]:-0} > 0 )); then
            # shellcheck disable=SC2086
            { p=$(median ${RPS_Q[$scen,proxyd]}); h=$(median ${RPS_Q[$scen,haproxy]})
              pe=$(median ${CPUEFF_Q[$scen,proxyd]}); he=$(median ${CPUEFF_Q[$scen,haproxy]})
              p99=$(median ${P99_Q[$scen,proxyd]}); h99=$(median ${P99_Q[$scen,haproxy]}); }
            used_p="${NQ[$scen,proxyd]}q"; used_h="${NQ[$scen,haproxy]}q"
        else
            # shellcheck disable=SC2086
            { p=$(median ${RPS[$scen,proxyd]}); h=$(median ${RPS[$scen,haproxy]})
              pe=$(median ${CPUEFF[$scen,proxyd]}); he=$(median ${CPUEFF[$scen,haproxy]})
              p99=$(median ${P99[$scen,proxyd]}); h99=$(median ${P99[$scen,haproxy]}); }
            used_p="${NALL[$scen,proxyd]:-0}"; used_h="${NALL[$scen,haproxy]:-0}"
        fi
        if (( ${NQ[$scen,direct]:-0} > 0 )); then
            # shellcheck disable=SC2086
            { d=$(median ${RPS_Q[$scen,direct]}); d99=$(median ${P99_Q[$scen,direct]}); }
            used_d="${NQ[$scen,direct]}q"
        else
            # shellcheck disable=SC2086
            { d=$(median ${RPS[$scen,direct]}); d99=$(median ${P99[$scen,direct]}); }
            used_d="${NALL[$scen,direct]:-0}"
        fi
        ratio=$(awk -v a="$p" -v b="$h" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "-"}')
        label=$scen
        case $scen in small) label="small 100 B keep-alive" ;; large) label="large 64 KiB keep-alive" ;; close) label="close (conn/request)" ;; esac
        # shellcheck disable=SC2086
        other=$(median ${OTHER[$scen]})
        local_p=$(fmt_int "$p"); local_h=$(fmt_int "$h")
        (( ${STALLS[$scen,proxyd]:-0} > 0 )) && local_p="$local_p STALLED"
        (( ${STALLS[$scen,haproxy]:-0} > 0 )) && local_h="$local_h STALLED"
        printf '| %s | %s | %s | %s | %s | %s | %s | %s ms | %s ms | %s ms | %s | %s | %s/%s/%s | %.2f | %s/%s/%s |\n' \
            "$label" "$(fmt_int "$d")" "$local_p" "$local_h" "$ratio" "$(fmt_int "$pe")" "$(fmt_int "$he")" \
            "$d99" "$p99" "$h99" "${SYSC[$scen,proxyd]:--}" "${SYSC[$scen,haproxy]:--}" \
            "${ERRS[$scen,direct]:-0}" "${ERRS[$scen,proxyd]:-0}" "${ERRS[$scen,haproxy]:-0}" "$other" \
            "$used_d" "$used_p" "$used_h"
    done
} >"$TABLE"

{
    cat "$TMP/header.txt"
    echo
    echo "## summary (medians of $RUNS runs per proxy, $DIRECT_RUNS direct; only the quiet runs where both proxies have one: 'runs used', q = quiet)"
    cat "$TABLE"
    echo
    echo "## raw runs"
    cat "$RAW"
    echo
    echo "## configurations"
    echo "--- proxyd.cfg"; cat "$TMP/proxyd.cfg"
    echo "--- haproxy.cfg"; cat "$TMP/haproxy.cfg"
    echo
    echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RESULTS_FILE"

echo
cat "$TABLE"
echo
echo "raw results: $RESULTS_FILE"
FAILED=0
