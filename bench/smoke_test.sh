#!/usr/bin/env bash
# Smoke test of the benchmark harness (not of performance): runs bench/run.sh with BENCH_QUICK=1,
# its JSON going to a temp dir, and checks that direct, nginx and HAProxy were measured at every
# connection count without errors, that CPU and memory were sampled, and that weft-proxy was
# measured when BUILD_DIR/bin/weft-proxy exists and reported "not built" when it does not.
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
