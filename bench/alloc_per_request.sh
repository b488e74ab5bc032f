#!/usr/bin/env bash
# Heap allocations per proxied request, counted exactly: weft-proxy (one worker) runs under the
# malloc-counting LD_PRELOAD shim (bench/micro/alloc_count.c) in front of the bench's nginx
# upstream; h2load drives N requests per load after a warm-up, and the difference between the
# shim's counts before and after, divided by N, is printed per protocol and load. Unlike CPU time
# on a shared machine this number does not drift between runs (within ~0.1), so a change to the
# request path can be judged by it alone.
#
# usage: bench/alloc_per_request.sh [BUILD_DIR]     (default: build)
# env:   ALLOC_REQUESTS=20000     requests per measured load
#        ALLOC_PROTOCOLS=h1,h2    h1 = HTTP/1.1 both sides (h2load --h1);
#                                 h2 = h2c downstream (codec_type AUTO), HTTP/2 upstream
#        ALLOC_CALLERS=100        also sample the call stack of every 100th allocation and print
#                                 the commonest weft-proxy callers (needs addr2line)
#
# Loads: HTTP/1.1 -c1 and -c4 (one request in flight per connection); HTTP/2 -c1 -m1 and
# -c4 -m10. Needs nginx and h2load (Debian: nginx-light, nghttp2-client).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/configs.sh
source "$BENCH_DIR/lib/configs.sh"

BUILD_DIR=$(cd "${1:-build}" && pwd)
WEFT_BIN="$BUILD_DIR/bin/weft-proxy"
SHIM="$BUILD_DIR/lib/libweft_alloc_count.so"
REQUESTS=${ALLOC_REQUESTS:-20000}
WARMUP_REQUESTS=2000
IFS=', ' read -r -a PROTOCOLS <<<"${ALLOC_PROTOCOLS:-h1,h2}"
SAMPLE_EVERY=${ALLOC_CALLERS:-0}
for f in "$WEFT_BIN" "$SHIM"; do
  [ -e "$f" ] || {
    echo "alloc: $f missing; build with: cmake --build $BUILD_DIR --target weft-proxy weft_alloc_count" >&2
    exit 2
  }
done

proc() { python3 "$BENCH_DIR/lib/proc.py" "$@"; }

WORK=$(mktemp -d /tmp/weft-alloc.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/logs"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

read -r UPSTREAM_PORT UPSTREAM_H2C_PORT WEFT_PORT WEFT_ADMIN_PORT <<<"$(proc free-ports 4)"
upstream_conf=$(write_upstream_config "$WORK" "$UPSTREAM_PORT" "$UPSTREAM_H2C_PORT")
nginx -p "$WORK" -e "$WORK/logs/upstream-error.log" -c "$upstream_conf" >"$WORK/logs/upstream.log" 2>&1 &
PIDS+=($!)
proc wait-http "http://127.0.0.1:$UPSTREAM_PORT/" 10 "$!"

COUNTS="$WORK/counts"
# Asks the shim in PID for its totals and prints "allocs reallocs frees bytes".
snapshot() { # PID
  local before after
  before=$(grep -c '^alloc_count:' "$COUNTS" 2>/dev/null || true)
  kill -USR2 "$1"
  for _ in $(seq 50); do
    after=$(grep -c '^alloc_count:' "$COUNTS" 2>/dev/null || true)
    [ "${after:-0}" -gt "${before:-0}" ] && break
    sleep 0.1
  done
  grep '^alloc_count:' "$COUNTS" | tail -n 1 |
    sed -E 's/.* allocs=([0-9]+) reallocs=([0-9]+) frees=([0-9]+) bytes=([0-9]+)/\1 \2 \3 \4/'
}

# Runs h2load and fails unless every request got a 2xx.
drive() { # N H2LOAD_ARGS...
  local n=$1 out
  shift
  out=$(h2load -n "$n" "$@" "http://127.0.0.1:$WEFT_PORT/" 2>&1)
  if ! grep -Eq "^requests: $n total, $n started, $n done, $n succeeded" <<<"$out" ||
    ! grep -Eq "^status codes: $n 2xx" <<<"$out"; then
    echo "alloc: h2load $* did not get $n 2xx answers:" >&2
    echo "$out" | sed 's/^/  /' >&2
    exit 1
  fi
}

printf '| protocol | load | requests | allocations/request | frees/request | bytes allocated/request |\n'
printf '|---|---|---:|---:|---:|---:|\n'

for protocol in "${PROTOCOLS[@]}"; do
  case $protocol in
    h1)
      conf=$(write_weft_config "$WORK" "$WEFT_PORT" "$UPSTREAM_PORT" "$WEFT_ADMIN_PORT")
      loads=("-c1:--h1 -c1 -m1" "-c4:--h1 -c4 -m1")
      ;;
    h2)
      conf=$(write_weft_h2_config "$WORK" "$WEFT_PORT" "$UPSTREAM_H2C_PORT" "$WEFT_ADMIN_PORT")
      loads=("-c1 -m1:-c1 -m1" "-c4 -m10:-c4 -m10")
      ;;
    *)
      echo "alloc: ALLOC_PROTOCOLS takes h1 and h2, not '$protocol'" >&2
      exit 2
      ;;
  esac
  : >"$COUNTS"
  ALLOC_COUNT_OUTPUT="$COUNTS" ALLOC_COUNT_SAMPLE="$SAMPLE_EVERY" LD_PRELOAD="$SHIM" \
    "$WEFT_BIN" -c "$conf" --concurrency 1 -l warning >"$WORK/logs/weft-$protocol.log" 2>&1 &
  weft_pid=$!
  PIDS+=("$weft_pid")
  proc wait-http "http://127.0.0.1:$WEFT_PORT/" 10 "$weft_pid" || {
    echo "alloc: weft-proxy did not start:" >&2
    cat "$WORK/logs/weft-$protocol.log" >&2
    exit 1
  }
  for load in "${loads[@]}"; do
    label=${load%%:*}
    read -r -a args <<<"${load#*:}"
    drive "$WARMUP_REQUESTS" "${args[@]}"  # connections, pools and caches reach steady state
    read -r a0 r0 f0 b0 <<<"$(snapshot "$weft_pid")"
    drive "$REQUESTS" "${args[@]}"
    read -r a1 r1 f1 b1 <<<"$(snapshot "$weft_pid")"
    awk -v p="$protocol" -v l="$label" -v n="$REQUESTS" -v a=$((a1 - a0)) -v r=$((r1 - r0)) \
      -v f=$((f1 - f0)) -v b=$((b1 - b0)) \
      'BEGIN { printf "| %s | %s | %d | %.2f | %.2f | %.0f |\n", p, l, n, a / n, f / n, b / n }'
    if [ "$SAMPLE_EVERY" != 0 ]; then
      python3 "$BENCH_DIR/lib/alloc_callers.py" "$COUNTS.stacks" "$WEFT_BIN" \
        "$protocol $label" >>"$WORK/callers.txt"
      : >"$COUNTS.stacks"  # the next load's stacks start after its first snapshot
    fi
  done
  kill -TERM "$weft_pid"
  wait "$weft_pid" 2>/dev/null || true
done

if [ "$SAMPLE_EVERY" != 0 ]; then
  echo
  cat "$WORK/callers.txt"
fi
