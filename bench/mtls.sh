#!/usr/bin/env bash
# Mutual TLS between two proxies, against the same pair in plaintext and against HAProxy doing the
# same, in one run: wrk -> client-side proxy (plaintext in) -> [mTLS | plaintext] -> server-side
# proxy -> the shared nginx upstream. Two modes for the hop between the proxies: keepalive
# (connections reused) and newconn (one connection, so one TLS handshake, per request). Measures
# requests/s, p50/p99, the CPU per request of both proxies of each pair, and the server side's
# connections, handshakes and resumed sessions. Prints a markdown summary on stdout and writes
# bench/results/<timestamp>-mtls.json. See bench/README.md, "Mutual TLS between two proxies".
#
# usage: bench/mtls.sh [BUILD_DIR]          (default: build; weft-proxy is BUILD_DIR/bin/weft-proxy)
# env:   BENCH_REPS=3 BENCH_DURATION=5      repetitions, seconds per wrk run
#        BENCH_QUICK=1                      smoke test: 1 repetition of 2 s at 50 connections
#        BENCH_MTLS_CONNS="1 50"            wrk connection counts
#        BENCH_MTLS_MODES="keepalive newconn"
#        BENCH_RESULTS_DIR, BENCH_SERVER_CPU, BENCH_CLIENT_CPU, BENCH_KEEP_WORKDIR as in run.sh
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"  # nginx and haproxy live in sbin on Debian

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/configs.sh
source "$BENCH_DIR/lib/configs.sh"
# shellcheck source-path=SCRIPTDIR source=lib/harness.sh
source "$BENCH_DIR/lib/harness.sh"

resolve_build_dir "${1:-}"
WEFT_BIN="$BUILD_DIR/bin/weft-proxy"
read_run_settings
check_tools wrk:wrk nginx:nginx-light haproxy:haproxy taskset:util-linux python3:python3 \
  timeout:coreutils openssl:openssl
pick_cpus

if [ "$QUICK" = 1 ]; then
  read -r -a CONNECTION_COUNTS <<<"${BENCH_MTLS_CONNS:-50}"
else
  read -r -a CONNECTION_COUNTS <<<"${BENCH_MTLS_CONNS:-1 50}"
fi
read -r -a MODES <<<"${BENCH_MTLS_MODES:-keepalive newconn}"
for mode in "${MODES[@]}"; do
  case $mode in
    keepalive | newconn) ;;
    *)
      log "BENCH_MTLS_MODES takes keepalive and newconn, not '$mode'"
      exit 2
      ;;
  esac
done
# Plaintext and mTLS of one proxy next to each other, so drift hits both alike.
TARGET_ORDER=(direct weft weft-mtls haproxy haproxy-mtls haproxy-mtls-full)
PASS=h1
WARMUP_SECONDS=1
[ "$QUICK" = 1 ] && WARMUP_SECONDS=0  # the smoke test checks the harness, not the numbers

harness_start weft-bench-mtls
: >"$WORK/runs.tsv"
: >"$WORK/targets.tsv"
PKI=$(write_mtls_certs "$WORK")

record_target() { # MODE TARGET KEY VALUE
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$WORK/targets.tsv"
}

read -r UPSTREAM_PORT UPSTREAM_H2C_PORT <<<"$(proc free-ports 2)"
upstream_conf=$(write_upstream_config "$WORK" "$UPSTREAM_PORT" "$UPSTREAM_H2C_PORT")
if ! start_server upstream "http://127.0.0.1:$UPSTREAM_PORT/" \
    nginx -p "$WORK" -e "$WORK/logs/upstream-error.log" -c "$upstream_conf"; then
  log "cannot benchmark without the upstream"
  exit 1
fi

declare -A URLS=()         # target -> URL wrk hits (the client side of the pair), when up
declare -A CLIENT_NAME=()  # target -> SERVER_PIDS name of the client-side proxy
declare -A SERVER_NAME=()  # target -> ... of the server-side proxy
declare -A STATS_ARGS=()   # target -> proxy_stats.py arguments for the server side

# Starts the server side (no readiness check of its own: it has nothing to answer alone), then
# the client side, ready once a request crosses the whole pair. A failure stops both.
start_pair() { # MODE TARGET CLIENT_PORT CLIENT_COMMAND... -- SERVER_COMMAND...
  local mode=$1 target=$2 port=$3
  shift 3
  local client=() server=()
  while [ "$1" != -- ]; do client+=("$1"); shift; done
  shift
  server=("$@")
  local name="$target-$mode"
  start_server "$name-server" - "${server[@]}"
  if ! start_server "$name-client" "http://127.0.0.1:$port/" "${client[@]}"; then
    log "$name-server's output:"
    show_log_tail "$name-server"
    stop_server "$name-server"
    record_target "$mode" "$target" status "failed to start"
    record_target "$mode" "$target" note "$(last_log_line "$name-server" || true)"
    return 0
  fi
  URLS[$target]="http://127.0.0.1:$port/"
  CLIENT_NAME[$target]=$name-client
  SERVER_NAME[$target]=$name-server
  record_target "$mode" "$target" status ok
}

start_mode_targets() { # MODE
  local mode=$1 tls target cport sport cadmin sadmin conf_c conf_s
  URLS=([direct]="http://127.0.0.1:$UPSTREAM_PORT/")
  CLIENT_NAME=()
  SERVER_NAME=()
  STATS_ARGS=()
  record_target "$mode" direct status ok
  for target in weft weft-mtls; do
    tls=0
    [ "$target" = weft-mtls ] && tls=1
    if [ ! -x "$WEFT_BIN" ]; then
      record_target "$mode" "$target" status "not built"
      record_target "$mode" "$target" note "$WEFT_BIN missing"
      continue
    fi
    read -r cport sport cadmin sadmin <<<"$(proc free-ports 4)"
    conf_c=$(write_weft_mtls_client_config "$WORK" "$target-$mode-client" "$cport" "$sport" \
      "$cadmin" "$tls" "$mode" "$PKI")
    conf_s=$(write_weft_mtls_server_config "$WORK" "$target-$mode-server" "$sport" \
      "$UPSTREAM_PORT" "$sadmin" "$tls" "$PKI")
    STATS_ARGS[$target]="weft $sadmin"
    start_pair "$mode" "$target" "$cport" \
      "$WEFT_BIN" -c "$conf_c" --concurrency 1 -l warning -- \
      "$WEFT_BIN" -c "$conf_s" --concurrency 1 -l warning
  done
  for target in haproxy haproxy-mtls haproxy-mtls-full; do
    case $target in
      haproxy) tls=0 ;;
      haproxy-mtls) tls=1 ;;
      # HAProxy resumes sessions by default; with one handshake per request also measure it
      # without, full handshakes only, the work a client that does not resume causes.
      *)
        [ "$mode" = newconn ] || continue
        tls=full
        ;;
    esac
    read -r cport sport <<<"$(proc free-ports 2)"
    conf_c=$(write_haproxy_mtls_config "$WORK" "$target-$mode-client" client "$cport" "$sport" \
      "$tls" "$mode" "$PKI")
    conf_s=$(write_haproxy_mtls_config "$WORK" "$target-$mode-server" server "$sport" \
      "$UPSTREAM_PORT" "$tls" "$mode" "$PKI")
    STATS_ARGS[$target]="haproxy $WORK/$target-$mode-server.sock"
    start_pair "$mode" "$target" "$cport" haproxy -db -f "$conf_c" -- haproxy -db -f "$conf_s"
  done
}

stop_mode_targets() {
  local target
  for target in "${!CLIENT_NAME[@]}"; do
    stop_server "${CLIENT_NAME[$target]}"
    stop_server "${SERVER_NAME[$target]}"
  done
}

# "CONNECTIONS HANDSHAKES RESUMED" of the target's server side, or "- - -" when unreadable.
server_counters() { # TARGET
  # shellcheck disable=SC2086  # STATS_ARGS holds two words on purpose
  python3 "$BENCH_DIR/lib/proxy_stats.py" ${STATS_ARGS[$1]} 2>/dev/null || echo "- - -"
}

run_once() { # MODE REP CONNS TARGET
  local mode=$1 rep=$2 conns=$3 target=$4
  local out="$WORK/runs/$mode-rep$rep-c$conns-$target.txt"
  local client_pid="" server_pid="" cc0="" cc1="" sc0="" sc1="" st0="- - -" st1="- - -" rc=0
  if [ "$target" != direct ]; then
    client_pid=${SERVER_PIDS[${CLIENT_NAME[$target]}]}
    server_pid=${SERVER_PIDS[${SERVER_NAME[$target]}]}
    if ! is_running "$client_pid" || ! is_running "$server_pid"; then
      log "$target ($mode) exited during the benchmark; skipping it from now on"
      show_log_tail "${CLIENT_NAME[$target]}"
      show_log_tail "${SERVER_NAME[$target]}"
      record_target "$mode" "$target" status died
      unset "URLS[$target]"
      return 0
    fi
    st0=$(server_counters "$target")
    cc0=$(cpu_seconds "$client_pid")
    sc0=$(cpu_seconds "$server_pid")
  fi
  start_wrk "$conns" "$DURATION" "${URLS[$target]}" "$out"
  finish_wrk || rc=$?
  if [ "$target" != direct ]; then
    cc1=$(cpu_seconds "$client_pid")
    sc1=$(cpu_seconds "$server_pid")
    st1=$(server_counters "$target")
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$rep" "$conns" "$target" \
    "$cc0" "$cc1" "$sc0" "$sc1" "$st0" "$st1" "$rc" "$out" >>"$WORK/runs.tsv"
  local rps
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  log "$mode rep $rep/$REPS conns $conns $target: ${rps:-no result (exit $rc)} req/s"
}

log "work dir $WORK; servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU; modes ${MODES[*]};" \
    "$REPS repetition(s) x ${DURATION}s x conns ${CONNECTION_COUNTS[*]}"
mkdir -p "$RESULTS_DIR"
stamp=$(date -u +%Y%m%dT%H%M%SZ)

for mode in "${MODES[@]}"; do
  start_mode_targets "$mode"
  for target in "${TARGET_ORDER[@]}"; do
    if [ -z "${URLS[$target]:-}" ] || [ "$WARMUP_SECONDS" = 0 ]; then continue; fi
    start_wrk "${CONNECTION_COUNTS[-1]}" "$WARMUP_SECONDS" "${URLS[$target]}" /dev/null
    finish_wrk || true
  done
  for rep in $(seq 1 "$REPS"); do
    for conns in "${CONNECTION_COUNTS[@]}"; do
      for target in "${TARGET_ORDER[@]}"; do
        [ -n "${URLS[$target]:-}" ] || continue
        run_once "$mode" "$rep" "$conns" "$target"
      done
    done
  done
  stop_mode_targets
done

{
  write_common_meta
  printf 'wrk_version\t%s\n' "$(wrk -v 2>&1 | awk 'NR == 1 {print $2}')"
  printf 'openssl_version\t%s\n' "$(openssl version | awk '{print $2}')"
  printf 'reps\t%s\n' "$REPS"
  printf 'duration_s\t%s\n' "$DURATION"
  printf 'conns\t%s\n' "${CONNECTION_COUNTS[*]}"
  printf 'modes\t%s\n' "${MODES[*]}"
  printf 'server_cpu\t%s\n' "$SERVER_CPU"
  printf 'client_cpu\t%s\n' "$CLIENT_CPU"
  printf 'quick\t%s\n' "$QUICK"
} >"$WORK/meta.tsv"

suffix=-mtls
[ "$QUICK" = 1 ] && suffix="$suffix-quick"
json="$RESULTS_DIR/$stamp$suffix.json"
python3 "$BENCH_DIR/lib/mtls_report.py" --workdir "$WORK" --json "$json"
log "full results: $json"
