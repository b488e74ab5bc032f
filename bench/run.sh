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
# shellcheck source-path=SCRIPTDIR source=lib/configs.sh
source "$BENCH_DIR/lib/configs.sh"
# shellcheck source-path=SCRIPTDIR source=lib/harness.sh
source "$BENCH_DIR/lib/harness.sh"

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

# ---- settings ---------------------------------------------------------------------------------

resolve_build_dir "${1:-}"
WEFT_BIN="$BUILD_DIR/bin/weft-proxy"
read_run_settings

TOOLS=(wrk:wrk nginx:nginx-light haproxy:haproxy taskset:util-linux python3:python3
       timeout:coreutils)
if wants h2 || wants grpc; then TOOLS+=(h2load:nghttp2-client curl:curl); fi
check_tools "${TOOLS[@]}"

pick_cpus

# ---- process lifecycle ------------------------------------------------------------------------

harness_start weft-bench
for protocol in "${PROTOCOLS[@]}"; do
  mkdir -p "$WORK/$protocol"
  : >"$WORK/$protocol/runs.tsv"
  : >"$WORK/$protocol/targets.tsv"
done
PASS=${PROTOCOLS[0]}  # the pass being measured: where record_target and run_once write

declare -A URLS=()  # target -> URL wrk hits, only for targets that are up

record_target() { # TARGET KEY VALUE
  printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$WORK/$PASS/targets.tsv"
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

# The process whose CPU we charge to a target: the proxy (for nginx, its master; proc.py adds the
# workers). Nothing for direct: there is no proxy.
measured_pid() { # TARGET
  [ "$1" = direct ] && return 0
  echo "${PASS_PIDS[$1]}"
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
    write_common_meta
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
