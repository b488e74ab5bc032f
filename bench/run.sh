#!/usr/bin/env bash
# Side-by-side benchmark: wrk against weft-proxy, nginx and HAProxy (one worker each, keep-alive to
# one shared upstream) and against the upstream directly, all in one run on loopback. Prints a
# markdown summary (medians and ratios) on stdout, progress on stderr, and writes the full result
# to bench/results/<timestamp>.json. See bench/README.md for how to read it.
#
# usage: bench/run.sh [BUILD_DIR]        (default: build; weft-proxy is BUILD_DIR/bin/weft-proxy)
# env:   BENCH_REPS=3 BENCH_DURATION=5   repetitions, seconds per wrk run
#        BENCH_QUICK=1                   smoke test: 1 repetition of 2 s
#        BENCH_RESULTS_DIR=DIR           where the JSON goes (default: bench/results)
#        BENCH_SERVER_CPU / BENCH_CLIENT_CPU   CPUs to pin to (default: first two allowed CPUs)
#        BENCH_KEEP_WORKDIR=1            keep the temp dir with configs, logs and raw wrk output
#        BENCH_PROTOCOLS=h1,h2,grpc      which passes to run (default h1): h1 = wrk over HTTP/1.1;
#                                        h2 = h2load over h2c; grpc = h2load gRPC unary over h2c
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"  # nginx and haproxy live in sbin on Debian

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
# shellcheck source-path=SCRIPTDIR source=lib/configs.sh
source "$BENCH_DIR/lib/configs.sh"

CONNECTION_COUNTS=(1 4 50)
# h2load loads for h2 and grpc: CLIENTSxSTREAMS (-c CLIENTS -m STREAMS).
H2_LOADS=(1x1 1x10 50x1 50x10)
TARGET_ORDER=(direct weft nginx haproxy)
IFS=', ' read -r -a PROTOCOLS <<<"${BENCH_PROTOCOLS:-h1}"
for protocol in "${PROTOCOLS[@]}"; do
  case $protocol in
    h1 | h2 | grpc) ;;
    *)
      echo "bench: BENCH_PROTOCOLS takes h1, h2 and grpc, not '$protocol'" >&2
      exit 2
      ;;
  esac
done
wants() { [[ " ${PROTOCOLS[*]} " == *" $1 "* ]]; }
WARMUP_SECONDS=1
STARTUP_TIMEOUT_SECONDS=10

# ---- settings ---------------------------------------------------------------------------------

BUILD_DIR=${1:-build}
if [[ $BUILD_DIR != /* ]]; then
  # Relative to the caller's directory when it exists there, else to the repository (make's cwd).
  if [ -d "$BUILD_DIR" ]; then
    BUILD_DIR="$PWD/$BUILD_DIR"
  else
    BUILD_DIR="$REPO_DIR/$BUILD_DIR"
  fi
fi
WEFT_BIN="$BUILD_DIR/bin/weft-proxy"

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  REPS=1
  DURATION=2
else
  REPS=${BENCH_REPS:-3}
  DURATION=${BENCH_DURATION:-5}
  DURATION=${DURATION%s}  # accept "5" and "5s"
fi
for value in "$REPS" "$DURATION"; do
  if ! [[ $value =~ ^[1-9][0-9]*$ ]]; then
    echo "bench: BENCH_REPS and BENCH_DURATION must be positive integers" >&2
    exit 2
  fi
done
RESULTS_DIR=${BENCH_RESULTS_DIR:-$BENCH_DIR/results}

proc() { python3 "$BENCH_DIR/lib/proc.py" "$@"; }
log() { echo "bench: $*" >&2; }

check_tools() {
  local missing=() entry tool
  # tool:Debian package that provides it
  local tools=(wrk:wrk nginx:nginx-light haproxy:haproxy taskset:util-linux python3:python3
               timeout:coreutils)
  if wants h2 || wants grpc; then tools+=(h2load:nghttp2-client curl:curl); fi
  for entry in "${tools[@]}"; do
    tool=${entry%%:*}
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool (Debian package ${entry#*:})")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "missing tools:"
    printf '  %s\n' "${missing[@]}" >&2
    log "install them with scripts/setup.sh (or: make setup)"
    exit 2
  fi
}
check_tools

read -r -a ALLOWED_CPUS <<<"$(proc cpus)"
SERVER_CPU=${BENCH_SERVER_CPU:-${ALLOWED_CPUS[0]}}
CLIENT_CPU=${BENCH_CLIENT_CPU:-${ALLOWED_CPUS[1]:-}}
if [ -z "$CLIENT_CPU" ] || [ "$CLIENT_CPU" = "$SERVER_CPU" ]; then
  log "needs two CPUs: servers on one, wrk on another (allowed: ${ALLOWED_CPUS[*]})"
  exit 2
fi

# ---- process lifecycle ------------------------------------------------------------------------

WORK=$(mktemp -d /tmp/weft-bench.XXXXXX)
# nginx workers drop to an unprivileged user when started as root; let them reach their paths.
chmod 755 "$WORK"
mkdir -p "$WORK/logs" "$WORK/runs"
for protocol in "${PROTOCOLS[@]}"; do
  mkdir -p "$WORK/$protocol"
  : >"$WORK/$protocol/runs.tsv"
  : >"$WORK/$protocol/targets.tsv"
done
PASS=${PROTOCOLS[0]}  # the pass being measured: where record_target and run_once write

declare -A SERVER_PIDS=()  # name -> PID of every server we started (upstream included)
declare -A URLS=()         # target -> URL wrk hits, only for targets that are up

# True while PID exists and is not a zombie (an exited child we have not reaped yet).
is_running() {
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Stops one server we started: SIGTERM, up to 3 s grace, then SIGKILL for it and any children it
# left behind (an nginx master killed hard would orphan its workers).
stop_pid() {
  local pid=$1 children child_pid
  children=$(proc children "$pid" 2>/dev/null || true)
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 30); do
    is_running "$pid" || break
    sleep 0.1
  done
  for child_pid in $pid $children; do
    kill -KILL "$child_pid" 2>/dev/null || true
  done
  wait "$pid" 2>/dev/null || true
}

WRK_PID=""  # the wrk run in progress, if any

cleanup() {
  local status=$?
  trap - EXIT ERR
  trap '' INT TERM  # a second Ctrl-C must not cut the cleanup short
  local name
  [ -n "$WRK_PID" ] && stop_pid "$WRK_PID"
  for name in "${!SERVER_PIDS[@]}"; do stop_pid "${SERVER_PIDS[$name]}"; done
  if [ "${BENCH_KEEP_WORKDIR:-0}" = 1 ]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# A server's stdout/stderr is in logs/NAME.log; nginx also writes logs/NAME-error.log.
show_log_tail() { # NAME
  tail -n 20 "$WORK/logs/$1.log" "$WORK/logs/$1-error.log" 2>/dev/null | sed 's/^/  /' >&2
}

last_log_line() { # NAME
  grep -v '^[[:space:]]*$' "$WORK/logs/$1.log" | tail -n 1 | tr '\t' ' '
}

record_target() { # TARGET KEY VALUE
  printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$WORK/$PASS/targets.tsv"
}

# True when URL answers "hello world" over h2c with prior knowledge, within the timeout.
wait_h2c() { # URL TIMEOUT_S PID
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    is_running "$3" || return 1
    [ "$(curl -s --max-time 1 --http2-prior-knowledge "$1" 2>/dev/null)" = "hello world" ] &&
      return 0
    sleep 0.1
  done
  return 1
}

# Starts NAME pinned to the server CPU and waits until URL answers "hello world" (over h2c when
# READY_H2C=1).
READY_H2C=0
start_server() { # NAME URL COMMAND...
  local name=$1 url=$2
  shift 2
  taskset -c "$SERVER_CPU" "$@" >"$WORK/logs/$name.log" 2>&1 &
  local pid=$!  # taskset execs the command, so this is the server's own PID
  SERVER_PIDS[$name]=$pid
  if [ "$READY_H2C" = 1 ]; then
    wait_h2c "$url" "$STARTUP_TIMEOUT_SECONDS" "$pid" && return 0
  elif proc wait-http "$url" "$STARTUP_TIMEOUT_SECONDS" "$pid"; then
    return 0
  fi
  log "$name failed to start; the end of its output:"
  show_log_tail "$name"
  stop_pid "$pid"
  unset "SERVER_PIDS[$name]"
  return 1
}

# Starts a proxy under test and records its idle memory; a failure leaves the others running.
# NAME is the process's name (logs/NAME.log, SERVER_PIDS), TARGET the report's column.
start_target() { # TARGET PORT COMMAND...   (env: NAME, default TARGET)
  local target=$1 port=$2 name=${NAME:-$1}
  shift 2
  local url="http://127.0.0.1:$port/"
  if ! start_server "$name" "$url" "$@"; then
    record_target "$target" status "failed to start"
    local note
    note=$(last_log_line "$name" || true)
    if [ -z "$note" ] && [ "$READY_H2C" = 1 ]; then note="no h2c answer on $url"; fi
    record_target "$target" note "$note"
    return 0
  fi
  URLS[$target]=$url
  PASS_PIDS[$target]=${SERVER_PIDS[$name]}
  record_target "$target" status ok
  local cpu rss pss processes
  read -r cpu rss pss processes <<<"$(proc sample "${SERVER_PIDS[$name]}")"
  record_target "$target" idle_rss_kb "$rss"
  record_target "$target" idle_pss_kb "$pss"
  record_target "$target" processes "$processes"
}

# ---- start everything -------------------------------------------------------------------------

read -r UPSTREAM_PORT NGINX_PORT HAPROXY_PORT WEFT_PORT WEFT_ADMIN_PORT UPSTREAM_H2C_PORT \
  <<<"$(proc free-ports 6)"
declare -A PASS_PIDS=()  # target -> PID measured in the current pass

log "work dir $WORK; servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU;" \
    "$REPS repetition(s) x ${DURATION}s x conns ${CONNECTION_COUNTS[*]}"

upstream_conf=$(write_upstream_config "$WORK" "$UPSTREAM_PORT" "$UPSTREAM_H2C_PORT")
if ! start_server upstream "http://127.0.0.1:$UPSTREAM_PORT/" \
    nginx -p "$WORK" -e "$WORK/logs/upstream-error.log" -c "$upstream_conf"; then
  log "cannot benchmark without the upstream"
  exit 1
fi

# Starts the proxies of one pass (h1, h2 or grpc); URLS and PASS_PIDS name what is up.
start_pass_targets() { # PASS
  URLS=()
  PASS_PIDS=()
  local suffix="" weft_conf nginx_conf haproxy_conf
  if [ "$1" = h1 ]; then
    READY_H2C=0
    URLS[direct]="http://127.0.0.1:$UPSTREAM_PORT/"
  else
    READY_H2C=1
    suffix=-$1
    URLS[direct]="http://127.0.0.1:$UPSTREAM_H2C_PORT/"
  fi
  record_target direct status ok
  if [ ! -x "$WEFT_BIN" ]; then
    echo "weft-proxy: not built ($WEFT_BIN missing); measuring the others" >&2
    record_target weft status "not built"
    record_target weft note "$WEFT_BIN missing"
  elif [ "$1" = h1 ]; then
    weft_conf=$(write_weft_config "$WORK" "$WEFT_PORT" "$UPSTREAM_PORT" "$WEFT_ADMIN_PORT")
    start_target weft "$WEFT_PORT" "$WEFT_BIN" -c "$weft_conf" --concurrency 1 -l warning
  else
    weft_conf=$(write_weft_h2_config "$WORK" "$WEFT_PORT" "$UPSTREAM_H2C_PORT" "$WEFT_ADMIN_PORT")
    NAME=weft$suffix start_target weft "$WEFT_PORT" "$WEFT_BIN" -c "$weft_conf" --concurrency 1 \
      -l warning
  fi
  if [ "$1" = h1 ]; then
    nginx_conf=$(write_nginx_config "$WORK" "$NGINX_PORT" "$UPSTREAM_PORT")
    haproxy_conf=$(write_haproxy_config "$WORK" "$HAPROXY_PORT" "$UPSTREAM_PORT")
  else
    nginx_conf=$(write_nginx_h2_config "$WORK" "$NGINX_PORT" "$UPSTREAM_PORT" "$UPSTREAM_H2C_PORT")
    haproxy_conf=$(write_haproxy_h2_config "$WORK" "$HAPROXY_PORT" "$UPSTREAM_H2C_PORT")
  fi
  NAME=nginx$suffix start_target nginx "$NGINX_PORT" nginx -p "$WORK" \
    -e "$WORK/logs/nginx$suffix-error.log" -c "$nginx_conf"
  NAME=haproxy$suffix start_target haproxy "$HAPROXY_PORT" haproxy -db -f "$haproxy_conf"
}

# Stops the proxies of the pass just measured (the upstream stays), freeing their ports.
stop_pass_targets() {
  local target name
  for target in "${!PASS_PIDS[@]}"; do
    for name in "${!SERVER_PIDS[@]}"; do
      if [ "${SERVER_PIDS[$name]}" = "${PASS_PIDS[$target]}" ]; then
        stop_pid "${SERVER_PIDS[$name]}"
        unset "SERVER_PIDS[$name]"
      fi
    done
  done
  PASS_PIDS=()
}

# ---- measure ----------------------------------------------------------------------------------

# Starts the load generator in the background, pinned to the client CPU, and sets WRK_PID. In the
# background because wrk catches SIGINT and exits normally, so bash would not run our INT trap
# while waiting for it in the foreground; the `wait` builtin instead returns as soon as a trapped
# signal arrives. `timeout` only matters if the client hangs; cleanup's SIGTERM reaches it.
# LOAD is a connection count for wrk (h1), CLIENTSxSTREAMS for h2load (h2, grpc).
start_wrk() { # LOAD SECONDS URL OUTPUT_FILE
  local load=$1 seconds=$2 url=$3 out=$4
  case $PASS in
    h1)
      timeout -k 5 $((seconds + 30)) taskset -c "$CLIENT_CPU" \
        wrk -t1 -c"$load" -d"${seconds}s" --latency --timeout 5s "$url" >"$out" 2>&1 &
      ;;
    h2)
      timeout -k 5 $((seconds + 30)) taskset -c "$CLIENT_CPU" \
        h2load -t1 -c"${load%x*}" -m"${load#*x}" -D"$seconds" "$url" >"$out" 2>&1 &
      ;;
    grpc)
      # A gRPC unary call: POST of one length-prefixed empty message (5 bytes), the headers
      # gRPC requires; the upstream answers 200 + grpc-status 0 in trailers (lib/configs.sh).
      timeout -k 5 $((seconds + 30)) taskset -c "$CLIENT_CPU" \
        h2load -t1 -c"${load%x*}" -m"${load#*x}" -D"$seconds" -d "$WORK/grpc-request.bin" \
        -H "content-type: application/grpc" -H "te: trailers" \
        "${url}grpc.bench.Bench/Unary" >"$out" 2>&1 &
      ;;
  esac
  WRK_PID=$!
}

finish_wrk() { # returns the client's exit status
  local rc=0
  wait "$WRK_PID" || rc=$?
  WRK_PID=""
  return "$rc"
}
printf '\0\0\0\0\0' >"$WORK/grpc-request.bin"

# The process whose CPU we charge to a target: the proxy (for nginx, its master; proc.py adds the
# workers). Nothing for direct: there is no proxy.
measured_pid() { # TARGET
  [ "$1" = direct ] && return 0
  echo "${PASS_PIDS[$1]}"
}

cpu_seconds() { # PID
  local cpu rest
  read -r cpu rest <<<"$(proc sample "$1")"
  echo "$cpu"
}

run_once() { # REP LOAD TARGET
  local rep=$1 conns=$2 target=$3
  local pid out="$WORK/runs/$PASS-rep${rep}-c${conns}-${target}.txt"
  pid=$(measured_pid "$target")
  if [ -n "$pid" ] && ! is_running "$pid"; then
    log "$target exited during the benchmark; skipping it from now on"
    show_log_tail "$target"
    record_target "$target" status died
    unset "URLS[$target]"
    return 0
  fi
  local cpu_before="" cpu_after="" rc=0
  [ -n "$pid" ] && cpu_before=$(cpu_seconds "$pid")
  start_wrk "$conns" "$DURATION" "${URLS[$target]}" "$out"
  finish_wrk || rc=$?
  [ -n "$pid" ] && cpu_after=$(cpu_seconds "$pid")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$conns" "$target" "$cpu_before" "$cpu_after" \
    "$rc" "$out" >>"$WORK/$PASS/runs.tsv"
  local rps
  rps=$(awk '/^Requests\/sec:/ {print $2} /^finished in/ {print $4}' "$out")
  log "$PASS rep $rep/$REPS load $conns $target: ${rps:-no result (exit $rc)} req/s"
}

weft_version=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
mkdir -p "$RESULTS_DIR"
stamp=$(date -u +%Y%m%dT%H%M%SZ)

for PASS in "${PROTOCOLS[@]}"; do
  if [ "$PASS" = h1 ]; then
    LOADS=("${CONNECTION_COUNTS[@]}")
  else
    LOADS=("${H2_LOADS[@]}")
  fi
  log "pass $PASS: work dir $WORK; servers on CPU $SERVER_CPU, client on CPU $CLIENT_CPU;" \
      "$REPS repetition(s) x ${DURATION}s x loads ${LOADS[*]}"
  start_pass_targets "$PASS"

  # One unrecorded warm-up per target (pools filled, caches and branch predictors warm) so the
  # first recorded repetition is not special.
  for target in "${TARGET_ORDER[@]}"; do
    [ -n "${URLS[$target]:-}" ] || continue
    start_wrk "${LOADS[1]}" "$WARMUP_SECONDS" "${URLS[$target]}" /dev/null
    finish_wrk || true
  done

  # Interleaved: every repetition visits every load and target, so slow drift in the machine
  # (thermal, neighbours) spreads over all contestants instead of biasing one.
  for rep in $(seq 1 "$REPS"); do
    for conns in "${LOADS[@]}"; do
      for target in "${TARGET_ORDER[@]}"; do
        [ -n "${URLS[$target]:-}" ] || continue
        run_once "$rep" "$conns" "$target"
      done
    done
  done

  for target in weft nginx haproxy; do
    [ -n "${URLS[$target]:-}" ] || continue
    read -r cpu rss pss processes <<<"$(proc sample "${PASS_PIDS[$target]}")"
    record_target "$target" after_rss_kb "$rss"
    record_target "$target" after_pss_kb "$pss"
  done
  stop_pass_targets

  # ---- report ---------------------------------------------------------------------------------
  {
    printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'host\t%s\n' "$(hostname)"
    printf 'kernel\t%s\n' "$(uname -r)"
    printf 'cpu_model\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    printf 'cpus\t%s\n' "$(nproc --all)"
    printf 'weft_version\t%s\n' "$weft_version"
    printf 'nginx_version\t%s\n' "$(nginx -v 2>&1 | sed 's|.*nginx/||')"
    printf 'haproxy_version\t%s\n' "$(haproxy -v | awk 'NR == 1 {print $3}')"
    if [ "$PASS" = h1 ]; then
      printf 'wrk_version\t%s\n' "$(wrk -v 2>&1 | awk 'NR == 1 {print $2}')"
    else
      printf 'h2load_version\t%s\n' "$(h2load --version | awk '{print $2}')"
    fi
    printf 'protocol\t%s\n' "$PASS"
    printf 'reps\t%s\n' "$REPS"
    printf 'duration_s\t%s\n' "$DURATION"
    printf 'conns\t%s\n' "${LOADS[*]}"
    printf 'server_cpu\t%s\n' "$SERVER_CPU"
    printf 'client_cpu\t%s\n' "$CLIENT_CPU"
    printf 'quick\t%s\n' "$QUICK"
  } >"$WORK/$PASS/meta.tsv"

  suffix=""
  [ "$PASS" = h1 ] || suffix="-$PASS"
  [ "$QUICK" = 1 ] && suffix="$suffix-quick"
  json="$RESULTS_DIR/$stamp$suffix.json"
  python3 "$BENCH_DIR/lib/report.py" --workdir "$WORK/$PASS" --json "$json"
  log "full results: $json"
done
