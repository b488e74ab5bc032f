#!/usr/bin/env bash
# Smoke test of the benchmark harness (not of performance): runs bench/run.sh with BENCH_QUICK=1,
# its JSON going to a temp dir, and checks that direct, nginx and HAProxy were measured at every
# connection count without errors, that CPU and memory were sampled, and that weft-proxy was
# measured when BUILD_DIR/bin/weft-proxy exists and reported "not built" when it does not.
# Then the control-plane load test at a small scale (bench/control_plane.sh: 10 proxies, 20
# services, Delta and SotW), checking every proxy received every change, when weftd and
# weft-xds-load are built. Last the mTLS pair benchmark (bench/mtls.sh, BENCH_QUICK=1, about a
# minute), checking each pair was measured and that connection-per-request mode did one
# connection and one handshake per request.
#
# usage: bench/smoke_test.sh [BUILD_DIR]     exit status 0 = harness works
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD_DIR=${1:-build}

out=$(mktemp -d /tmp/weft-bench-smoke.XXXXXX)
trap 'rm -rf "$out"' EXIT

BENCH_QUICK=1 BENCH_RESULTS_DIR="$out" "$BENCH_DIR/run.sh" "$BUILD_DIR" >"$out/summary.md"

python3 - "$out" <<'PY'
import glob, json, sys

out = sys.argv[1]
files = glob.glob(f"{out}/*-quick.json")
assert len(files) == 1, f"expected one quick result, found {files}"
result = json.load(open(files[0]))
summary_md = open(f"{out}/summary.md").read()
problems = []

weft_status = result["targets"]["weft"]["status"]
expected = ["direct", "nginx", "haproxy"] + (["weft"] if weft_status != "not built" else [])
for target in expected:
    status = result["targets"][target]["status"]
    if status != "ok":
        problems.append(f"{target}: status {status!r}")
        continue
    for conns in result["settings"]["conns"]:
        row = result["summary"].get(target, {}).get(str(conns))
        if row is None:
            problems.append(f"{target} at {conns} conns: no result")
            continue
        if row["errors"] or row["failed_runs"]:
            problems.append(f"{target} at {conns} conns: {row['errors']} errors, "
                            f"{row['failed_runs']} failed runs")
        if row["rps"]["median"] <= 0 or row["p50_us"]["median"] <= 0:
            problems.append(f"{target} at {conns} conns: no throughput or latency")
        if target != "direct":
            if "cpu_us_per_request" not in row or "added_p50_us" not in row:
                problems.append(f"{target} at {conns} conns: CPU or added latency missing")
    if target != "direct" and not result["targets"][target].get("idle_rss_kb", 0) > 0:
        problems.append(f"{target}: idle RSS missing")

if "| conns | target | requests/s" not in summary_md:
    problems.append("markdown summary table missing from stdout")

if problems:
    print("bench smoke test FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"bench smoke test passed ({', '.join(expected)}; weft-proxy: {weft_status})")
PY

# The control-plane load test, small: every proxy must see every change, with Delta sending
# less than SotW's full state would.
if [[ -x "$BUILD_DIR/bin/weftd" && -x "$BUILD_DIR/bin/weft-xds-load" ]]; then
  CP_PROXIES=10 CP_SERVICES=20 CP_ENDPOINTS=3 CP_ROUNDS=2 BENCH_RESULTS_DIR="$out/cp" \
    timeout 60 "$BENCH_DIR/control_plane.sh" "$BUILD_DIR" >"$out/cp-summary.md"
  python3 - "$out/cp" <<'PY'
import glob, json, sys

files = glob.glob(f"{sys.argv[1]}/control-plane-*.json")
assert len(files) == 1, f"expected one control-plane result, found {files}"
result = json.load(open(files[0]))
problems = []
for mode in ("delta", "sotw"):
    run = result["runs"].get(mode)
    if run is None:
        problems.append(f"{mode}: not run")
        continue
    if run["sync"]["synced"] != 10:
        problems.append(f"{mode}: {run['sync']['synced']}/10 proxies synced")
    change = run["endpoint_change"]
    if not change["complete"] or change["apply_to_ack_ms"]["n"] != 10 * change["rounds"]:
        problems.append(f"{mode}: endpoint changes not seen by every proxy: {change['streams_seen']}")
    if not run["virtual_service_change"]["complete"]:
        problems.append(f"{mode}: VirtualService change not seen by every proxy")
    if not 0 < change["bytes_per_stream"]["max"] < 4096:
        problems.append(f"{mode}: {change['bytes_per_stream']['max']} bytes for one endpoint change")
if result["weftd"]["peak_rss_kb"] <= 0:
    problems.append("weftd RSS not sampled")
if problems:
    print("control-plane smoke test FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(1)
print("control-plane smoke test passed (delta, sotw)")
PY
else
  echo "control-plane smoke test skipped: weftd or weft-xds-load not built"
fi

# The mTLS pair benchmark (bench/mtls.sh), quick: every pair measured in both modes without
# errors, and the new-connection mode really opening one connection (and, with mTLS, doing one
# TLS handshake) per request on the server side, while keep-alive reuses its connections.
BENCH_QUICK=1 BENCH_RESULTS_DIR="$out/mtls" timeout 120 "$BENCH_DIR/mtls.sh" "$BUILD_DIR" \
  >"$out/mtls-summary.md"
python3 - "$out/mtls" <<'PY'
import glob, json, sys

files = glob.glob(f"{sys.argv[1]}/*-mtls-quick.json")
assert len(files) == 1, f"expected one mTLS result, found {files}"
result = json.load(open(files[0]))
problems = []
for mode in result["settings"]["modes"]:
    statuses = result["targets"].get(mode, {})
    expected = ["direct", "haproxy", "haproxy-mtls"]
    if mode == "newconn":
        expected.append("haproxy-mtls-full")
    if statuses.get("weft", {}).get("status") != "not built":
        expected += ["weft", "weft-mtls"]
    for target in expected:
        status = statuses.get(target, {}).get("status")
        if status != "ok":
            problems.append(f"{mode} {target}: status {status!r}")
            continue
        for conns in result["settings"]["conns"]:
            row = result["summary"].get(mode, {}).get(target, {}).get(str(conns))
            if row is None:
                problems.append(f"{mode} {target} at {conns} conns: no result")
                continue
            if row["errors"] or row["failed_runs"]:
                problems.append(f"{mode} {target} at {conns} conns: {row['errors']} errors")
            if target == "direct":
                continue
            if "pair_cpu_us_per_request" not in row:
                problems.append(f"{mode} {target}: CPU per request missing")
            per_request = row.get("server_connections_per_request", {}).get("median")
            if per_request is None:
                problems.append(f"{mode} {target}: server connections not counted")
            elif mode == "newconn" and per_request < 0.9:
                problems.append(f"{mode} {target}: {per_request:.2f} connections per request")
            elif mode == "keepalive" and per_request > 0.1:
                problems.append(f"{mode} {target}: {per_request:.2f} connections per request")
            if mode == "newconn" and "-mtls" in target:
                handshakes = row.get("handshakes_per_request", {}).get("median") or 0
                if handshakes < 0.9:
                    problems.append(f"{mode} {target}: {handshakes:.2f} handshakes per request")
if problems:
    print("mTLS bench smoke test FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(1)
print("mTLS bench smoke test passed")
PY
