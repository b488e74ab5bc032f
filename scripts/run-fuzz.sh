#!/usr/bin/env bash
# Builds a libFuzzer target with clang in its own build directory and runs it for a bounded time.
# Exits non-zero when the fuzzer finds a crash, a sanitizer report or a broken invariant; the
# input that did it is left in <build>/artifacts/.
#
# Usage: scripts/run-fuzz.sh [SECONDS=60] [TARGET=http1_parser_fuzz]
#   WEFT_FUZZ_BUILD_DIR  build directory (default: build-fuzz at the repository root)
#   WEFT_FUZZ_JOBS       ninja parallelism (default 2)
# Re-run a saved input: <build>/bin/<target> <build>/artifacts/crash-...
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
target=${2:-http1_parser_fuzz}
build=${WEFT_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${WEFT_FUZZ_JOBS:-2}

case $seconds in
  ''|*[!0-9]*) echo "usage: $0 [seconds] [target]" >&2; exit 2 ;;
esac

case $target in
  http1_parser_fuzz) seeds=$root/tests/fuzz/corpus/http1; dict=$root/tests/fuzz/http1.dict ;;
  client_hello_fuzz) seeds=$root/tests/fuzz/corpus/client_hello; dict=$root/tests/fuzz/client_hello.dict ;;
  mx_frame_fuzz) seeds=$root/tests/fuzz/corpus/mx_frame; dict=$root/tests/fuzz/mx_frame.dict ;;
  *) echo "unknown fuzz target: $target" >&2; exit 2 ;;
esac

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$root/tests/fuzz" -B "$build" "${generator[@]}" \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target "$target" -j "$jobs"

# New interesting inputs go to a working corpus in the build directory; the checked-in seeds are
# only read.
corpus=$build/corpus/$target
artifacts=$build/artifacts/
mkdir -p "$corpus" "$artifacts"

echo "fuzzing $target for ${seconds}s (log: $build/$target.log)"
# libFuzzer reports every coverage step; keep that in a log and show the end, or all of it on a
# crash, so the test output stays readable.
if ! "$build/bin/$target" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
  -dict="$dict" -artifact_prefix="$artifacts" -print_final_stats=1 \
  "$corpus" "$seeds" > "$build/$target.log" 2>&1; then
  tail -n 60 "$build/$target.log"
  echo "FUZZER FOUND A PROBLEM: see $build/$target.log and $artifacts" >&2
  exit 1
fi
grep -E "^stat::number_of_executed_units|^Done" "$build/$target.log" || true
echo "no crash in ${seconds}s"
