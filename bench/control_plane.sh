#!/usr/bin/env bash
# The control-plane load test: one weftd, N simulated proxies (weft-xds-load, real ADS streams
# that ACK like weft-proxy), M ServiceEntries with K endpoints each; R rounds of one endpoint
# change plus one VirtualService change, for Delta and SotW. Measures apply-to-ACK per proxy,
# bytes pushed per proxy, weftd's RSS and CPU. See bench/README.md and docs/performance.md.
#
# usage: bench/control_plane.sh [BUILD_DIR]
#   CP_PROXIES (1000) CP_SERVICES (1000) CP_ENDPOINTS (10) CP_ROUNDS (10) CP_MODES (delta,sotw)
#   BENCH_RESULTS_DIR (bench/results): where control-plane-<date>.md and .json go
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD_DIR=${1:-build}
for bin in weftd weft-xds-load; do
  if [[ ! -x "$BUILD_DIR/bin/$bin" ]]; then
    echo "not built: $BUILD_DIR/bin/$bin (cmake --build $BUILD_DIR --target weftd weft-xds-load)" >&2
    exit 2
  fi
done
# 1000 streams are 1000 sockets in each process.
ulimit -n 8192 2>/dev/null || true
exec python3 "$BENCH_DIR/lib/control_plane.py" --build-dir "$BUILD_DIR" \
  --proxies "${CP_PROXIES:-1000}" --services "${CP_SERVICES:-1000}" \
  --endpoints "${CP_ENDPOINTS:-10}" --rounds "${CP_ROUNDS:-10}" --modes "${CP_MODES:-delta,sotw}" \
  --out-dir "${BENCH_RESULTS_DIR:-$BENCH_DIR/results}"
