# shellcheck shell=bash
# The parts every wrk benchmark script shares (bench/run.sh, bench/mtls.sh): settings from the
# environment, tool checks, CPU pinning, starting and stopping servers by PID with cleanup on
# every exit path, and running wrk pinned to the client CPU. Sourced after BENCH_DIR is set.
#
# Globals a sourcing script reads: BUILD_DIR, QUICK, REPS, DURATION, RESULTS_DIR, SERVER_CPU,
# CLIENT_CPU, WORK (after harness_start), SERVER_PIDS (name -> PID of every server started),
# READY_H2C, PASS (h1, h2, grpc: what start_wrk runs), STARTUP_TIMEOUT_SECONDS.

proc() { python3 "$BENCH_DIR/lib/proc.py" "$@"; }
log() { echo "bench: $*" >&2; }

# Sets BUILD_DIR from the first argument (default: build), made absolute: relative to the
# caller's directory when it exists there, else to the repository (make's cwd).
resolve_build_dir() { # [BUILD_DIR]
  BUILD_DIR=${1:-build}
  if [[ $BUILD_DIR != /* ]]; then
    if [ -d "$BUILD_DIR" ]; then
      BUILD_DIR="$PWD/$BUILD_DIR"
    else
      BUILD_DIR="$(dirname "$BENCH_DIR")/$BUILD_DIR"
    fi
  fi
}

# Sets QUICK, REPS, DURATION and RESULTS_DIR from BENCH_QUICK, BENCH_REPS, BENCH_DURATION and
# BENCH_RESULTS_DIR. BENCH_QUICK=1 is one repetition of 2 s: a smoke test of the harness.
read_run_settings() {
  QUICK=${BENCH_QUICK:-0}
  if [ "$QUICK" = 1 ]; then
    REPS=1
    DURATION=2
  else
    REPS=${BENCH_REPS:-3}
    DURATION=${BENCH_DURATION:-5}
    DURATION=${DURATION%s}  # accept "5" and "5s"
  fi
  local value
  for value in "$REPS" "$DURATION"; do
    if ! [[ $value =~ ^[1-9][0-9]*$ ]]; then
      echo "bench: BENCH_REPS and BENCH_DURATION must be positive integers" >&2
      exit 2
    fi
  done
  # shellcheck disable=SC2034  # read by the sourcing script
  RESULTS_DIR=${BENCH_RESULTS_DIR:-$BENCH_DIR/results}
}

# Exits with the list of missing tools. Each argument is TOOL:DEBIAN_PACKAGE.
check_tools() { # TOOL:PACKAGE...
  local missing=() entry tool
  for entry in "$@"; do
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

# Sets SERVER_CPU (servers) and CLIENT_CPU (wrk): BENCH_SERVER_CPU / BENCH_CLIENT_CPU, else the
# first two CPUs this process may run on.
pick_cpus() {
  local allowed
  read -r -a allowed <<<"$(proc cpus)"
  SERVER_CPU=${BENCH_SERVER_CPU:-${allowed[0]}}
  CLIENT_CPU=${BENCH_CLIENT_CPU:-${allowed[1]:-}}
  if [ -z "$CLIENT_CPU" ] || [ "$CLIENT_CPU" = "$SERVER_CPU" ]; then
    log "needs two CPUs: servers on one, wrk on another (allowed: ${allowed[*]})"
    exit 2
  fi
}

# ---- process lifecycle ------------------------------------------------------------------------

declare -A SERVER_PIDS=()  # name -> PID of every server we started (upstream included)
WRK_PID=""                 # the wrk run in progress, if any
READY_H2C=0
STARTUP_TIMEOUT_SECONDS=10

# Makes the temp work dir (WORK, with logs/ and runs/) and installs the traps that stop every
# server we started on any exit. PREFIX names the dir: /tmp/PREFIX.XXXXXX.
harness_start() { # PREFIX
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  # nginx workers drop to an unprivileged user when started as root; let them reach their paths.
  chmod 755 "$WORK"
  mkdir -p "$WORK/logs" "$WORK/runs"
  trap cleanup EXIT
  trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR
  trap 'log "interrupted"; exit 130' INT
  trap 'log "terminated"; exit 143' TERM
}

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

# Stops the server NAME and forgets it.
stop_server() { # NAME
  [ -n "${SERVER_PIDS[$1]:-}" ] || return 0
  stop_pid "${SERVER_PIDS[$1]}"
  unset "SERVER_PIDS[$1]"
}

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

# A server's stdout/stderr is in logs/NAME.log; nginx also writes logs/NAME-error.log.
show_log_tail() { # NAME
  tail -n 20 "$WORK/logs/$1.log" "$WORK/logs/$1-error.log" 2>/dev/null | sed 's/^/  /' >&2
}

last_log_line() { # NAME
  grep -v '^[[:space:]]*$' "$WORK/logs/$1.log" | tail -n 1 | tr '\t' ' '
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
# READY_H2C=1). URL "-" skips the wait (a server that cannot answer alone, such as the back half
# of a proxy pair: the caller checks it through the front half).
start_server() { # NAME URL COMMAND...
  local name=$1 url=$2
  shift 2
  taskset -c "$SERVER_CPU" "$@" >"$WORK/logs/$name.log" 2>&1 &
  local pid=$!  # taskset execs the command, so this is the server's own PID
  SERVER_PIDS[$name]=$pid
  if [ "$url" = - ]; then
    return 0
  elif [ "$READY_H2C" = 1 ]; then
    wait_h2c "$url" "$STARTUP_TIMEOUT_SECONDS" "$pid" && return 0
  elif proc wait-http "$url" "$STARTUP_TIMEOUT_SECONDS" "$pid"; then
    return 0
  fi
  log "$name failed to start; the end of its output:"
  show_log_tail "$name"
  stop_server "$name"
  return 1
}

# ---- load -------------------------------------------------------------------------------------

# Starts the load generator in the background, pinned to the client CPU, and sets WRK_PID. In the
# background because wrk catches SIGINT and exits normally, so bash would not run our INT trap
# while waiting for it in the foreground; the `wait` builtin instead returns as soon as a trapped
# signal arrives. `timeout` only matters if the client hangs; cleanup's SIGTERM reaches it.
# LOAD is a connection count for wrk (PASS h1), CLIENTSxSTREAMS for h2load (h2, grpc).
start_wrk() { # LOAD SECONDS URL OUTPUT_FILE
  local load=$1 seconds=$2 url=$3 out=$4
  case ${PASS:-h1} in
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
      printf '\0\0\0\0\0' >"$WORK/grpc-request.bin"
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

cpu_seconds() { # PID
  local cpu rest
  read -r cpu rest <<<"$(proc sample "$1")"
  echo "$cpu"
}

# The `date`, machine and version lines of meta.tsv that every report starts with.
write_common_meta() {
  printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf 'host\t%s\n' "$(hostname)"
  printf 'kernel\t%s\n' "$(uname -r)"
  printf 'cpu_model\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  printf 'cpus\t%s\n' "$(nproc --all)"
  printf 'weft_version\t%s\n' "$(git -C "$(dirname "$BENCH_DIR")" rev-parse --short HEAD \
    2>/dev/null || echo unknown)"
  printf 'nginx_version\t%s\n' "$(nginx -v 2>&1 | sed 's|.*nginx/||')"
  printf 'haproxy_version\t%s\n' "$(haproxy -v | awk 'NR == 1 {print $3}')"
}
