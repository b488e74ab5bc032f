#!/usr/bin/env bash
# Instructions per request of a keep-alive weft-proxy pair, plaintext and mTLS, counted exactly by
# callgrind: the same pairs as bench/mtls.sh (wrk's place taken by `h2load --h1 -c 1`), each proxy
# under valgrind --tool=callgrind. Counts are zeroed after a warm-up and dumped after N requests,
# so startup, config loading and the handshake are not in them. Unlike CPU time on this shared
# machine, the numbers repeat to the instruction from run to run, so a change of a few hundred
# instructions per request shows (bench/mtls.sh cannot see one below ~10%).
#
# usage: bench/mtls_callgrind.sh [BUILD_DIR]   (weft-proxy is BUILD_DIR/bin/weft-proxy)
# env:   CALLGRIND_REQUESTS=2000               requests counted per pair
#        BENCH_KEEP_WORKDIR=1                  keep the callgrind.out files (callgrind_annotate)
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"  # nginx lives in sbin on Debian

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/configs.sh
source "$BENCH_DIR/lib/configs.sh"
# shellcheck source-path=SCRIPTDIR source=lib/harness.sh
source "$BENCH_DIR/lib/harness.sh"

resolve_build_dir "${1:-}"
WEFT_BIN="$BUILD_DIR/bin/weft-proxy"
REQUESTS=${CALLGRIND_REQUESTS:-2000}
check_tools valgrind:valgrind callgrind_control:valgrind h2load:nghttp2-client \
  nginx:nginx-light openssl:openssl python3:python3
[ -x "$WEFT_BIN" ] || { log "$WEFT_BIN missing"; exit 1; }
pick_cpus
STARTUP_TIMEOUT_SECONDS=60  # a proxy under valgrind takes ~10 s to start on a busy machine
harness_start weft-bench-callgrind
PKI=$(write_mtls_certs "$WORK")

read -r UPSTREAM_PORT UPSTREAM_H2C_PORT <<<"$(proc free-ports 2)"
start_server upstream "http://127.0.0.1:$UPSTREAM_PORT/" nginx -p "$WORK" \
  -e "$WORK/logs/upstream-error.log" -c "$(write_upstream_config "$WORK" "$UPSTREAM_PORT" \
  "$UPSTREAM_H2C_PORT")"

# Sum of the "totals:" lines of PID's dumps (one per thread part) written since the last zeroing.
instructions() { # PID
  local total=0 n f
  for f in "$WORK/callgrind.$1".*; do
    n=$(awk '/^totals:/ {print $2; exit}' "$f")
    total=$((total + ${n:-0}))
  done
  echo "$total"
}

echo "| pair | client instructions/request | server instructions/request | pair |"
echo "|---|---:|---:|---:|"
for tls in 0 1; do
  name=plaintext
  [ "$tls" = 1 ] && name=mTLS
  read -r cport sport cadmin sadmin <<<"$(proc free-ports 4)"
  conf_c=$(write_weft_mtls_client_config "$WORK" "cg$tls-client" "$cport" "$sport" "$cadmin" \
    "$tls" keepalive "$PKI")
  conf_s=$(write_weft_mtls_server_config "$WORK" "cg$tls-server" "$sport" "$UPSTREAM_PORT" \
    "$sadmin" "$tls" "$PKI")
  for side in server client; do
    conf=$conf_s url=-
    [ "$side" = client ] && conf=$conf_c url="http://127.0.0.1:$cport/"
    start_server "cg$tls-$side" "$url" valgrind --tool=callgrind \
      "--callgrind-out-file=$WORK/callgrind.%p" "$WEFT_BIN" -c "$conf" --concurrency 1 -l warning
  done
  client_pid=${SERVER_PIDS[cg$tls-client]}
  server_pid=${SERVER_PIDS[cg$tls-server]}
  h2load --h1 -n 200 -c 1 "http://127.0.0.1:$cport/" >/dev/null  # warm-up (and the handshake)
  callgrind_control -z "$client_pid" >/dev/null 2>&1
  callgrind_control -z "$server_pid" >/dev/null 2>&1
  rm -f "$WORK/callgrind.$client_pid".* "$WORK/callgrind.$server_pid".*
  if ! h2load --h1 -n "$REQUESTS" -c 1 "http://127.0.0.1:$cport/" |
    grep -q "$REQUESTS succeeded"; then
    log "$name: not every request succeeded"
    exit 1
  fi
  callgrind_control -d "$client_pid" >/dev/null 2>&1
  callgrind_control -d "$server_pid" >/dev/null 2>&1
  for _ in $(seq 100); do  # the dumps are written when each process next runs
    compgen -G "$WORK/callgrind.$client_pid.*" >/dev/null &&
      compgen -G "$WORK/callgrind.$server_pid.*" >/dev/null && break
    sleep 0.1
  done
  sleep 0.5
  c=$(($(instructions "$client_pid") / REQUESTS))
  s=$(($(instructions "$server_pid") / REQUESTS))
  echo "| $name | $c | $s | $((c + s)) |"
  stop_server "cg$tls-client"
  stop_server "cg$tls-server"
done
